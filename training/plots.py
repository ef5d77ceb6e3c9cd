"""Figures written next to every run: training curves and success rates with intervals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt

from training.eval_stats import EvalResult


def plot_summary(
    metrics: Sequence[dict[str, Any]] | None,
    results: Sequence[EvalResult],
    path: Path,
    title: str,
) -> Path:
    """Left: train/val loss per step (log scale) and rollout success when the run selected
    checkpoints by rollouts. Right: success rate per actor, 95% CI.

    Without training `metrics` (None or empty, e.g. evaluating a checkpoint on its own) the
    figure has the success-rate panel only.
    """
    if metrics:
        fig, (ax_loss, ax_success) = plt.subplots(1, 2, figsize=(10, 4))
        _plot_losses(ax_loss, metrics)
    else:
        fig, ax_success = plt.subplots(1, 1, figsize=(5.5, 4))

    names = [r.name for r in results]
    rates = [r.success_rate for r in results]
    errors = [
        [r.success_rate - r.interval[0] for r in results],
        [r.interval[1] - r.success_rate for r in results],
    ]
    ax_success.bar(
        names, rates, yerr=errors, capsize=6, color=["C2", "C7", "C1", "C0"][: len(names)]
    )
    for i, r in enumerate(results):
        ax_success.text(
            i,
            r.interval[1] + 0.02,
            f"{r.success_rate:.0%} (n={r.episodes})",
            ha="center",
            va="bottom",
        )
    ax_success.set(ylim=(0, 1.15), ylabel="success rate", title="evaluation (95% Wilson CI)")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_losses(ax: Any, metrics: Sequence[dict[str, Any]]) -> None:
    steps = [m["step"] for m in metrics]
    ax.plot(steps, [m["loss"] for m in metrics], label="train")
    val = [(m["step"], m["val_loss"]) for m in metrics if m.get("val_loss") is not None]
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation")
    ax.set(xlabel="step", ylabel="loss", yscale="log", title="training")
    rolled = [(m["step"], m["success"]) for m in metrics if m.get("success") is not None]
    if rolled:  # the rollouts' success on a second axis
        twin = ax.twinx()
        twin.plot(*zip(*rolled, strict=True), "s--", color="C2", label="rollout success")
        twin.set(ylim=(0, 1.05), ylabel="rollout success")
        twin.legend(loc="upper center")
    ax.legend()
    ax.grid(alpha=0.3)


def plot_pretrain(metrics: Sequence[dict[str, Any]], path: Path, window: int = 20) -> Path:
    """Pretraining: left, each (data set, task) pair's train loss (mean of its last `window`
    draws) per step; right, each pair's validation metric per step (accuracy, RMSE or MAE
    loss, one line each, labelled with its unit)."""
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    by_pair: dict[str, list[tuple[int, float]]] = {}
    for m in metrics:
        if "pair" in m:
            by_pair.setdefault(m["pair"], []).append((m["step"], m["loss"]))
    for pair, points in sorted(by_pair.items()):
        steps, losses = zip(*points, strict=True)
        smooth = [
            sum(losses[max(0, i - window + 1) : i + 1]) / min(i + 1, window)
            for i in range(len(losses))
        ]
        ax_loss.plot(steps, smooth, label=pair)
    ax_loss.set(xlabel="step", ylabel="train loss", yscale="log", title="training, per pair")
    if by_pair:  # a run of no steps has no curve to label
        ax_loss.legend(fontsize=7)
    ax_loss.grid(alpha=0.3)
    validated = [m for m in metrics if "val" in m]
    pairs = sorted({p for m in validated for p in m["val"]})
    for pair in pairs:
        metric = next(iter(validated[-1]["val"][pair]))
        points = [(m["step"], m["val"][pair][metric]) for m in validated if pair in m["val"]]
        ax_val.plot(*zip(*points, strict=True), "o-", label=f"{pair} ({metric})")
    ax_val.set(xlabel="step", ylabel="metric", title="validation, per pair")
    ax_val.legend(fontsize=7)
    ax_val.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
