from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import training.plots as plots
from training.eval_stats import EvalResult


def _figure(metrics: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    closed: list[Any] = []
    monkeypatch.setattr(plots.plt, "close", closed.append)
    result = EvalResult("policy", successes=[True, False], lengths=[3, 4], seeds=[0, 1])
    path = plots.plot_summary(metrics, [result], tmp_path / "s.png", "t")
    assert path.stat().st_size > 0
    return closed[0]


def test_rollout_success_gets_its_own_axis_beside_the_losses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = [{"step": s, "loss": 1.0 / s, "val_loss": None, "success": None} for s in (1, 2)]
    assert len(_figure(plain, tmp_path, monkeypatch).axes) == 2
    rolled = [*plain, {"step": 3, "loss": 0.3, "val_loss": 0.4, "success": 0.6}]
    figure = _figure(rolled, tmp_path, monkeypatch)
    assert len(figure.axes) == 3
    (line,) = figure.axes[2].get_lines()
    assert list(line.get_xdata()) == [3] and list(line.get_ydata()) == [0.6]
