"""Sensing path: drops, latency and CPU of capture workers -> ring buffers -> aligner ->
preprocessing, against a naive loop reading every camera in turn, on replayed cameras.

The rig (issue 12's): two tactile pads, 320x240 at 60 fps, sent as MJPG and decoded on every
read, and two RGB-D cameras at 30 fps, 640x480, each a colour stream (raw RGB) and a depth
stream (uint16); a capture process per stream (on capture threads in the loop's process, the
RGB-D frames' copies contend with the loop for the interpreter lock, and on 2 cores the
latency's p99 went over the tactile frame period). The cameras are `drivers.uvc_replay`
replays of OpenCV's capture: frames exposed on the camera's clock, a 4-buffer V4L2 queue that
goes stale when nobody reads, frames lost when it is full. Both paths run for the same time,
one after the other, at a policy's 10 Hz, and preprocess the newest frame of every stream
alike (area resize to the policy's sizes, float32 in [0, 1]; depth in metres).

- pipeline: a worker per stream keeps its ring buffer current; each tick the aligner picks,
  for the observation times (2 steps of 0.1 s ending now), every stream's newest frame at or
  before each time, and the newest is preprocessed.
- naive: each tick calls `read()` on every camera in turn, then preprocesses what it got.

Figures per stream kind (tactile, rgbd):
- frames delivered, % of the frames the cameras exposed (gaps in the frame counter are drops;
  goal 100%), and against the naive loop;
- latency p50 / p99, ms from a frame's exposure to its use in a preprocessed observation, not
  counting the time it waited for the policy to ask: a worker's delivery (receive - capture)
  plus the tick's aligning and preprocessing; for the naive loop, whose read waits for the
  frame, everything from exposure to the end of its preprocessing. Against the frame period
  (goal p99 < 1 period) and against the naive loop;
- CPU share of both cores (this process and its capture processes), against the naive loop.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drivers.uvc import UVCCamera, UVCConfig
from drivers.uvc_replay import ReplayDevices, ReplaySource, replay_camera
from launch.bench import BenchOptions, BenchResult
from sensing.aligner import Aligner, observation_times
from sensing.capture import CaptureProcess, CaptureThread
from sensing.ring_buffer import RingBuffer

CONTROL_HZ = 10.0
N_OBS = 2
DEPTH_SCALE_M = 0.001  # metres per depth unit (a RealSense D4xx's default)
SECONDS, QUICK_SECONDS = 60.0, 3.0
WARMUP_S = 1.0


@dataclass(frozen=True)
class Stream:
    """One replayed camera stream of the benchmark rig."""

    key: str
    kind: str  # "tactile" | "rgbd": what its figures are pooled under
    size: tuple[int, int]  # (H, W) as the camera sends it
    fps: float
    depth: bool = False  # (H, W) uint16 instead of (H, W, 3) uint8
    jpeg: bool = False  # MJPG, decoded on every read
    process: bool = False  # a capture process instead of a thread
    policy_size: tuple[int, int] = (96, 96)  # (H, W) after preprocessing


RIG = (
    *(Stream(f"tactile_{side}", "tactile", (240, 320), 60.0, jpeg=True, process=True,
             policy_size=(60, 80)) for side in ("left", "right")),
    *(Stream(f"rgbd_{cam}.{part}", "rgbd", (480, 640), 30.0, depth=part == "depth",
             process=True) for cam in ("a", "b") for part in ("colour", "depth")),
)  # fmt: skip


def source(stream: Stream, seed: int) -> ReplaySource:
    """A few smooth, textured images (JPEG compresses them as it does camera frames)."""
    rng = np.random.default_rng(seed)
    h, w = stream.size
    images = []
    for _ in range(4):
        coarse = rng.integers(0, 256, (h // 16, w // 16, 1 if stream.depth else 3), np.uint8)
        image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        images.append((image.astype(np.uint16) * 8 + 300) if stream.depth else image)
    fourcc = "Z16 " if stream.depth else ("MJPG" if stream.jpeg else "RGB3")
    return ReplaySource(
        images, stream.fps, fourcc=fourcc, jitter_ms=1.0, seed=seed,
        jpeg_quality=90 if stream.jpeg else None,
    )  # fmt: skip


def preprocess(stream: Stream, image: np.ndarray) -> np.ndarray:
    """What a policy reads: (h, w, 3) float32 in [0, 1], or (h, w) depth in metres."""
    h, w = stream.policy_size
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    if stream.depth:
        return small.astype(np.float32) * DEPTH_SCALE_M
    return small.astype(np.float32) / 255.0


@dataclass
class Tally:
    """What one path measured, per stream."""

    delivered: dict[str, int]
    dropped: dict[str, int]
    latency_ms: dict[str, list[float]]
    cpu_share: float  # of all cores over the measured time
    ticks: int


def bench_sensing(options: BenchOptions) -> list[BenchResult]:
    seconds = QUICK_SECONDS if options.quick else SECONDS
    sources = {s.key: source(s, seed) for seed, s in enumerate(RIG)}
    pipeline = run_pipeline(sources, seconds)
    naive = run_naive(sources, seconds)
    results: list[BenchResult] = []
    for kind in ("tactile", "rgbd"):
        streams = [s for s in RIG if s.kind == kind]
        period_ms = 1000.0 / streams[0].fps
        ours, theirs = _pooled(pipeline, streams), _pooled(naive, streams)
        label = f"{len(streams)} streams at {streams[0].fps:g} fps"
        results += [
            BenchResult(f"sensing.{kind}.frames", ours["delivered"], "%", 100.0,
                        f"every frame exposed ({label})", goal=1.0),
            BenchResult(f"sensing.{kind}.frames_vs_naive", ours["delivered"], "%",
                        theirs["delivered"], "naive read-in-turn loop (same run)"),
            BenchResult(f"sensing.{kind}.latency_p50", ours["p50"], "ms", period_ms,
                        "frame period", higher_is_better=False),
            BenchResult(f"sensing.{kind}.latency_p99", ours["p99"], "ms", period_ms,
                        "frame period", higher_is_better=False, goal=1.0),
            BenchResult(f"sensing.{kind}.latency_p99_vs_naive", ours["p99"], "ms", theirs["p99"],
                        "naive read-in-turn loop (same run)", higher_is_better=False),
        ]  # fmt: skip
    results.append(
        BenchResult("sensing.cpu", 100.0 * pipeline.cpu_share, "% of cores",
                    100.0 * naive.cpu_share, "naive read-in-turn loop (same run)",
                    higher_is_better=False)
    )  # fmt: skip
    return results


def run_pipeline(sources: dict[str, ReplaySource], seconds: float) -> Tally:
    """Workers -> ring buffers -> aligner -> preprocessing, ticking at CONTROL_HZ."""
    buffers = {
        s.key: RingBuffer.create(16, s.size if s.depth else (*s.size, 3),
                                 "uint16" if s.depth else "uint8")
        for s in RIG
    }  # fmt: skip
    local = ReplayDevices({i: sources[s.key] for i, s in enumerate(RIG) if not s.process})
    workers: list[CaptureThread | CaptureProcess] = []
    cameras: list[UVCCamera] = []
    try:
        with replayed(local):
            for i, s in enumerate(RIG):
                config = _config(s, i, sources[s.key])
                if s.process:
                    factory = functools.partial(replay_camera, config, {i: sources[s.key]})
                    workers.append(CaptureProcess(s.key, factory, buffers[s.key]).start())
                else:
                    cameras.append(UVCCamera(config))
                    cameras[-1].connect()
                    workers.append(CaptureThread(s.key, cameras[-1], buffers[s.key]).start())
            aligner = Aligner(buffers, {s.key: 3.0 / s.fps + 0.05 for s in RIG})
            _wait_for_frames(buffers, workers)
            pids = [w.pid for w in workers if isinstance(w, CaptureProcess)]
            streams = {s.key: s for s in RIG}
            latency: dict[str, list[float]] = {s.key: [] for s in RIG}

            def tick(now: float) -> None:
                aligned = aligner.observe(observation_times(now, N_OBS, 1.0 / CONTROL_HZ))
                for key, frames in aligned.frames.items():
                    preprocess(streams[key], frames[-1])
                done = time.monotonic()
                for key in aligned.frames:
                    delivery = aligned.t_receive[key][-1] - aligned.t_capture[key][-1]
                    latency[key].append((delivery + done - now) * 1000.0)

            cpu, ticks = _ticking(tick, seconds, pids)
            counts = {k: b.count for k, b in buffers.items()}
            drops = {k: w.stats().dropped for k, w in zip(buffers, workers, strict=True)}
    finally:
        for worker in workers:
            worker.stop()
        for camera in cameras:
            camera.close()
        for buffer in buffers.values():
            buffer.close()
            buffer.unlink()
    for worker in workers:
        worker.check()
    return Tally(counts, drops, latency, cpu, ticks)


def run_naive(sources: dict[str, ReplaySource], seconds: float) -> Tally:
    """One loop: `read()` every camera in turn, then preprocess what came back."""
    devices = ReplayDevices({s.key: sources[s.key] for s in RIG})
    captures = {s.key: devices.video_capture(s.key) for s in RIG}
    latency: dict[str, list[float]] = {s.key: [] for s in RIG}
    stamps: dict[str, list[float]] = {s.key: [] for s in RIG}
    streams = {s.key: s for s in RIG}

    def tick(now: float) -> None:
        got = {}
        for s in RIG:
            ok, image = captures[s.key].read()
            if ok and image is not None:
                got[s.key] = image
                stamps[s.key].append(captures[s.key].get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
        for key, image in got.items():
            preprocess(streams[key], image)
        done = time.monotonic()
        for key in got:
            latency[key].append((done - stamps[key][-1]) * 1000.0)

    for capture in captures.values():  # start every clock, as opening a camera does
        capture.read()
    cpu, ticks = _ticking(tick, seconds, [], paced=False)
    for capture in captures.values():
        capture.release()
    drops = {k: _gaps(t, streams[k].fps) for k, t in stamps.items()}
    return Tally({k: len(t) for k, t in stamps.items()}, drops, latency, cpu, ticks)


@contextmanager
def replayed(devices: ReplayDevices) -> Iterator[None]:
    """OpenCV's capture replaced by `devices` in this process, restored afterwards."""
    real = cv2.VideoCapture
    cv2.VideoCapture = devices.video_capture  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        cv2.VideoCapture = real  # type: ignore[misc]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) of this process and of `pids` so far (Linux /proc)."""
    total = time.process_time()
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _ticking(
    tick: Callable[[float], None], seconds: float, pids: list[int], paced: bool = True
) -> tuple[float, int]:
    """Call `tick(now)` for `seconds` (at CONTROL_HZ when `paced`, else back to back), after
    WARMUP_S of the same; returns (CPU share of all cores, ticks measured)."""
    period = 1.0 / CONTROL_HZ
    start = time.monotonic()
    measured_from, cpu_from, ticks = start + WARMUP_S, 0.0, 0
    n = 0
    while (now := time.monotonic()) < measured_from + seconds:
        if cpu_from == 0.0 and now >= measured_from:
            cpu_from, measured_from = cpu_seconds(pids), now
        tick(now)
        ticks += now >= measured_from
        n += 1
        if paced:
            time.sleep(max(0.0, start + n * period - time.monotonic()))
    wall = time.monotonic() - measured_from
    return (cpu_seconds(pids) - cpu_from) / (wall * (os.cpu_count() or 1)), ticks


def _wait_for_frames(
    buffers: dict[str, RingBuffer], workers: list[CaptureThread | CaptureProcess]
) -> None:
    deadline = time.monotonic() + 20.0
    while any(b.count == 0 for b in buffers.values()):
        for worker in workers:
            worker.check()
        if time.monotonic() > deadline:
            silent = [k for k, b in buffers.items() if b.count == 0]
            raise RuntimeError(f"no frame from {silent} in 20 s")
        time.sleep(0.05)
    time.sleep((N_OBS - 1) / CONTROL_HZ + 0.05)  # every stream covers the observation horizon


def _gaps(stamps: list[float], fps: float) -> int:
    """Frames missing between consecutive capture times (the UVC driver's count)."""
    steps = np.round(np.diff(np.asarray(stamps)) * fps) - 1
    return int(np.clip(steps, 0, None).sum())


def _pooled(tally: Tally, streams: list[Stream]) -> dict[str, float]:
    delivered = sum(tally.delivered[s.key] for s in streams)
    dropped = sum(tally.dropped[s.key] for s in streams)
    latency = np.concatenate([tally.latency_ms[s.key] for s in streams])
    return {
        "delivered": 100.0 * delivered / max(1, delivered + dropped),
        "p50": float(np.percentile(latency, 50)),
        "p99": float(np.percentile(latency, 99)),
    }


def _config(stream: Stream, index: int, src: ReplaySource) -> UVCConfig:
    h, w = stream.size
    return UVCConfig(name=stream.key, device=index, fourcc=src.fourcc, width=w, height=h,
                     fps=stream.fps)  # fmt: skip
