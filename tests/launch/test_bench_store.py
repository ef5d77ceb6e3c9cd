"""`bench_store`: frames/s of writes, window reads and loads against np.memmap, the same frames
through both; the accounting is checked through a clock that ticks 0.5 s per reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import launch.benchmarks.store as bench_module
from launch.bench import BenchOptions
from launch.benchmarks.store import BATCH, HORIZON, bench_store
from sensing.store import EpisodeStore
from tests.launch.fake_clock import FakeClock


class TickingClock(FakeClock):
    def perf_counter(self) -> float:
        self.advance(0.5)  # every timed action takes exactly 0.5 s
        return self.now


def test_each_figure_counts_the_frames_it_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_module, "time", TickingClock().as_time_module())
    results = {r.name: r for r in bench_store(BenchOptions(workdir=tmp_path, quick=True))}
    assert list(results) == [
        "store.write",
        "store.read_windows.zarr",
        "store.load",
        "store.read_windows.memory",
    ]
    frames, windows = 300, 3 * BATCH * HORIZON  # quick: 300 frames, 3 batches of windows
    assert results["store.write"].value == pytest.approx(frames / 0.5)
    assert results["store.load"].value == pytest.approx(frames / 0.5)
    assert results["store.read_windows.zarr"].value == pytest.approx(windows / 0.5)
    assert results["store.read_windows.memory"].value == pytest.approx(3 * windows / 0.5)
    for result in results.values():  # same clock, same work: the peer's figure is the same
        assert result.ratio == pytest.approx(1.0) and result.unit == "frames/s"
        assert result.higher_is_better and "memmap" in result.reference_name
    # what was written is what the benchmark says: 300 frames in episodes of 100
    store = EpisodeStore.open(tmp_path / "store" / "episodes.zarr", verify=True)
    assert store.episode_ends.tolist() == [100, 200, 300]
    expected = bench_module.synthetic_frames(frames)
    np.testing.assert_array_equal(store.load()["rgb.scene"], expected["rgb.scene"])


def test_a_store_that_reads_back_other_windows_than_the_memmap_fails_the_benchmark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bench_module.synthetic_frames

    def corrupt_after_write(n: int) -> dict[str, np.ndarray]:
        frames = real(n)
        original = bench_module._write_memmap

        def write(folder: Path, data: dict[str, np.ndarray]) -> None:
            altered = dict(data)
            altered["proprio.ee_pose"] = data["proprio.ee_pose"] + 1.0
            original(folder, altered)

        monkeypatch.setattr(bench_module, "_write_memmap", write)
        return frames

    monkeypatch.setattr(bench_module, "synthetic_frames", corrupt_after_write)
    with pytest.raises(AssertionError, match="store and memmap windows differ for proprio"):
        bench_store(BenchOptions(workdir=tmp_path, quick=True))
