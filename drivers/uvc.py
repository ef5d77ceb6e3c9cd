"""UVC cameras through OpenCV's V4L2 backend: GelSight Mini, DIGIT and plain webcams.

Opened by stable id (`/dev/v4l/by-id/...`, or `serial:<text>` matched against those names:
a GelSight Mini shows two nodes and only `...-video-index0` streams), by `/dev/videoN` or by
index. Settings go in the order V4L2 needs: FOURCC, then size, then FPS (the rate a driver
offers depends on the format and size set before it); then fixed exposure and white balance,
so frames keep their colours and the rate does not sag in low light.

A capture thread reads the device as fast as it delivers and keeps only the newest frame:
OpenCV's queue of V4L2 buffers otherwise hands out frames that are seconds old. Each frame
carries the kernel's capture time (V4L2 stamps buffers with CLOCK_MONOTONIC, the clock of
`time.monotonic()`), its receive time and a sequence number whose gaps are frames lost
(found from capture times more than a period apart).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from drivers.base import DeviceError, Frame, FrameTimeoutError, StreamStats
from drivers.latest import LatestFrame

BY_ID = Path("/dev/v4l/by-id")
SERIAL_PREFIX = "serial:"
V4L2_MANUAL_EXPOSURE = 1.0  # V4L2_EXPOSURE_MANUAL, as OpenCV's V4L2 backend takes it
STALL_HINT = "; unplugged or stalled?"


class UVCConfig(BaseModel):
    """One UVC camera. `exposure` is in the driver's units (V4L2: 100 us steps)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    device: str | int  # index, /dev/videoN, /dev/v4l/by-id/..., or serial:<text>
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: float = Field(gt=0)
    fourcc: str | None = "MJPG"  # None: leave the device's format
    exposure: float | None = None  # None: leave the camera's automatic exposure on
    white_balance_k: int | None = Field(default=None, ge=2000, le=10000)
    first_frame_s: float = Field(default=3.0, gt=0)  # how long connect waits for a frame
    controls: dict[str, float] = {}  # further OpenCV properties by name, e.g. {"zoom": 4095}

    @field_validator("fourcc")
    @classmethod
    def _four_characters(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 4:
            raise ValueError(f"a FOURCC has four characters (e.g. MJPG, YUYV), got {value!r}")
        return value

    @field_validator("controls")
    @classmethod
    def _known_properties(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if not hasattr(cv2, f"CAP_PROP_{k.upper()}")]
        if unknown:
            raise ValueError(f"not OpenCV capture properties: {unknown} (CAP_PROP_<NAME>)")
        return value


def fourcc_code(text: str) -> int:
    """Four characters -> OpenCV's FOURCC number."""
    return int(cv2.VideoWriter.fourcc(*text))


def fourcc_text(code: float) -> str:
    """OpenCV's FOURCC number (as `get` returns it) -> its four characters."""
    value = int(code)
    return "".join(chr((value >> 8 * i) & 0xFF) for i in range(4))


def resolve_device(device: str | int, by_id: Path = BY_ID) -> str | int:
    """What OpenCV opens for `device`: an index as is, a path that exists, or the one
    by-id capture node (`-video-index0`) whose name contains a `serial:` text."""
    if isinstance(device, int):
        return device
    if device.startswith(SERIAL_PREFIX):
        serial = device[len(SERIAL_PREFIX) :]
        nodes = sorted(str(p) for p in by_id.glob("*-video-index0") if serial in p.name)
        if len(nodes) != 1:
            plugged = sorted(p.name for p in by_id.glob("*-video-index0")) if by_id.is_dir() else []
            found = "none" if not nodes else ", ".join(nodes)
            raise DeviceError(
                f"{device}: {len(nodes)} capture nodes under {by_id} match ({found}); "
                f"plugged in: {', '.join(plugged) or 'nothing'}"
            )
        return nodes[0]
    if not Path(device).exists():
        raise DeviceError(f"{device}: no such device (unplugged? `vitac devices` lists them)")
    return device


class UVCCamera:
    """A UVC camera kept current by a capture thread; see the module docstring."""

    def __init__(
        self,
        config: UVCConfig,
        by_id: Path = BY_ID,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """`transform`: applied to every frame in the capture thread (crop, resize, turn),
        after the frame's size was checked against the configured one."""
        self.config = config
        self.name = config.name
        self._by_id = by_id
        self._transform = transform
        self._capture: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._stream: LatestFrame[Frame] = LatestFrame(config.name)

    def connect(self) -> None:
        """Open, configure, start the capture thread and wait for the first frame."""
        if self._thread is not None:
            raise DeviceError(f"{self.name}: already connected")
        cfg = self.config
        target = resolve_device(cfg.device, self._by_id)
        capture = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not capture.isOpened():
            raise DeviceError(
                f"{self.name}: cannot open {target} (busy in another program, or not a capture "
                "node: a GelSight Mini's second /dev/video node carries metadata only)"
            )
        self._capture = capture
        try:
            self._configure(target)
        except DeviceError:
            capture.release()
            raise
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.name}", daemon=True)
        self._thread.start()
        try:
            self._stream.first(cfg.first_frame_s, lambda: self._timed_out(cfg.first_frame_s))
        except DeviceError as err:
            self.close()
            raise DeviceError(f"{err} (on connecting)") from None

    def async_read(self, timeout_s: float = 1.0) -> Frame:
        """The next frame newer than the one this returned last; waits up to `timeout_s`."""
        return self._stream.next(timeout_s, self._stop.is_set, lambda: self._timed_out(timeout_s))

    def read_latest(self, max_age_ms: float) -> Frame:
        """The newest frame now, without waiting; a DeviceError if it is older than
        `max_age_ms` (a stale frame is worse than none to a policy)."""
        return self._stream.newest(max_age_ms)

    def stats(self) -> StreamStats:
        return self._stream.stats()

    def close(self) -> None:
        """Stop the capture thread and release the device; safe to call twice."""
        self._stop.set()
        self._stream.wake()
        if self._thread is not None:
            self._thread.join(timeout=2.0 + 2.0 / self.config.fps)
            self._thread = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> UVCCamera:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _configure(self, target: str | int) -> None:
        cfg, cap = self.config, self._capture
        if cfg.fourcc is not None:  # the order matters: see the module docstring
            cap.set(cv2.CAP_PROP_FOURCC, fourcc_code(cfg.fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        cap.set(cv2.CAP_PROP_FPS, cfg.fps)
        got = (
            fourcc_text(cap.get(cv2.CAP_PROP_FOURCC)),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(cap.get(cv2.CAP_PROP_FPS)),
        )
        asked = (cfg.fourcc or got[0], cfg.width, cfg.height, cfg.fps)
        if got[:3] != asked[:3] or abs(got[3] - cfg.fps) > 0.01 * cfg.fps:
            raise DeviceError(
                f"{self.name}: {target} does not offer {_mode(asked)}; it runs {_mode(got)} "
                "(`v4l2-ctl --list-formats-ext -d DEVICE` lists its modes)"
            )
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if cfg.exposure is not None:
            cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_MANUAL_EXPOSURE)
            cap.set(cv2.CAP_PROP_EXPOSURE, cfg.exposure)
        if cfg.white_balance_k is not None:
            cap.set(cv2.CAP_PROP_AUTO_WB, 0)
            cap.set(cv2.CAP_PROP_WB_TEMPERATURE, cfg.white_balance_k)
        for name, value in cfg.controls.items():
            cap.set(getattr(cv2, f"CAP_PROP_{name.upper()}"), value)

    def _run(self) -> None:
        """The capture thread: read, stamp, count gaps, keep the newest."""
        cfg, period = self.config, 1.0 / self.config.fps
        shape = (cfg.height, cfg.width)
        seq, last_capture = -1, None
        while not self._stop.is_set():
            try:
                ok, image = self._capture.read()
            except cv2.error as err:  # a driver fault mid-stream: the readers say so
                self._stream.fail(f"{self.name}: the device failed while streaming ({err})")
                return
            t_receive = time.monotonic()
            if not ok or image is None:
                time.sleep(period / 4)  # nothing this time: the stall shows in the readers
                continue
            if image.shape[:2] != shape:
                self._stream.fail(
                    f"{self.name}: delivered a {image.shape[1]}x{image.shape[0]} frame, "
                    f"configured for {cfg.width}x{cfg.height}"
                )
                return
            t_capture = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not 0.0 <= t_receive - t_capture < 1.0:  # not the monotonic clock: unknown
                t_capture = t_receive
            missing = 0
            if last_capture is not None:
                missing = max(0, round((t_capture - last_capture) / period) - 1)
            seq, last_capture = seq + 1 + missing, t_capture
            if self._transform is not None:
                image = self._transform(image)
            self._stream.publish(Frame(np.asarray(image), t_capture, t_receive, seq), missing)

    def _timed_out(self, timeout_s: float) -> FrameTimeoutError:
        return self._stream.no_new_frame(timeout_s, STALL_HINT)


def _mode(mode: tuple[str, int, int, float]) -> str:
    fourcc, w, h, fps = mode
    return f"{fourcc} {w}x{h} at {fps:g} fps"
