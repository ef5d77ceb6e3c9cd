"""`bench_encoder_data`: the data pipeline's images/s against a training step's, same run,
through a fake clock that each side advances by a known amount."""

from __future__ import annotations

from pathlib import Path

import pytest

import launch.benchmarks.encoder_data as bench_module
from launch.bench import BenchOptions
from launch.benchmarks.encoder_data import bench_encoder_data
from tests.launch.fake_clock import FakeClock


def test_pipeline_and_step_are_timed_on_the_same_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(bench_module, "time", clock.as_time_module())
    real_to_batch, real_step = bench_module.to_batch, bench_module.F.cross_entropy
    prepared: list[int] = []

    def to_batch(samples, *args, **kwargs):  # type: ignore[no-untyped-def]
        prepared.append(len(samples))
        clock.advance(0.010)  # 32 images in 10 ms: 3200 images/s
        return real_to_batch(samples, *args, **kwargs)

    def loss(*args, **kwargs):  # type: ignore[no-untyped-def]
        clock.advance(0.040)  # 32 images in 40 ms: 800 images/s
        return real_step(*args, **kwargs)

    monkeypatch.setattr(bench_module, "to_batch", to_batch)
    monkeypatch.setattr(bench_module.F, "cross_entropy", loss)
    (result,) = bench_encoder_data(BenchOptions(workdir=tmp_path, quick=True))
    assert result.name == "encoders.pipeline" and result.unit == "images/s"
    assert result.value == pytest.approx(3200) and result.reference == pytest.approx(800)
    assert result.meets_goal is True and result.higher_is_better
    assert set(prepared) == {32}  # batches of the default pretraining size
    made = sorted(p.name for p in (tmp_path / "encoder-data").iterdir())
    bench_encoder_data(BenchOptions(workdir=tmp_path, quick=True))  # the data is made once
    assert sorted(p.name for p in (tmp_path / "encoder-data").iterdir()) == made == ["sim_mini"]
