"""What a real rig's launch file asks is checked against the task's twin before any device
opens: every camera stream lands on an observation the twin has, in a layout it can take;
the shipped template gives every input its own policy reads."""

from __future__ import annotations

import pytest

from launch.config import DEFAULT_LAUNCH_FILE, ConfigError
from launch.jobs import task_schema
from launch.launch_file import launch_from_data, load_launch
from launch.rig_assembly import check_real_rig

TEMPLATE = DEFAULT_LAUNCH_FILE.parent / "real_rig_template.toml"
ARM = {"port": "/dev/ttyUSB0", "calibration": "arm.json"}


def test_the_template_rig_gives_every_input_its_policy_is_trained_on() -> None:
    launch = load_launch(TEMPLATE)
    assert launch.config.rig is not None
    twin = task_schema(launch.config.task.name, launch.task_config)
    given = check_real_rig(launch.config.rig, launch.config.run, twin, str(TEMPLATE))
    assert set(launch.config.train.obs_keys or []) <= set(given)
    assert {"rgb.scene", "tactile.left", "tactile.right", "proprio.joints"} <= set(given)
    assert given["rgb.scene"] == twin.observations["rgb.scene"]  # the twin's layout


@pytest.mark.parametrize(
    ("cameras", "run", "says"),
    [
        ({"s": {"type": "realsense", "colour": "rgb.top"}}, {},
         "rig.cameras.s: the task's twin has no observation 'rgb.top'"),
        ({"s": {"type": "realsense", "colour": "proprio.joints"}}, {},
         "'proprio.joints' is (6,) float32 in the twin; a realsense stream gives a colour"),
        ({"s": {"type": "realsense", "colour": None, "depth": "rgb.scene"}}, {},
         "a realsense stream gives a depth image"),
        ({"s": {"type": "realsense"}}, {"streams": {"rgb.scene": {"latency_ms": 30}}},
         "run.streams.rgb.scene: latency_ms model the sim twin's devices"),
        ({"s": {"type": "realsense"}}, {"streams": {"rgb.wrist": {"max_age_ms": 30}}},
         "run.streams: no device gives 'rgb.wrist'"),
        ({"s": {"type": "realsense"}}, {"inject": {"stop_stream": "rgb.scene"}},
         "run.inject.stop_stream: a stopping device is a fault of the sim twin"),
    ],
)  # fmt: skip
def test_what_the_twin_cannot_take_is_refused(
    cameras: dict[str, object], run: dict[str, object], says: str
) -> None:
    data = {"task": {"name": "lift", "params": {"image_size": 32}}, "run": run,
            "rig": {"arm": ARM, "cameras": cameras}}  # fmt: skip
    launch = launch_from_data(data, "x.toml")
    assert launch.config.rig is not None
    twin = task_schema("lift", launch.task_config)
    with pytest.raises(ConfigError) as err:
        check_real_rig(launch.config.rig, launch.config.run, twin, "x.toml")
    assert str(err.value).startswith("x.toml: ") and says in str(err.value), err.value


def test_a_depth_stream_is_taken_where_the_twin_has_one() -> None:
    camera = {"type": "realsense", "depth": "depth.scene"}
    data = {"task": {"name": "lift", "params": {"image_size": 32, "depth_cameras": ["scene"]}},
            "rig": {"arm": ARM, "cameras": {"s": camera}}}  # fmt: skip
    launch = launch_from_data(data, "x.toml")
    assert launch.config.rig is not None
    twin = task_schema("lift", launch.task_config)
    given = check_real_rig(launch.config.rig, launch.config.run, twin, "x.toml")
    assert given["depth.scene"].dtype == "uint16" and "proprio.gripper" in given


def test_a_task_whose_actions_the_arm_cannot_take_is_refused() -> None:
    data = {"task": {"name": "peg_insertion"}, "rig": {"arm": ARM}}
    launch = launch_from_data(data, "x.toml")
    assert launch.config.rig is not None
    twin = task_schema("peg_insertion", launch.task_config)
    with pytest.raises(
        ConfigError, match=r"rig\.arm: the arm takes a tool pose .* 'gantry' \(4,\)"
    ):
        check_real_rig(launch.config.rig, launch.config.run, twin, "x.toml")
