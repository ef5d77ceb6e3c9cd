"""The probe's learning curve: how many episodes an input needs before its ridge reads the
expert's decision.

A pretrained feature is worth its pretraining where a reader learns from it with fewer
examples than from the raw input; at enough examples both may reach the same score. The curve
measures that: the same outer `folds`-fold split by episode as `probe.fit_and_score`, but in
each fold the ridge (its strength chosen by an inner CV on those episodes alone) is fitted on
a random `size` of the training episodes only, and the held-out predictions of all folds are
scored together. Each size is drawn `repeats` times with different subsets; the point is the
mean and the spread of those draws' R^2.

`transfer_curve` asks the same of a reader moved to another condition: fitted on `size`
episodes of one probe's data (e.g. pads of one sensor unit) and scored on every episode of
another's (other units: a gel swapped after the demonstrations). Numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.probe import ProbeData, ProbeError
from training.probe_ridge import (
    RELATIVE_STRENGTHS,
    episode_folds,
    ridge_predictions,
    score,
    select_strength,
)

MIN_SIZE = 4  # training episodes: the inner CV needs at least 2 folds of 2
PHASE = "at_contact"  # the curve is of the decision's own frame


@dataclass(frozen=True)
class CurvePoint:
    input: str
    episodes: int  # training episodes per fit
    r2: list[float]  # one per repeat
    cosine: list[float]  # one per repeat: is the direction right?

    def to_json(self) -> dict[str, Any]:
        r2 = np.array(self.r2)
        return {
            "input": self.input,
            "phase": PHASE,
            "episodes": self.episodes,
            "r2_mean": float(r2.mean()),
            "r2_std": float(r2.std()),
            "r2": [round(v, 4) for v in self.r2],
            "cosine_mean": float(np.mean(self.cosine)),
            "cosine": [round(v, 4) for v in self.cosine],
        }


def curve_inputs(data: ProbeData, wanted: Sequence[str] | None = None) -> list[str]:
    """The inputs to draw the curve of: `wanted`, or every tactile one at contact."""
    have = list(data.features[PHASE])
    if wanted is None:
        return [name for name in have if name.startswith("tactile") and name != "tactile_pose"]
    unknown = [name for name in wanted if name not in have]
    if unknown:
        raise ProbeError(f"no input {unknown} in the probe's data; it has {have}")
    return list(wanted)


def training_pool(data: ProbeData, folds: int = 5) -> int:
    """Training episodes of the smallest training split (the largest test fold's complement)."""
    episodes = len(np.unique(data.episodes))
    return episodes - -(-episodes // folds)


def curve_sizes(data: ProbeData, wanted: Sequence[int], folds: int = 5) -> list[int]:
    """`wanted` with every count above the training pool lowered to it, sorted, once each."""
    pool = training_pool(data, folds)
    return sorted({min(n, pool) for n in wanted})


def learning_curve(
    data: ProbeData,
    sizes: Sequence[int],
    inputs: Sequence[str] | None = None,
    repeats: int = 5,
    folds: int = 5,
) -> list[CurvePoint]:
    """R^2 at contact of each input's ridge fitted on `size` training episodes per fold."""
    pool = training_pool(data, folds)
    split = f"the training episodes of a {folds}-fold split of {len(np.unique(data.episodes))}"
    _check_draws("learning-curve", sizes, repeats, pool, split)
    test_folds = episode_folds(data.episodes, folds)
    points = []
    for name in curve_inputs(data, inputs):
        x = data.features[PHASE][name]  # (n, d)
        for size in sizes:
            r2, cosine = [], []
            for repeat in range(repeats):
                rng = np.random.default_rng([size, repeat])
                pred = np.empty_like(data.targets)
                for test in test_folds:
                    train_eps = np.unique(np.delete(data.episodes, test))
                    chosen = rng.choice(train_eps, size, replace=False)
                    train = np.flatnonzero(np.isin(data.episodes, chosen))
                    y = data.targets[train]
                    groups = data.episodes[train]
                    strength = select_strength(x[train], y, groups, folds, RELATIVE_STRENGTHS)
                    pred[test] = ridge_predictions(x[train], y, x[test], (strength,))[0]
                scores = score(data.targets, pred)
                r2.append(scores.r2)
                cosine.append(scores.cosine)
            points.append(CurvePoint(name, size, r2, cosine))
    return points


def transfer_curve(
    train: ProbeData,
    test: ProbeData,
    sizes: Sequence[int],
    inputs: Sequence[str] | None = None,
    repeats: int = 5,
    folds: int = 5,
) -> list[CurvePoint]:
    """R^2 and cosine at contact on all of `test`'s episodes of each input's ridge fitted on
    `size` of `train`'s (its strength by an inner CV on those alone)."""
    pool = len(np.unique(train.episodes))
    _check_draws("transfer", sizes, repeats, pool, "the training condition's episodes")
    shared = set(np.unique(train.episodes)) & set(np.unique(test.episodes))
    if shared:
        raise ProbeError(f"the two conditions share episodes {sorted(shared)[:5]}: seed them apart")
    points = []
    for name in curve_inputs(train, inputs):
        x, x_test = train.features[PHASE][name], test.features[PHASE][name]  # (n, d), (m, d)
        for size in sizes:
            r2, cosine = [], []
            for repeat in range(repeats):
                rng = np.random.default_rng([size, repeat])
                chosen = rng.choice(np.unique(train.episodes), size, replace=False)
                rows = np.flatnonzero(np.isin(train.episodes, chosen))
                y, groups = train.targets[rows], train.episodes[rows]
                strength = select_strength(x[rows], y, groups, folds, RELATIVE_STRENGTHS)
                pred = ridge_predictions(x[rows], y, x_test, (strength,))[0]
                scores = score(test.targets, pred)
                r2.append(scores.r2)
                cosine.append(scores.cosine)
            points.append(CurvePoint(name, size, r2, cosine))
    return points


def _check_draws(kind: str, sizes: Sequence[int], repeats: int, pool: int, of: str) -> None:
    bad = [n for n in sizes if not MIN_SIZE <= n <= pool]
    if bad:
        raise ProbeError(
            f"{kind} sizes {bad} are out of range: each must be {MIN_SIZE} to {pool} ({of})"
        )
    if repeats < 1:
        raise ProbeError(f"need at least 1 repeat, got {repeats}")


def format_curve(points: Sequence[CurvePoint], cosine: bool = False) -> str:
    """The curve as a table: one row per input, one column per size (mean R^2 +- spread; or
    of the cosine)."""
    sizes = sorted({p.episodes for p in points})
    names = list(dict.fromkeys(p.input for p in points))
    by = {(p.input, p.episodes): np.array(p.cosine if cosine else p.r2) for p in points}
    title = "cosine" if cosine else "R^2"
    lines = [f"{title + ' by training episodes':<26}" + "".join(f"{n:>14d}" for n in sizes)]
    for name in names:
        cells = [f"{by[name, n].mean():>8.3f} +-{by[name, n].std():.2f}" for n in sizes]
        lines.append(f"{name:<26}" + "".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)
