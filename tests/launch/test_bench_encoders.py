"""`bench_encoders`: best-of-N milliseconds per forward, ours against timm's ViT, through a
fake clock that each model's forward advances by a known amount."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import timm.models.vision_transformer as timm_vit

import launch.benchmarks.encoders as bench_module
from launch.bench import BenchOptions
from launch.benchmarks.encoders import bench_encoders, best_of_alternating
from policies.encoders import TactileTransformer
from tests.launch.fake_clock import FakeClock


def test_each_figure_is_ours_against_timms_same_size_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(bench_module, "time", clock.as_time_module())
    seen: list[tuple[str, int, tuple[int, ...]]] = []

    def ours(self: TactileTransformer, x: Any, sensor: str) -> None:
        seen.append(("ours", self.config.width, tuple(x.shape)))
        clock.advance(0.002)

    def peer(self: timm_vit.VisionTransformer, x: Any) -> None:
        seen.append(("timm", self.embed_dim, tuple(x.shape)))
        clock.advance(0.004)

    monkeypatch.setattr(TactileTransformer, "tokens", ours)
    monkeypatch.setattr(timm_vit.VisionTransformer, "forward_features", peer)
    (result,) = bench_encoders(BenchOptions(workdir=tmp_path, quick=True))
    assert result.name == "encoders.tiny.batch1" and result.unit == "ms/forward"
    assert result.value == pytest.approx(2.0) and result.reference == pytest.approx(4.0)
    assert result.meets_goal is True and not result.higher_is_better
    # a warm-up each, then 2 alternating timed runs; both models at tiny width on (1, 3, 224, 224)
    assert [s[0] for s in seen] == ["ours", "timm"] * 3
    assert {s[1:] for s in seen} == {(192, (1, 3, 224, 224))}


def test_best_of_keeps_each_sides_fastest_run(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(bench_module, "time", clock.as_time_module())
    costs = iter([9.0, 9.0, 3.0, 5.0, 2.0, 6.0, 4.0, 4.5])  # warm-ups, then a, b, a, b, a, b
    step = lambda: clock.advance(next(costs) / 1000.0)  # noqa: E731
    assert best_of_alternating(step, step, repeats=3) == pytest.approx((2.0, 4.5))
