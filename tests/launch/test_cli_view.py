"""`vitac view`: one PNG of every stream from a RealSense recording and from replayed UVC and
tactile cameras, a live view into Rerun, and every operator mistake as one line, exit 2."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers import discovery
from drivers.uvc_replay import ReplayDevices, ReplaySource
from launch.cli import main
from sensing.mosaic import LABEL_HEIGHT

pytest.importorskip("pyrealsense2")
from drivers.realsense_recording import write_recording

H, W = 12, 16


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    colour = np.zeros((H, W, 3), np.uint8)
    colour[..., 0] = 200  # red in RGB
    depth = np.full((H, W), 400, np.uint16)  # 0.4 m at 1 mm per unit
    path = tmp_path_factory.mktemp("view") / "wrist.db3"
    return write_recording(path, [colour] * 4, [depth] * 4, 30, depth_scale=0.001)


def rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None
    return np.asarray(image[..., ::-1])


def test_a_snapshot_of_a_recording_shows_colour_and_depth(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rig.png"
    assert main(["view", "--replay", str(recording), "--snapshot", str(out)]) == 0
    assert "1 cameras ->" in capsys.readouterr().out
    picture = rgb(out)
    assert picture.shape == (240 + LABEL_HEIGHT, 2 * 320, 3)  # colour | depth, 240 high
    colour, depth = picture[LABEL_HEIGHT:, :320], picture[LABEL_HEIGHT:, 320:]
    assert np.abs(colour.astype(int) - [200, 0, 0]).max() <= 8  # RGB kept as RGB
    red, blue = np.median(depth[..., 0]), np.median(depth[..., 2])
    assert red > blue + 150  # 0.4 m is near: warm (the aligned edges may lack depth)


def test_a_snapshot_of_replayed_uvc_and_tactile_cameras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blue = np.zeros((24, 32, 3), np.uint8)
    blue[..., 0] = 250  # OpenCV frames are BGR: this is blue
    pad = np.full((240, 320, 3), 60, np.uint8)
    devices = ReplayDevices({3: ReplaySource([blue], fps=50), 4: ReplaySource([pad], fps=60)})
    monkeypatch.setattr(cv2, "VideoCapture", devices.video_capture)
    out = tmp_path / "rig.png"
    args = ["view", "--uvc", "3@32x24x50", "--tactile", "digit=4", "--snapshot", str(out)]
    assert main(args) == 0
    picture = rgb(out)
    assert picture.shape[0] == 240 + LABEL_HEIGHT
    pad_width = 240 * 240 // 320  # DIGIT turned upright: 320 high, 240 wide
    assert picture.shape[1] == pad_width + 320
    camera = picture[LABEL_HEIGHT:, pad_width:]
    assert camera[..., 2].min() > 240 and camera[..., 0].max() < 10  # shown blue


def test_live_frames_go_to_rerun_when_it_is_installed(
    recording: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged: list[str] = []
    fake = types.SimpleNamespace(
        init=lambda *a, **k: None,
        log=lambda path, image: logged.append(path),
        Image=lambda image: ("image", image.shape),
        DepthImage=lambda image, meter: ("depth", meter),
    )
    monkeypatch.setitem(sys.modules, "rerun", fake)
    assert main(["view", "--replay", str(recording), "--seconds", "0.3"]) == 0
    assert {"wrist/colour", "wrist/depth"} == set(logged)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--snapshot", "{old}"], "exists; name a new file"),
        (["--snapshot", "{tmp}/x.jpg"], "must name a .png file"),
        (["--snapshot", "{file}/x.png"], "is not a directory"),
        (["--tactile", "gelsight=0"], "expected MODEL=DEVICE with MODEL one of"),
        (["--uvc", "0@640x480"], "the mode is WxHxFPS"),
        (["--replay", "{tmp}/none.db3"], "not a .db3 RealSense recording file"),
        (["--uvc", "/dev/video99", "--snapshot", "{tmp}/a.png"], "/dev/video99: no such device"),
        ([], "no cameras found"),
        (["--replay", "{recording}"], "no display for a window"),
    ],
)
def test_operator_mistakes_are_one_line_and_exit_2(
    args: list[str],
    message: str,
    recording: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "file").write_text("mine")
    (tmp_path / "old.png").write_text("mine")
    monkeypatch.setattr(discovery, "video_nodes", lambda: [])
    monkeypatch.setattr(discovery, "realsense_cameras", lambda: ([], ""))
    monkeypatch.setitem(sys.modules, "rerun", None)  # not installed
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    fields = {"file": tmp_path / "file", "old": tmp_path / "old.png", "tmp": tmp_path}
    fields["recording"] = recording
    assert main(["view", *(a.format(**fields) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert (tmp_path / "old.png").read_text() == "mine" and not (tmp_path / "a.png").exists()
