"""The UVC driver against OpenCV's capture replaced by a replay (drivers/uvc_replay.py):
settings in V4L2's order, the newest frame winning over the driver's stale queue, gaps in
the frame counter as drops, and every fault as a DeviceError naming the device."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.base import DeviceError
from drivers.uvc import UVCCamera, UVCConfig, fourcc_code, fourcc_text, resolve_device
from drivers.uvc_replay import ReplayDevices, ReplaySource

FPS = 50.0
PERIOD = 1.0 / FPS


def images(n: int = 8, h: int = 24, w: int = 32) -> list[np.ndarray]:
    return [np.full((h, w, 3), 10 * i, np.uint8) for i in range(n)]


@pytest.fixture
def devices(monkeypatch: pytest.MonkeyPatch) -> ReplayDevices:
    replay = ReplayDevices({})
    monkeypatch.setattr(cv2, "VideoCapture", replay.video_capture)
    return replay


def camera(devices: ReplayDevices, source: ReplaySource, **settings: object) -> UVCCamera:
    devices.sources[3] = source
    h, w = source.images[0].shape[:2]
    fields = {"name": "pad", "device": 3, "width": w, "height": h, "fps": source.fps}
    return UVCCamera(UVCConfig.model_validate(fields | settings))


def test_fourcc_round_trips() -> None:
    assert fourcc_text(float(fourcc_code("MJPG"))) == "MJPG"


def test_a_serial_opens_the_capture_node_of_its_camera(tmp_path: Path) -> None:
    for serial in ("28F5K4RR", "28F5ABCD"):
        for node in (0, 1):  # each GelSight Mini has a capture and a metadata node
            name = f"usb-Arducam_GelSight_Mini_R0B_{serial}-video-index{node}"
            (tmp_path / name).touch()
    found = resolve_device("serial:28F5K4RR", tmp_path)
    assert found == str(tmp_path / "usb-Arducam_GelSight_Mini_R0B_28F5K4RR-video-index0")
    with pytest.raises(DeviceError, match=r"serial:0000: 0 capture nodes.*28F5ABCD-video-index0"):
        resolve_device("serial:0000", tmp_path)
    with pytest.raises(DeviceError, match="serial:28F5: 2 capture nodes"):
        resolve_device("serial:28F5", tmp_path)
    with pytest.raises(DeviceError, match="/dev/video99: no such device"):
        resolve_device("/dev/video99")
    assert resolve_device(2) == 2


def test_settings_go_fourcc_then_size_then_fps_then_exposure(devices: ReplayDevices) -> None:
    with camera(devices, ReplaySource(images(), FPS), exposure=180, white_balance_k=4500):
        calls = devices.opened[3].calls
    order = [cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT]
    assert calls[:4] == [*order, cv2.CAP_PROP_FPS]
    assert {cv2.CAP_PROP_EXPOSURE, cv2.CAP_PROP_WB_TEMPERATURE} <= set(calls[4:])
    assert devices.opened[3].get(cv2.CAP_PROP_EXPOSURE) == 180


def test_frames_come_in_order_stamped_and_fresh(devices: ReplayDevices) -> None:
    with camera(devices, ReplaySource(images(), FPS)) as cam:
        frames = [cam.async_read(timeout_s=1.0) for _ in range(20)]
        stats = cam.stats()
    seqs = [f.seq for f in frames]
    assert seqs == sorted(set(seqs))  # each read is a newer frame
    for f in frames:
        assert f.image.shape == (24, 32, 3) and f.t_capture <= f.t_receive
        assert f.t_receive - f.t_capture < 0.5  # the replay's capture clock is monotonic
    assert stats.frames >= 20 and abs(stats.fps - FPS) < 0.1 * FPS


def test_lost_frames_show_as_gaps_in_seq_and_are_counted(devices: ReplayDevices) -> None:
    source = ReplaySource(images(), FPS, lost=frozenset({5, 6, 20}), jitter_ms=5.0)
    with camera(devices, source) as cam:
        while cam.async_read(timeout_s=1.0).seq < 30:
            pass
        stats = cam.stats()
        read = list(devices.opened[3].read_frames)
    # every frame the device exposed and the driver did not receive is a drop, and only those
    assert stats.dropped == (read[-1] - read[0] + 1) - len(read) >= 3
    assert stats.frames == len(read)


def test_a_slow_reader_gets_the_newest_frame_not_the_queue(devices: ReplayDevices) -> None:
    """OpenCV read directly after a pause hands out a frame buffers old; the driver does not."""
    devices.sources[0] = ReplaySource(images(), FPS)  # a second replayed camera, read naively
    direct = cv2.VideoCapture(0, cv2.CAP_V4L2)
    direct.read()
    with camera(devices, ReplaySource(images(), FPS)) as cam:
        time.sleep(10 * PERIOD)
        frame = cam.read_latest(max_age_ms=1000)
        age = frame.age_ms(time.monotonic())
        direct.read()
        stale = time.monotonic() - direct.get(cv2.CAP_PROP_POS_MSEC) / 1000
    assert age < 3 * PERIOD * 1000 and stale > 2.5 * PERIOD


def test_a_mode_the_camera_lacks_is_refused_naming_both(devices: ReplayDevices) -> None:
    cam = camera(devices, ReplaySource(images(), FPS), fps=60.0)
    with pytest.raises(DeviceError, match=r"pad: 3 does not offer MJPG 32x24 at 60 fps; it runs "
                       r"MJPG 32x24 at 50 fps"):  # fmt: skip
        cam.connect()
    assert not devices.opened[3].isOpened()  # released
    other = ReplaySource(images(), FPS, modes=[("MJPG", 32, 24, 60.0)])
    with camera(devices, other, fps=60.0) as cam:  # offered: taken
        assert cam.async_read().image.shape == (24, 32, 3)


def test_a_busy_device_is_one_line(devices: ReplayDevices) -> None:
    with pytest.raises(DeviceError, match=r"pad: cannot open 3 \(busy in another program"):
        camera(devices, ReplaySource(images(), FPS, busy=True)).connect()


def test_an_unplugged_camera_is_stale_then_silent(devices: ReplayDevices) -> None:
    with camera(devices, ReplaySource(images(), FPS, unplug_at=10)) as cam:
        while cam.async_read(timeout_s=1.0).seq < 9:
            pass
        time.sleep(6 * PERIOD)
        with pytest.raises(DeviceError, match=r"pad: the newest frame is \d+ ms old, over the "
                           r"100 ms allowed \(the last arrived"):  # fmt: skip
            cam.read_latest(max_age_ms=100)
        with pytest.raises(DeviceError, match=r"pad: no new frame in 0\.10 s"):
            cam.async_read(timeout_s=0.1)
        assert cam.stats().stalled_s > 5 * PERIOD


def test_frames_of_the_wrong_size_stop_the_stream_with_an_error(devices: ReplayDevices) -> None:
    with camera(devices, ReplaySource(images(), FPS, wrong_size_at=5)) as cam:
        with pytest.raises(DeviceError, match="pad: delivered a 16x12 frame, configured for 32x24"):
            for _ in range(20):
                cam.async_read(timeout_s=1.0)
        with pytest.raises(DeviceError, match="delivered a 16x12"):
            cam.read_latest(max_age_ms=1000)


def test_no_first_frame_fails_connect_and_releases(devices: ReplayDevices) -> None:
    cam = camera(devices, ReplaySource(images(), FPS, unplug_at=0), first_frame_s=0.1)
    with pytest.raises(DeviceError, match=r"no new frame in 0.10 s .*\(on connecting\)"):
        cam.connect()
    assert not devices.opened[3].isOpened()
    cam.close()  # twice is fine


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="four characters"):
        UVCConfig(name="a", device=0, width=1, height=1, fps=1, fourcc="MJPEG")
    with pytest.raises(ValueError, match="fps"):
        UVCConfig(name="a", device=0, width=1, height=1, fps=0)


def test_an_mjpg_replay_decodes_every_frame(devices: ReplayDevices) -> None:
    rng = np.random.default_rng(0)
    smooth = [cv2.GaussianBlur(rng.integers(0, 255, (24, 32, 3), np.uint8), (9, 9), 3)]
    devices.sources[5] = ReplaySource(smooth, fps=FPS, jpeg_quality=90)
    raw = ReplayDevices({5: ReplaySource(smooth, fps=FPS)}).video_capture(5)
    coded = devices.video_capture(5)
    (_, exact), (_, decoded) = raw.read(), coded.read()
    assert exact is not None and decoded is not None and decoded.shape == exact.shape
    error = np.abs(decoded.astype(int) - exact.astype(int))
    assert 0 < error.mean() < 3  # lossy, so it went through the codec, and close


def test_connecting_leaves_the_first_frame_to_the_first_read(devices: ReplayDevices) -> None:
    """A capture worker pumping from a fresh camera gets frame 0: no drop at the start."""
    with camera(devices, ReplaySource(images(), fps=5.0)) as cam:
        assert [cam.async_read(1.0).seq for _ in range(2)] == [0, 1]
