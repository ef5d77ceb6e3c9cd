"""A stand-in for `cv2.VideoCapture` that replays images as a UVC camera on V4L2 delivers
them: at a frame rate, with timing jitter, frames the bus loses, a driver queue of a few
buffers that goes stale when nobody reads, and faults (busy, unplugged, wrong size).

Patch it in where OpenCV is called (tests, `vitac bench sensing`, demos without hardware):

    devices = ReplayDevices({"/dev/video0": ReplaySource(images, fps=25)})
    monkeypatch.setattr(cv2, "VideoCapture", devices.video_capture)

A source serves the modes it lists; asked for another, it keeps its own, as V4L2 does, and
reports what it kept through `get`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from drivers.uvc import UVCCamera, UVCConfig, fourcc_code, fourcc_text


@dataclass
class ReplaySource:
    """One replayed camera. Frame i is exposed at t0 + i / fps + jitter_i (t0: when it is
    opened) and shows images[i % len(images)]; frames in `lost` never arrive; from frame
    `unplug_at` on nothing does; from `wrong_size_at` on frames come at half size."""

    images: Sequence[np.ndarray]
    fps: float
    fourcc: str = "MJPG"
    jitter_ms: float = 0.0
    lost: frozenset[int] = frozenset()
    unplug_at: int | None = None
    wrong_size_at: int | None = None
    busy: bool = False
    jpeg_quality: int | None = None  # MJPG: frames travel compressed and `read` decodes them
    buffers: int = 4  # V4L2's default queue in OpenCV: frames wait here, oldest first
    seed: int = 0
    modes: list[tuple[str, int, int, float]] = field(default_factory=list)  # extra modes

    def mode(self) -> tuple[str, int, int, float]:
        h, w = self.images[0].shape[:2]
        return self.fourcc, w, h, self.fps


class ReplayDevices:
    """Paths (or indices) -> sources; `video_capture` has `cv2.VideoCapture`'s signature."""

    def __init__(self, sources: dict[str | int, ReplaySource]) -> None:
        self.sources = sources
        self.opened: dict[str | int, ReplayCapture] = {}

    def video_capture(self, device: str | int, api: int = cv2.CAP_ANY) -> ReplayCapture:
        capture = ReplayCapture(self.sources.get(device))
        if capture.isOpened():
            self.opened[device] = capture
        return capture


class ReplayCapture:
    """The part of `cv2.VideoCapture` a driver uses: isOpened, set, get, read, release."""

    def __init__(self, source: ReplaySource | None) -> None:
        self._source = source
        self._open = source is not None and not source.busy
        self._mode = source.mode() if source is not None else ("", 0, 0, 0.0)
        self._asked: dict[int, float] = {}
        self.calls: list[int] = []  # properties set, in order, for tests
        self._next = 0  # the first frame not yet read
        self._t0 = 0.0
        self._lock = threading.Lock()
        self._pos_ms = 0.0
        self._jpeg: dict[int, np.ndarray] = {}  # image index -> its encoded bytes
        self.read_frames: list[int] = []  # indices read, for tests

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self._open

    def set(self, prop: int, value: float) -> bool:
        """Size, FOURCC and FPS take effect together if the source offers that mode."""
        if not self._open or self._source is None:
            return False
        self._asked[prop] = value
        self.calls.append(prop)
        if prop in (cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT,
                    cv2.CAP_PROP_FPS):  # fmt: skip
            fourcc, w, h, fps = self._mode
            wanted = (
                fourcc_text(self._asked.get(cv2.CAP_PROP_FOURCC, fourcc_code(fourcc))),
                int(self._asked.get(cv2.CAP_PROP_FRAME_WIDTH, w)),
                int(self._asked.get(cv2.CAP_PROP_FRAME_HEIGHT, h)),
                float(self._asked.get(cv2.CAP_PROP_FPS, fps)),
            )
            offered = [self._source.mode(), *self._source.modes]
            if wanted in offered:
                self._mode = wanted
            return wanted in offered
        return True

    def get(self, prop: int) -> float:
        fourcc, w, h, fps = self._mode
        known = {
            cv2.CAP_PROP_FOURCC: float(fourcc_code(fourcc)),
            cv2.CAP_PROP_FRAME_WIDTH: float(w),
            cv2.CAP_PROP_FRAME_HEIGHT: float(h),
            cv2.CAP_PROP_FPS: fps,
            cv2.CAP_PROP_POS_MSEC: self._pos_ms,
        }
        return known.get(prop, self._asked.get(prop, 0.0))

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The oldest queued frame, waiting for the next exposure when the queue is empty;
        frames that found the queue full were overwritten (lost), as V4L2 does."""
        source = self._source
        if not self._open or source is None:
            return False, None
        with self._lock:
            if not self._t0:
                self._t0 = time.monotonic()
            now = time.monotonic()
            newest = int((now - self._t0) * self._mode[3])  # exposed by now (about)
            index = max(self._next, newest - source.buffers + 1)
            while index in source.lost:
                index += 1
            if source.unplug_at is not None and index >= source.unplug_at:
                time.sleep(1.0 / self._mode[3])
                return False, None
            t_exposed = self._t0 + index / self._mode[3] + self._jitter(index)
            time.sleep(max(0.0, t_exposed - time.monotonic()))
            self._next = index + 1
            self._pos_ms = t_exposed * 1000.0
            self.read_frames.append(index)
            image = self._image(index)
        return True, image

    def release(self) -> None:
        self._open = False

    def _jitter(self, index: int) -> float:
        assert self._source is not None
        if not self._source.jitter_ms:
            return 0.0
        rng = np.random.default_rng([self._source.seed, index])
        return float(rng.uniform(0.0, self._source.jitter_ms)) / 1000.0

    def _image(self, index: int) -> np.ndarray:
        assert self._source is not None
        _, w, h, _ = self._mode
        image = self._source.images[index % len(self._source.images)]
        if image.shape[:2] != (h, w):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        if self._source.jpeg_quality is not None:  # decoded on every read, as OpenCV does
            key = index % len(self._source.images)
            if key not in self._jpeg:
                quality = [cv2.IMWRITE_JPEG_QUALITY, self._source.jpeg_quality]
                self._jpeg[key] = cv2.imencode(".jpg", image, quality)[1]
            image = np.asarray(cv2.imdecode(self._jpeg[key], cv2.IMREAD_COLOR))
        if self._source.wrong_size_at is not None and index >= self._source.wrong_size_at:
            image = image[: h // 2, : w // 2]
        return image.copy()


def replay_camera(config: UVCConfig, sources: dict[str | int, ReplaySource]) -> UVCCamera:
    """A UVC camera whose OpenCV capture, in this process, is a replay of `sources`: a
    picklable factory for a capture process (`functools.partial(replay_camera, config,
    sources)`); it replaces `cv2.VideoCapture` for the whole process it runs in."""
    cv2.VideoCapture = ReplayDevices(sources).video_capture  # type: ignore[misc,assignment]
    return UVCCamera(config)
