"""RealSense recordings without a camera: `write_recording` pushes frames through
`rs.software_device` into `rs.recorder`; `Playback` reads a recording back for
`drivers.realsense.RealSenseCamera`.

Facts used (pyrealsense2 2.59.1, checked here):
- `rs.recorder` writes ROS2 sqlite `.db3` files and refuses any other suffix ("Output file
  must have .db3 extension"); 2.59 dropped writing ROS1 `.bag` files.
- A software sensor's stream is an `rs.video_stream`; a frame an `rs.software_video_frame`
  (pixels, stride, bpp, timestamp in ms and its domain, frame number, profile, depth_units).
  A reader's `get_depth_scale()` is the depth sensor's read-only `depth_units` option.
- `rs.align` needs the depth-to-colour extrinsics (without them every depth pixel maps to
  0); the recordings here give both streams one pose and one pinhole model.
- Read back through `rs.pipeline`, even not in real time, only 1-2 of 30 frames arrive; the
  sensor API (`load_device`, each sensor `open` and `start(frame_queue)`) gives them all,
  one frame at a time in the file's order. Not in real time, a full queue makes the playback
  wait, so nothing is lost, but the playback's own thread then waits too, and `pause`,
  `resume` and `sensor.stop` (which wait for that thread) hang until someone empties the
  queue: `resume` runs in a thread of its own, `close` empties the queue while it stops.
- The playback starts with the first sensor started and drops the frames of sensors not yet
  started: it is paused before they start and resumed after.
- `sensor.start(queue)` passed positionally takes the Python-callable overload (a
  frame_queue has `__call__`): a full queue then blocks while holding the GIL and the
  process hangs. `start(queue=...)` does not.
- `rs.align.process` takes only a frameset: a processing block's `allocate_composite_frame`
  makes one of a colour frame and its depth frame.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import DeviceError

IDENTITY = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
QUEUE = 8  # playback frames in flight
Mode = tuple[int, int, int]  # width, height, fps


def write_recording(
    path: Path | str,
    colour_frames: Sequence[np.ndarray],
    depth_frames: Sequence[np.ndarray],
    fps: int,
    depth_scale: float = 0.001,
    frame_numbers: Sequence[int] | None = None,
) -> Path:
    """Record colour ((H, W, 3) uint8 RGB) and depth ((h, w) uint16, in units of
    `depth_scale` metres) frame pairs at `fps` into the `.db3` file `path`; returns it.

    Frame i is stamped i / fps s (hardware clock domain) and numbered `frame_numbers[i]`
    (default i; skip numbers to record dropped frames)."""
    path = Path(path)
    if path.suffix != ".db3":
        raise ValueError(
            f"{path}: a RealSense recording must end in .db3 (pyrealsense2 2.59 writes ROS2 "
            "sqlite files and refuses other suffixes)"
        )
    numbers = list(range(len(colour_frames))) if frame_numbers is None else list(frame_numbers)
    if not len(colour_frames) == len(depth_frames) == len(numbers) > 0:
        raise ValueError(
            f"{path}: {len(colour_frames)} colour frames, {len(depth_frames)} depth frames "
            f"and {len(numbers)} frame numbers; they must be equal and not 0"
        )
    colour = [_checked(f, 3, np.uint8, "colour") for f in colour_frames]
    depth = [_checked(f, 2, np.uint16, "depth") for f in depth_frames]
    if len({f.shape for f in colour}) > 1 or len({f.shape for f in depth}) > 1:
        raise ValueError(f"{path}: every colour frame, and every depth frame, must have one size")
    import pyrealsense2 as rs

    device = rs.software_device()
    colour_sensor = device.add_sensor("RGB Camera")
    depth_sensor = device.add_sensor("Stereo Module")
    colour_profile = _add_stream(rs, colour_sensor, rs.stream.color, colour[0], fps, uid=0)
    depth_profile = _add_stream(rs, depth_sensor, rs.stream.depth, depth[0], fps, uid=1)
    depth_sensor.add_read_only_option(rs.option.depth_units, depth_scale)
    pose = rs.extrinsics()
    pose.rotation, pose.translation = IDENTITY, [0.0, 0.0, 0.0]
    depth_profile.register_extrinsics_to(colour_profile, pose)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    recorder = rs.recorder(str(path), device)
    sensors = [(colour_sensor, colour_profile, colour), (depth_sensor, depth_profile, depth)]
    for sensor, profile, _ in sensors:
        sensor.open(profile)
        sensor.start(lambda frame: None)
    for i, number in enumerate(numbers):
        for sensor, profile, images in sensors:
            sensor.on_video_frame(_frame(rs, images[i], profile, number, 1000.0 * i / fps,
                                         depth_scale))  # fmt: skip
    for sensor, _, _ in sensors:
        sensor.stop()
        sensor.close()
    del recorder, sensors, colour_sensor, depth_sensor, device  # releasing them flushes
    return path


def _checked(image: np.ndarray, ndim: int, dtype: type, what: str) -> np.ndarray:
    image = np.ascontiguousarray(image)
    if image.ndim != ndim or image.dtype != dtype or (ndim == 3 and image.shape[2] != 3):
        want = "(H, W, 3) uint8" if ndim == 3 else "(H, W) uint16"
        raise ValueError(f"a {what} frame must be {want}, got {image.shape} {image.dtype}")
    return image


def _add_stream(rs: Any, sensor: Any, kind: Any, image: np.ndarray, fps: int, uid: int) -> Any:
    """A video stream of `image`'s size on `sensor`, with a pinhole model of ~60 degrees."""
    height, width = image.shape[:2]
    intrinsics = rs.intrinsics()
    intrinsics.width, intrinsics.height = width, height
    intrinsics.fx = intrinsics.fy = float(width)
    intrinsics.ppx, intrinsics.ppy = width / 2.0, height / 2.0
    intrinsics.model, intrinsics.coeffs = rs.distortion.none, [0.0] * 5
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = kind, 0, uid
    stream.width, stream.height, stream.fps = width, height, fps
    stream.bpp = image.itemsize * (image.shape[2] if image.ndim == 3 else 1)
    stream.fmt = rs.format.rgb8 if image.ndim == 3 else rs.format.z16
    stream.intrinsics = intrinsics
    return sensor.add_video_stream(stream).as_video_stream_profile()


def _frame(
    rs: Any, image: np.ndarray, profile: Any, number: int, t_ms: float, depth_scale: float
) -> Any:
    bpp = image.itemsize * (image.shape[2] if image.ndim == 3 else 1)
    frame = rs.software_video_frame()
    frame.pixels, frame.stride, frame.bpp = image, image.shape[1] * bpp, bpp
    frame.timestamp, frame.domain = t_ms, rs.timestamp_domain.hardware_clock
    frame.frame_number, frame.profile = number, profile
    if image.ndim == 2:
        frame.depth_units = depth_scale
    return frame


def recorded_modes(name: str, path: Path) -> dict[str, Mode]:
    """{"colour": mode, "depth": mode} (width, height, fps) that the recording `path` holds;
    a DeviceError if it is not a recording."""
    if not path.is_file():
        raise DeviceError(f"{name}: recording {path}: no such file")
    import pyrealsense2 as rs

    try:
        device = rs.context().load_device(str(path))
    except RuntimeError as err:
        raise DeviceError(f"{name}: {path} is not a RealSense recording ({err})") from None
    kinds = {rs.stream.color: "colour", rs.stream.depth: "depth"}
    found: dict[str, Mode] = {}
    for sensor in device.query_sensors():
        for p in sensor.get_stream_profiles():
            if p.stream_type() in kinds:
                v = p.as_video_stream_profile()
                found[kinds[p.stream_type()]] = (v.width(), v.height(), p.fps())
    device.as_playback().pause()
    return found


class Playback:
    """A recording played not in real time through the sensor API (see the module
    docstring): `next_pair` gives its colour-depth pairs in order, `ended` says when done."""

    def __init__(self, name: str, path: Path, modes: dict[str, Any], align: bool) -> None:
        """Open `path`, which must hold the `modes` ({"colour": m, "depth": m}, each with
        width, height and fps), and play it."""
        if not path.is_file():
            why = "is a directory" if path.is_dir() else "no such file"
            raise DeviceError(f"{name}: recording {path}: {why}")
        import pyrealsense2 as rs

        try:
            self._device = rs.context().load_device(str(path))
        except RuntimeError as err:
            raise DeviceError(f"{name}: {path} is not a RealSense recording ({err})") from None
        self._rs, self._playback = rs, self._device.as_playback()
        self._playback.set_real_time(False)
        self._playback.pause()  # until every sensor started
        self._queue = rs.frame_queue(QUEUE, keep_frames=True)
        self._sensors: list[Any] = []
        self._resume: threading.Thread | None = None
        self._pending: dict[bool, Any] = {}  # is colour -> a frame awaiting its pair
        self._align = rs.align(rs.stream.color) if align else None
        self._block: Any = None  # makes a colour-depth pair one frameset
        self._pair: list[Any] = []
        self._composed: list[Any] = []
        found: dict[str, Mode] = {}
        self.depth_scale = 0.0
        kinds = {rs.stream.color: "colour", rs.stream.depth: "depth"}
        for sensor in self._device.query_sensors():
            profiles = [p for p in sensor.get_stream_profiles() if p.stream_type() in kinds]
            for p in profiles:
                v = p.as_video_stream_profile()
                found[kinds[p.stream_type()]] = (v.width(), v.height(), p.fps())
            if profiles:
                sensor.open(profiles)
                self._sensors.append(sensor)
            if sensor.is_depth_sensor():
                self.depth_scale = float(sensor.as_depth_sensor().get_depth_scale())
        self._fps = found.get("colour", (0, 0, 1))[2]
        want = {k: (m.width, m.height, m.fps) for k, m in modes.items()}
        if found != want:
            self.close()
            held = ", ".join(f"{k} {w}x{h} at {f} fps" for k, (w, h, f) in found.items())
            asked = ", ".join(f"{k} {w}x{h} at {f} fps" for k, (w, h, f) in want.items())
            raise DeviceError(f"{name}: {path} holds {held or 'no video'}, configured for {asked}")
        if self._align is not None:
            self._block = self._rs.processing_block(self._compose)
            self._block.start(self._composed.append)
        for sensor in self._sensors:
            sensor.start(queue=self._queue)  # by keyword: see the module docstring
        self._resume = threading.Thread(target=self._playback.resume, daemon=True)
        self._resume.start()  # returns once the queue has room: see the module docstring

    def next_pair(self, timeout_ms: int) -> tuple[Any, Any] | None:
        """The next colour frame and the depth frame within half a colour period of it
        (aligned to the colour frame when asked), or None after `timeout_ms` without one."""
        half_ms = 500.0 / self._fps
        while True:
            ok, frame = self._queue.try_wait_for_frame(timeout_ms)
            if not ok:
                return None
            is_colour = frame.get_profile().stream_type() == self._rs.stream.color
            other = self._pending.get(not is_colour)
            if other is None or abs(other.get_timestamp() - frame.get_timestamp()) > half_ms:
                self._pending[is_colour] = frame  # an older one of its stream has no pair
                continue
            del self._pending[not is_colour]
            colour, depth = (frame, other) if is_colour else (other, frame)
            if self._align is None:
                return colour, depth
            self._pair = [colour, depth]
            self._block.invoke(colour)  # runs _compose in this thread
            self._pair = []
            aligned = self._align.process(self._composed.pop().as_frameset())
            return aligned.get_color_frame(), aligned.get_depth_frame()

    def ended(self) -> bool:
        """Whether the whole recording was played (its sensors stop at its end)."""
        return bool(self._playback.current_status() == self._rs.playback_status.stopped)

    def close(self) -> None:
        closer = threading.Thread(target=self._close_sensors, daemon=True)
        closer.start()
        deadline = time.monotonic() + 5.0
        while closer.is_alive() and time.monotonic() < deadline:
            self._queue.poll_for_frame()  # room for a playback waiting to enqueue
            closer.join(0.005)
        self._pending.clear()

    def _close_sensors(self) -> None:
        started, self._resume = self._resume, None
        if started is not None:
            started.join()
        for sensor in self._sensors:
            if started is not None:
                with contextlib.suppress(RuntimeError):  # stopped already at the end
                    sensor.stop()
            sensor.close()
        self._sensors = []

    def _compose(self, frame: Any, source: Any) -> None:
        source.frame_ready(source.allocate_composite_frame(self._pair))
