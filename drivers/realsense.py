"""Intel RealSense RGB-D cameras (D435 and kin) through pyrealsense2, live or from a recording.

Live: `rs.pipeline` with the camera picked by serial, colour as rgb8 and depth as z16, depth
aligned to colour by `rs.align(rs.stream.color)` (on the CPU) unless turned off. A recording
(a `.db3` file: pyrealsense2 2.59 writes ROS2 sqlite) is played by
`drivers.realsense_recording.Playback` through the sensor API, not the pipeline, which
loses most of a recording's frames; that module's docstring has the facts. A playback hands
out every pair of the recording in order: the capture thread waits for `async_read` to take
a pair before it publishes the next, and at the end `async_read` raises FrameTimeoutError.

Times: `get_timestamp()` is ms in the domain `get_frame_timestamp_domain()` names.
`system_time` and `global_time` (D400's default) are this host's wall clock, turned into
`time.monotonic()` seconds; `hardware_clock` is the camera's own counter, which cannot be
mapped, and a recording's times are long past: both take the receive time (a playback's is
when the pair is handed out). `seq` is the colour frame number: gaps in it are dropped
frames.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from drivers.base import DeviceError, Frame, FrameTimeoutError, StreamStats
from drivers.latest import LatestFrame
from drivers.realsense_recording import Playback

POLL_MS = 100  # how long the capture thread waits for frames before it checks for a stop


class StreamMode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: int = Field(gt=0)

    def __str__(self) -> str:
        return f"{self.width}x{self.height} at {self.fps} fps"


class RealSenseConfig(BaseModel):
    """One RealSense, live (`serial`, None: the only one plugged in) or from `recording`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    serial: str | None = None
    colour: StreamMode = StreamMode(width=640, height=480, fps=30)
    depth: StreamMode = StreamMode(width=640, height=480, fps=30)
    align_to_colour: bool = True  # depth resampled onto the colour image's pixels
    recording: Path | None = None  # a .db3 file played instead of a live camera
    first_frame_s: float = Field(default=5.0, gt=0)  # how long connect waits for a frame


@dataclass(frozen=True)
class RGBDFrame:
    """A colour frame ((H, W, 3) uint8 RGB) and its depth ((H, W) uint16, `depth_scale`
    metres per unit); time and `seq` are the colour frame's."""

    colour: Frame
    depth: Frame
    depth_scale: float

    @property
    def seq(self) -> int:
        return self.colour.seq

    @property
    def t_capture(self) -> float:
        return self.colour.t_capture

    @property
    def t_receive(self) -> float:
        return self.colour.t_receive

    def age_ms(self, now: float) -> float:
        return self.colour.age_ms(now)


def import_realsense() -> Any:
    """pyrealsense2, or a DeviceError saying what to install."""
    try:
        import pyrealsense2 as rs
    except (ImportError, OSError) as err:
        if "libusb" in str(err):
            raise DeviceError(
                f"pyrealsense2 needs libusb ({err}); install Debian's libusb-1.0-0"
            ) from None
        raise DeviceError(
            f"pyrealsense2 unavailable ({err}); pip install 'vitac[realsense]'"
        ) from None
    return rs


def capture_time(rs: Any, frame: Any, t_receive: float) -> float:
    """The monotonic time `frame` was captured, or `t_receive` when its clock is the camera's
    (`hardware_clock`) or the result is implausible (not 0 to 1 s before receipt)."""
    domain = frame.get_frame_timestamp_domain()
    if domain not in (rs.timestamp_domain.system_time, rs.timestamp_domain.global_time):
        return t_receive
    t = frame.get_timestamp() / 1000.0 - (time.time() - time.monotonic())
    return t if 0.0 <= t_receive - t < 1.0 else t_receive


class RealSenseCamera:
    """A RealSense kept current by a capture thread; see the module docstring."""

    def __init__(self, config: RealSenseConfig) -> None:
        self.config = config
        self.name = config.name
        self.depth_scale = 0.0
        self._rs: Any = None
        self._source: LivePipeline | Playback | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._stream: LatestFrame[RGBDFrame] = LatestFrame(config.name)

    def connect(self) -> None:
        """Open the camera or recording, start the capture thread, wait for the first pair
        (which the first `async_read` still returns)."""
        if self._thread is not None:
            raise DeviceError(f"{self.name}: already connected")
        self._rs, align = import_realsense(), self.config.align_to_colour
        self._stop.clear()
        if self.config.recording is None:
            self._source = LivePipeline(self._rs, self.config)
        else:
            modes = {"colour": self.config.colour, "depth": self.config.depth}
            self._source = Playback(self.name, self.config.recording, modes, align)
        self.depth_scale = self._source.depth_scale
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.name}", daemon=True)
        self._thread.start()
        try:
            first_s = self.config.first_frame_s
            self._stream.first(first_s, lambda: self._no_frame(first_s))
        except DeviceError as err:
            self.close()
            raise DeviceError(f"{err} (on connecting)") from None

    def async_read(self, timeout_s: float = 1.0) -> RGBDFrame:
        """The next pair newer than the one this returned last; waits up to `timeout_s`."""
        return self._stream.next(timeout_s, self._stop.is_set, lambda: self._no_frame(timeout_s))

    def read_latest(self, max_age_ms: float) -> RGBDFrame:
        """The newest pair now, without waiting (nor advancing a playback); a DeviceError if
        it is older than `max_age_ms`."""
        return self._stream.newest(max_age_ms)

    def stats(self) -> StreamStats:
        return self._stream.stats()

    def close(self) -> None:
        """Stop the capture thread and release the camera or recording; safe to call twice."""
        self._stop.set()
        self._stream.wake()
        if self._thread is not None:
            self._thread.join(timeout=2.0 + POLL_MS / 1000.0)
            self._thread = None
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> RealSenseCamera:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        """The capture thread: take a colour-depth pair, stamp it, count gaps, keep it."""
        last, source, stream = None, self._source, self._stream
        assert source is not None
        playback = isinstance(source, Playback)
        while not self._stop.is_set():
            try:
                pair = source.next_pair(POLL_MS)
            except RuntimeError as err:  # a fault mid-stream: the readers say so
                return stream.fail(f"{self.name}: the camera failed while streaming ({err})")
            if pair is None:
                if source.ended():
                    return stream.end()
                continue
            colour, depth = pair
            t_receive = time.monotonic()
            number, depth_number = colour.get_frame_number(), depth.get_frame_number()
            missing = 0 if last is None else max(0, number - last - 1)
            last, t_capture = number, capture_time(self._rs, colour, t_receive)
            rgb = np.asanyarray(colour.get_data())
            if colour.get_profile().format() == self._rs.format.bgr8:
                rgb = rgb[..., ::-1]
            if rgb.shape[2:] != (3,):
                return stream.fail(f"{self.name}: colour frames are {colour.get_profile()}")
            rgb = np.array(rgb, dtype=np.uint8)  # a copy, as is the depth
            depth_image = np.array(np.asanyarray(depth.get_data()), dtype=np.uint16)
            del pair, colour, depth  # the frames go back to librealsense's pool
            with stream.cond:
                while playback and stream.unread() and not self._stop.is_set():
                    stream.cond.wait()  # a playback waits for its reader
                if playback:  # handed out now
                    t_capture = t_receive = time.monotonic()
                frame = RGBDFrame(
                    Frame(rgb, t_capture, t_receive, number),
                    Frame(depth_image, t_capture, t_receive, depth_number),
                    self.depth_scale,
                )
                stream.publish(frame, missing)

    def _no_frame(self, timeout_s: float) -> FrameTimeoutError:
        if self._stream.ended:
            return FrameTimeoutError(
                f"{self.name}: the recording {self.config.recording} ended after "
                f"{self._stream.frames} frames"
            )
        return self._stream.no_new_frame(timeout_s)


class LivePipeline:
    """A camera streaming colour and depth through `rs.pipeline`, aligned when asked."""

    def __init__(self, rs: Any, cfg: RealSenseConfig) -> None:
        serials = [d.get_info(rs.camera_info.serial_number) for d in rs.context().devices]
        plugged = ", ".join(serials) or "none"
        if cfg.serial is None and len(serials) != 1:
            raise DeviceError(
                f"{cfg.name}: {len(serials)} RealSense cameras connected ({plugged}); "
                "set serial to pick one"
            )
        serial = cfg.serial or serials[0]
        if serial not in serials:
            raise DeviceError(
                f"{cfg.name}: no RealSense with serial {serial} (connected: {plugged})"
            )
        config = rs.config()
        config.enable_device(serial)
        c, d = cfg.colour, cfg.depth
        config.enable_stream(rs.stream.color, c.width, c.height, rs.format.rgb8, c.fps)
        config.enable_stream(rs.stream.depth, d.width, d.height, rs.format.z16, d.fps)
        self._pipeline = rs.pipeline()
        try:
            profile = self._pipeline.start(config)
        except RuntimeError as err:
            raise DeviceError(
                f"{cfg.name}: RealSense {serial} does not stream colour {c} and depth {d} ({err})"
            ) from None
        self._align = rs.align(rs.stream.color) if cfg.align_to_colour else None
        self.depth_scale = float(profile.get_device().first_depth_sensor().get_depth_scale())

    def next_pair(self, timeout_ms: int) -> tuple[Any, Any] | None:
        ok, frames = self._pipeline.try_wait_for_frames(timeout_ms)
        if not ok:
            return None
        if self._align is not None:
            frames = self._align.process(frames)
        return frames.get_color_frame(), frames.get_depth_frame()

    def ended(self) -> bool:
        return False

    def close(self) -> None:
        self._pipeline.stop()
