"""Episode-level train/validation split: windows of one episode never land on both sides."""

from __future__ import annotations

import numpy as np


def split_episodes(n_episodes: int, val_ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, val) episode ids; deterministic in (n_episodes, val_ratio, seed).

    `val_ratio` 0 gives an empty validation set; otherwise round(n * val_ratio) episodes,
    at least 1, and always at least 1 training episode (so 1 episode -> no validation).
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int | np.integer):
        raise ValueError(f"n_episodes must be an int, got {n_episodes!r}")
    if n_episodes < 1:
        raise ValueError(f"cannot split {n_episodes} episodes: need at least 1 episode")
    if not isinstance(val_ratio, float | int) or not 0.0 <= val_ratio < 1.0:
        raise ValueError(f"val_ratio must lie in [0, 1), got {val_ratio!r}")
    n_val = 0
    if val_ratio > 0:
        n_val = min(max(1, round(n_episodes * val_ratio)), n_episodes - 1)
    order = np.random.default_rng(seed).permutation(int(n_episodes))
    return np.sort(order[n_val:]).astype(np.int64), np.sort(order[:n_val]).astype(np.int64)
