"""Episode-store throughput (`vitac bench store`) against raw np.memmap files, in the same run.

The same synthetic frames (96x96x3 uint8 image, 7 float32 low-dim, timestamp; episodes of
100 frames) are written through `EpisodeWriter` and through a minimal baseline (one raw file
per key appended per flush block, plus an episode-ends array, read back with np.memmap). The
same random windows (horizon 16, batches of 64) are then read through `WindowSampler` from
the zarr arrays on disk, from `EpisodeStore.load()` in memory, and from the memmaps.
Every figure is frames/s (a window of 16 steps counts 16 frames) with the memmap as reference;
reads keep the best of 3 runs (the machine is shared), writes run once (each needs a new store).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from drivers.spec import FieldSpec
from launch.bench import BenchOptions, BenchResult
from sensing.store import EpisodeStore, EpisodeWriter, FrameSource, WindowSampler

SCHEMA = {
    "rgb.scene": FieldSpec(shape=(96, 96, 3), dtype="uint8", sensor="scene"),
    "proprio.ee_pose": FieldSpec(shape=(7,), dtype="float32", units="m, rad"),
}
EPISODE_LEN = 100
FLUSH_EVERY = 32
HORIZON, BATCH = 16, 64
REFERENCE = "np.memmap files (same run)"


def bench_store(options: BenchOptions) -> list[BenchResult]:
    n_frames = 300 if options.quick else 3000
    disk_batches, memory_repeats = (3, 3) if options.quick else (20, 10)
    root = options.workdir / "store"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    frames = synthetic_frames(n_frames)

    write_store = _timed(lambda: _write_store(root / "episodes.zarr", frames))
    write_memmap = _timed(lambda: _write_memmap(root / "memmap", frames))

    store = EpisodeStore.open(root / "episodes.zarr")
    memmaps = _open_memmap(root / "memmap")
    sampler = WindowSampler(store.episode_ends, HORIZON, pad_before=1, pad_after=7)
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, len(sampler), BATCH) for _ in range(disk_batches)]
    _check_same(
        sampler.sample_batch(store.arrays(), batches[0]), sampler.sample_batch(memmaps, batches[0])
    )

    best = 1 if options.quick else 3  # reads are repeated and the best time kept (shared CPUs)
    read_zarr = _timed(lambda: _read_windows(sampler, store.arrays(), batches), best)
    read_memmap = _timed(lambda: _read_windows(sampler, memmaps, batches), best)
    loaded: dict[str, np.ndarray] = {}
    load_store = _timed(lambda: loaded.update(store.load()), best)
    load_memmap = _timed(lambda: {k: np.array(v) for k, v in memmaps.items()}, best)
    repeated = batches * memory_repeats
    read_memory = _timed(lambda: _read_windows(sampler, loaded, repeated), best)
    read_memmap_repeated = _timed(lambda: _read_windows(sampler, memmaps, repeated), best)

    window_frames = BATCH * HORIZON * len(batches)
    return [
        BenchResult(
            "store.write", n_frames / write_store, "frames/s", n_frames / write_memmap, REFERENCE
        ),
        BenchResult(
            "store.read_windows.zarr",
            window_frames / read_zarr,
            "frames/s",
            window_frames / read_memmap,
            REFERENCE,
        ),
        BenchResult(
            "store.load", n_frames / load_store, "frames/s", n_frames / load_memmap, REFERENCE
        ),
        BenchResult(
            "store.read_windows.memory",
            window_frames * memory_repeats / read_memory,
            "frames/s",
            window_frames * memory_repeats / read_memmap_repeated,
            REFERENCE,
        ),
    ]


def synthetic_frames(n: int) -> dict[str, np.ndarray]:
    """Camera-like images (a drifting gradient plus sensor noise), a random walk, timestamps."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:96]
    drift = np.arange(n)[:, None, None]
    base = ((x[None] + y[None] + drift) % 256).astype(np.uint8)  # (n, 96, 96)
    images = np.repeat(base[..., None], 3, axis=3) + rng.integers(0, 8, (n, 96, 96, 3), np.uint8)
    return {
        "rgb.scene": images,
        "proprio.ee_pose": np.cumsum(rng.normal(0, 0.01, (n, 7)), axis=0).astype(np.float32),
        "timestamp": np.arange(n) / 10.0,
    }


def _write_store(path: Path, frames: Mapping[str, np.ndarray]) -> None:
    n = len(frames["timestamp"])
    with EpisodeWriter.create(path, SCHEMA, {"bench": "store"}, flush_every=FLUSH_EVERY) as writer:
        for i in range(n):
            writer.add({key: frames[key][i] for key in SCHEMA}, float(frames["timestamp"][i]))
            if (i + 1) % EPISODE_LEN == 0 or i + 1 == n:
                writer.commit(success=True, seed=i)


def _write_memmap(folder: Path, frames: Mapping[str, np.ndarray]) -> None:
    """The baseline: per key, a raw file appended one flush block at a time; ends as .npy."""
    folder.mkdir()
    n = len(frames["timestamp"])
    files = {key: (folder / f"{key}.bin").open("wb") for key in frames}
    buffers = {key: np.empty((FLUSH_EVERY, *v.shape[1:]), v.dtype) for key, v in frames.items()}
    ends: list[int] = []
    filled = 0
    try:
        for i in range(n):
            for key, values in frames.items():
                buffers[key][filled] = values[i]
            filled += 1
            episode_done = (i + 1) % EPISODE_LEN == 0 or i + 1 == n
            if filled == FLUSH_EVERY or episode_done:
                for key, file in files.items():
                    file.write(buffers[key][:filled].tobytes())
                    file.flush()
                filled = 0
            if episode_done:
                ends.append(i + 1)
                np.save(folder / "episode_ends.npy", np.asarray(ends, np.int64))
    finally:
        for file in files.values():
            file.close()
    layout = {key: [list(v.shape[1:]), v.dtype.str] for key, v in frames.items()}
    (folder / "layout.json").write_text(json.dumps(layout))


def _open_memmap(folder: Path) -> dict[str, np.ndarray]:
    layout: dict[str, Any] = json.loads((folder / "layout.json").read_text())
    n = int(np.load(folder / "episode_ends.npy")[-1])
    return {
        key: np.memmap(folder / f"{key}.bin", np.dtype(dtype), "r", shape=(n, *shape))
        for key, (shape, dtype) in layout.items()
    }


def _read_windows(
    sampler: WindowSampler, data: Mapping[str, FrameSource], batches: list[np.ndarray]
) -> None:
    for batch in batches:  # each result is dropped, as a training step would consume it
        sampler.sample_batch(data, batch)


def _check_same(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> None:
    for key in b:
        if not np.array_equal(a[key], b[key]):
            raise AssertionError(f"store and memmap windows differ for {key}")


def _timed(action: Callable[[], object], repeats: int = 1) -> float:
    """Best wall time of `repeats` runs of `action`, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-9)
