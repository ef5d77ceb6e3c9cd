"""`bench_policy_data`: the trainer's window gathering against a training step, same run,
through a fake clock that each side advances by a known amount."""

from __future__ import annotations

from pathlib import Path

import pytest

import launch.benchmarks.encoder_data as timing_module
from launch.bench import BenchOptions
from launch.benchmarks.policy_data import BATCH, bench_policy_data
from policies.diffusion import DiffusionPolicy
from tests.launch.fake_clock import FakeClock
from training.dataset import WindowDataset


def test_gathering_and_stepping_are_timed_on_the_same_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(timing_module, "time", clock.as_time_module())
    real_batch, real_loss = WindowDataset.batch, DiffusionPolicy.compute_loss
    gathered: list[int] = []
    stepped: list[tuple[int, ...]] = []

    def batch(self, indices):  # type: ignore[no-untyped-def]
        gathered.append(len(indices))
        clock.advance(0.004)  # 64 windows in 4 ms: 16000 windows/s
        return real_batch(self, indices)

    def loss(self, batch):  # type: ignore[no-untyped-def]
        stepped.append(tuple(batch["rgb.scene"].shape))
        clock.advance(0.200)  # 64 windows in 200 ms: 320 windows/s
        return real_loss(self, batch)

    monkeypatch.setattr(WindowDataset, "batch", batch)
    monkeypatch.setattr(DiffusionPolicy, "compute_loss", loss)
    (result,) = bench_policy_data(BenchOptions(workdir=tmp_path, quick=True))
    assert result.name == "policies.data_pipeline" and result.unit == "windows/s"
    assert result.value == pytest.approx(16000) and result.reference == pytest.approx(320)
    assert result.meets_goal is True and result.goal == 10.0
    assert set(gathered) == {BATCH}
    assert set(stepped) == {(BATCH, 2, 96, 96, 3)}  # default T_o, the rig's camera size
