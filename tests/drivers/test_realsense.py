"""The RealSense driver against recordings made without a camera (drivers/realsense_recording.py):
every frame of a recording back in order with its content, depth scale and frame numbers,
aligned depth where it was, the end of a recording as a timeout rather than a hang, and every
fault (bad path, wrong mode, no camera, no SDK) as a one-line DeviceError naming it."""

from __future__ import annotations

import sys
import time
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

rs = pytest.importorskip("pyrealsense2")

from drivers.base import DeviceError, FrameTimeoutError  # noqa: E402
from drivers.realsense import (  # noqa: E402
    RealSenseCamera,
    RealSenseConfig,
    StreamMode,
    capture_time,
    import_realsense,
)
from drivers.realsense_recording import write_recording  # noqa: E402

H, W, FPS, N = 12, 16, 30, 10
MODE = StreamMode(width=W, height=H, fps=FPS)
SCALE = 0.00025


def colours(n: int = N) -> list[np.ndarray]:
    """Frame i: red 10 i, green 0, blue 3 (RGB and BGR differ)."""
    frames = [np.zeros((H, W, 3), np.uint8) for _ in range(n)]
    for i, frame in enumerate(frames):
        frame[..., 0], frame[..., 2] = 10 * i, 3
    return frames


def depths(n: int = N) -> list[np.ndarray]:
    """Frame i: a ramp over the pixels from 1000 units (25 cm at SCALE), plus i."""
    ramp = 1000 + 5 * np.arange(H * W, dtype=np.uint16).reshape(H, W)
    return [ramp + i for i in range(n)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("realsense") / "ten.db3"
    return write_recording(path, colours(), depths(), FPS, depth_scale=SCALE)


def camera(path: Path, **settings: object) -> RealSenseCamera:
    fields = {"name": "wrist", "recording": path, "colour": MODE, "depth": MODE}
    return RealSenseCamera(RealSenseConfig.model_validate(fields | settings))


def test_a_recording_plays_every_frame_in_order(recording: Path) -> None:
    with camera(recording, align_to_colour=False) as cam:
        frames = [cam.async_read(timeout_s=1.0) for _ in range(N)]
    for i, frame in enumerate(frames):
        assert frame.colour.image.shape == (H, W, 3) and frame.colour.image.dtype == np.uint8
        assert frame.depth.image.shape == (H, W) and frame.depth.image.dtype == np.uint16
        np.testing.assert_array_equal(frame.colour.image, colours()[i])  # RGB, not BGR
        np.testing.assert_array_equal(frame.depth.image, depths()[i])
        assert frame.seq == frame.colour.seq == frame.depth.seq == i
        assert frame.depth_scale == pytest.approx(SCALE)


def test_aligned_depth_stays_where_it_was(recording: Path) -> None:
    """Same size, same pinhole, identity pose: align maps each depth pixel onto itself, up to
    rs.align's rounding of the projected pixel's corners, which moves a few values by one pixel
    and leaves their pixel empty (0, its "no depth")."""
    with camera(recording) as cam:
        frames = [cam.async_read(timeout_s=1.0) for _ in range(N)]
    kept = 0
    for i, frame in enumerate(frames):
        depth, want = frame.depth.image, depths()[i]
        padded = np.pad(want, 1)
        around = [padded[1 + dy : 1 + dy + H, 1 + dx : 1 + dx + W] for dy in (-1, 0, 1)
                  for dx in (-1, 0, 1)]  # fmt: skip
        assert np.all((depth == 0) | np.any([depth == a for a in around], axis=0))
        np.testing.assert_array_equal(frame.colour.image, colours()[i])
        kept += int(np.count_nonzero(depth == want))
    assert kept >= 0.95 * N * H * W


def test_the_end_of_a_recording_is_a_timeout_not_a_hang(recording: Path) -> None:
    with camera(recording, align_to_colour=False) as cam:
        for _ in range(N):
            cam.async_read(timeout_s=1.0)
        start = time.monotonic()
        with pytest.raises(FrameTimeoutError, match=r"wrist: the recording .*ten\.db3 ended "
                           r"after 10 frames"):  # fmt: skip
            cam.async_read(timeout_s=2.0)
        assert time.monotonic() - start < 1.0


def test_gaps_in_frame_numbers_are_counted_as_drops(tmp_path: Path) -> None:
    numbers = [0, 1, 2, 5, 6, 9]
    path = write_recording(tmp_path / "gaps.db3", colours(6), depths(6), FPS, frame_numbers=numbers)
    with camera(path, align_to_colour=False) as cam:
        seqs = [cam.async_read(timeout_s=1.0).seq for _ in numbers]
        stats = cam.stats()
    assert seqs == numbers
    assert stats.frames == 6 and stats.dropped == 4


def test_read_latest_refuses_a_stale_frame(recording: Path) -> None:
    with camera(recording, align_to_colour=False) as cam:
        cam.async_read(timeout_s=1.0)
        assert cam.read_latest(max_age_ms=1000).seq in (0, 1)  # fresh
        time.sleep(0.15)
        with pytest.raises(DeviceError, match=r"wrist: the newest frame is \d+ ms old, over "
                           r"the 100 ms allowed \(the last arrived"):  # fmt: skip
            cam.read_latest(max_age_ms=100)


def test_a_bad_recording_is_one_line_naming_it(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db3"
    junk.write_text("not a recording")
    text = tmp_path / "notes.txt"
    text.write_text("not a recording either")
    cases = {
        tmp_path / "missing.db3": r"recording .*missing\.db3: no such file",
        tmp_path: r"recording .*: is a directory",
        junk: r".*junk\.db3 is not a RealSense recording \(.*file is not a database",
        text: r".*notes\.txt is not a RealSense recording",
    }
    for path, message in cases.items():
        with pytest.raises(DeviceError, match=f"^wrist: {message}") as err:
            camera(path).connect()
        assert "\n" not in str(err.value)


def test_a_recording_of_another_mode_names_both(recording: Path) -> None:
    cam = camera(recording, colour=StreamMode(width=640, height=480, fps=30))
    with pytest.raises(DeviceError, match=r"ten\.db3 holds colour 16x12 at 30 fps, depth "
                       r"16x12 at 30 fps, configured for colour 640x480 at 30 fps"):  # fmt: skip
        cam.connect()


def test_no_camera_plugged_in_names_the_serial() -> None:
    if len(rs.context().devices):
        pytest.skip("a RealSense is plugged in")
    cam = RealSenseCamera(RealSenseConfig(name="wrist", serial="123456789012"))
    with pytest.raises(DeviceError, match=r"^wrist: no RealSense with serial 123456789012 "
                       r"\(connected: none\)$"):  # fmt: skip
        cam.connect()
    with pytest.raises(DeviceError, match=r"^wrist: 0 RealSense cameras connected \(none\)"):
        RealSenseCamera(RealSenseConfig(name="wrist")).connect()


class _NoLibusb:
    """An import hook that fails pyrealsense2 as a machine without libusb does."""

    def find_spec(self, name: str, *args: object) -> ModuleSpec | None:
        if name == "pyrealsense2":
            raise ImportError("libusb-1.0.so.0: cannot open shared object file")
        return None


def test_a_missing_sdk_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)
    with pytest.raises(DeviceError, match=r"pip install 'vitac\[realsense\]'"):
        import_realsense()
    monkeypatch.delitem(sys.modules, "pyrealsense2")
    monkeypatch.setattr(sys, "meta_path", [_NoLibusb(), *sys.meta_path])
    with pytest.raises(DeviceError, match=r"needs libusb .*install Debian's libusb-1\.0-0"):
        import_realsense()


def test_host_clock_stamps_become_monotonic_and_camera_clocks_do_not() -> None:
    def frame(domain: object, t_ms: float) -> SimpleNamespace:
        return SimpleNamespace(
            get_frame_timestamp_domain=lambda: domain, get_timestamp=lambda: t_ms
        )

    now, wall_ms = time.monotonic(), time.time() * 1000.0
    for domain in (rs.timestamp_domain.system_time, rs.timestamp_domain.global_time):
        assert capture_time(rs, frame(domain, wall_ms - 20.0), now) == pytest.approx(
            now - 0.02, abs=0.005
        )
    assert capture_time(rs, frame(rs.timestamp_domain.hardware_clock, 123.0), now) == now
    old = frame(rs.timestamp_domain.system_time, wall_ms - 3_600_000.0)  # a recording's
    assert capture_time(rs, old, now) == now


def test_the_writer_wants_a_db3_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"x\.bag: a RealSense recording must end in \.db3"):
        write_recording(tmp_path / "x.bag", colours(1), depths(1), FPS)
