"""Ridge regression scored by cross-validation split by episode: the probe's regressor.

Numpy only. Features are standardised with the training fold's statistics; the ridge strength
is chosen by an inner cross-validation on the training folds only; every sample is predicted
once, by a model fitted without any sample of its episode (`cross_validated_predictions`).
`score` turns the held-out predictions of a 2-D target into R^2, cosine and quadrant accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

# Ridge strengths, relative to the mean squared singular value of the standardised training
# features, so that one grid fits inputs of 16 and of 800 features alike.
RELATIVE_STRENGTHS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-4, 3, 15))


def episode_folds(groups: NDArray[np.int64], k: int, seed: int = 0) -> list[NDArray[np.intp]]:
    """Sample indices of `k` test folds that split the episodes (`groups`), not the samples.

    Episodes are shuffled with `seed` and dealt round robin, so fold sizes differ by at most
    one episode and every episode's samples land in exactly one fold.
    """
    episodes = np.unique(groups)
    if not 2 <= k <= len(episodes):
        raise ValueError(f"need 2 <= k <= number of episodes ({len(episodes)}), got k={k}")
    order = np.random.default_rng(seed).permutation(episodes)
    return [np.flatnonzero(np.isin(groups, order[i::k])) for i in range(k)]


def ridge_predictions(
    x_train: F64, y_train: F64, x_test: F64, strengths: tuple[float, ...]
) -> NDArray[np.float64]:
    """Predictions on `x_test` (n_s, d_y) of ridge fits on the training data, one per strength.

    Closed form through one SVD of the standardised training features; the intercept is the
    training targets' mean (unpenalised). Returns (len(strengths), n_test, d_y).
    """
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0  # a constant feature stays 0 after centring
    xt, xs = (x_train - mean) / std, (x_test - mean) / std
    y_mean = y_train.mean(axis=0)
    u, s, vt = np.linalg.svd(xt, full_matrices=False)  # xt = u diag(s) vt
    uty = u.T @ (y_train - y_mean)  # (r, d_y)
    proj = xs @ vt.T  # (n_test, r)
    scale = float(np.mean(s**2)) if s.size and np.any(s > 0) else 1.0
    out = np.empty((len(strengths), x_test.shape[0], y_train.shape[1]))
    for i, c in enumerate(strengths):
        shrink = s / (s**2 + c * scale)  # (r,)
        out[i] = proj @ (shrink[:, None] * uty) + y_mean
    return out


def select_strength(
    x: F64, y: F64, groups: NDArray[np.int64], k: int, strengths: tuple[float, ...]
) -> float:
    """The strength with the least squared error in a `k`-fold CV split by episode."""
    k = min(k, len(np.unique(groups)))
    sse = np.zeros(len(strengths))
    for test in episode_folds(groups, k, seed=1):
        train = np.setdiff1d(np.arange(len(y)), test)
        pred = ridge_predictions(x[train], y[train], x[test], strengths)
        sse += ((pred - y[test]) ** 2).sum(axis=(1, 2))
    return strengths[int(np.argmin(sse))]


@dataclass(frozen=True)
class CrossValidated:
    """Held-out predictions (one per sample) and the strength chosen in each outer fold."""

    predictions: F64  # (n, d_y)
    strengths: list[float]


def cross_validated_predictions(
    x: F64,
    y: F64,
    groups: NDArray[np.int64],
    folds: int = 5,
    inner_folds: int = 5,
    strengths: tuple[float, ...] = RELATIVE_STRENGTHS,
) -> CrossValidated:
    """Predict every sample from a ridge fit on the other episodes (outer `folds`-fold CV).

    In each outer fold the strength is chosen by an inner `inner_folds`-fold CV on the training
    episodes alone. Needs at least 3 episodes (fewer folds are used when there are fewer
    episodes than folds).
    """
    if x.ndim != 2 or y.ndim != 2 or not len(x) == len(y) == len(groups):
        raise ValueError(f"need x (n, d), y (n, d_y), groups (n,): {x.shape} {y.shape}")
    n_episodes = len(np.unique(groups))
    if n_episodes < 3:
        raise ValueError(f"cross-validation needs at least 3 episodes, got {n_episodes}")
    pred = np.empty_like(y, dtype=np.float64)
    chosen = []
    for test in episode_folds(groups, min(folds, n_episodes)):
        train = np.setdiff1d(np.arange(len(y)), test)
        strength = select_strength(x[train], y[train], groups[train], inner_folds, strengths)
        pred[test] = ridge_predictions(x[train], y[train], x[test], (strength,))[0]
        chosen.append(strength)
    return CrossValidated(pred, chosen)


@dataclass(frozen=True)
class Scores:
    """How well held-out predictions of a 2-D target match it."""

    r2: float  # 1 - SSE/SST over both components (SST about the mean of all targets)
    cosine: float  # mean over samples of cos(predicted, true); 0 where either is zero
    quadrant_acc: float  # share of samples with both components' signs right
    n: int


def score(y: F64, pred: F64) -> Scores:
    """R^2, mean cosine similarity and quadrant accuracy of `pred` against `y`, both (n, 2)."""
    sse = float(((y - pred) ** 2).sum())
    sst = float(((y - y.mean(axis=0)) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 0 else float("nan")
    norms = np.linalg.norm(y, axis=1) * np.linalg.norm(pred, axis=1)
    dots = (y * pred).sum(axis=1)
    cos = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    quadrant = np.all(np.sign(y) == np.sign(pred), axis=1)
    return Scores(r2, float(cos.mean()), float(quadrant.mean()), len(y))
