"""[rig] is validated where it is read: one device per observation key, one source per
RealSense, a tactile sensor model that exists; mistakes name the key path."""

from __future__ import annotations

from typing import Any

import pytest

from launch.config import ConfigError
from launch.launch_file import launch_from_data

ARM = {"port": "/dev/ttyUSB0", "calibration": "arm.json"}


def rig(**cameras: dict[str, Any]) -> dict[str, Any]:
    return {"task": {"name": "lift"}, "rig": {"arm": dict(ARM), "cameras": cameras}}


def test_a_sound_rig_maps_each_key_to_its_camera() -> None:
    launch = launch_from_data(
        rig(scene={"type": "realsense", "depth": "depth.scene"},
            pad={"type": "tactile", "sensor": "digit", "device": 0, "key": "tactile.left"}),
        "x.toml",
    )  # fmt: skip
    assert launch.config.rig is not None
    assert launch.config.rig.camera_keys() == {"rgb.scene": "scene", "depth.scene": "scene",
                                               "tactile.left": "pad"}  # fmt: skip
    assert launch.config.rig.arm.rate_hz == 100.0


@pytest.mark.parametrize(
    ("cameras", "says"),
    [
        ({"a": {"type": "realsense"}, "b": {"type": "realsense", "serial": "1"}},
         "cameras 'a' and 'b' both give 'rgb.scene'"),
        ({"a": {"type": "realsense", "serial": "1", "recording": "x.db3"}},
         "rig.cameras.a.realsense: Value error, give serial (a live camera) or recording"),
        ({"a": {"type": "realsense", "colour": None}}, "name the observation of colour, depth"),
        ({"a": {"type": "tactile", "sensor": "gelsight_max", "device": 0, "key": "tactile.left"}},
         "unknown tactile sensor 'gelsight_max'"),
        ({"a": {"type": "lidar"}}, "rig.cameras.a"),
    ],
)  # fmt: skip
def test_mistakes_are_refused_naming_the_key_path(cameras: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as err:
        launch_from_data(rig(**cameras), "x.toml")
    assert says in str(err.value), err.value


def test_the_arm_needs_its_port_and_calibration() -> None:
    data = rig()
    del data["rig"]["arm"]["port"]
    with pytest.raises(ConfigError, match=r"rig\.arm\.port"):
        launch_from_data(data, "x.toml")
