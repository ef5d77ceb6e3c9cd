"""Fixed-length windows over concatenated episodes, with edge replication at episode borders.

Semantics follow diffusion_policy's SequenceSampler: an episode of length L occupying frames
[s, s + L) yields one window per start t in [-pad_before, L - horizon + pad_after]; window
frame j is frame s + clip(t + j, 0, L - 1), so a window that runs past either end of its
episode repeats the episode's first or last frame, and never reads a neighbouring episode.
With pad_before = n_obs_steps - 1 and pad_after = n_action_steps - 1 every frame can be the
"current" observation of some window.

The table `indices` is built with vectorised numpy (no per-window Python loop); a batch is
gathered with one fancy index per key (numpy arrays) or one orthogonal read per key (the lazy
on-disk `StoredFrames` of `EpisodeStore.arrays()`, or anything indexable by an int array).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class FrameSource(Protocol):
    """A per-key array of frames: `np.ndarray`, or a lazy store view indexable by int arrays."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __getitem__(self, index: Any, /) -> Any: ...


# Columns of WindowSampler.indices.
EPISODE, START, FIRST, LAST = range(4)


class WindowSampler:
    """All windows of `horizon` frames in the chosen episodes; see the module docstring."""

    def __init__(
        self,
        episode_ends: Sequence[int] | np.ndarray,
        horizon: int,
        pad_before: int = 0,
        pad_after: int = 0,
        episodes: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        ends = np.asarray(episode_ends)
        if ends.ndim != 1 or (len(ends) and not np.issubdtype(ends.dtype, np.integer)):
            raise ValueError(f"episode_ends must be a 1-D int array, got {ends.dtype} {ends.shape}")
        ends = ends.astype(np.int64)
        if len(ends) and (ends[0] < 0 or np.any(np.diff(ends) < 0)):
            raise ValueError("episode_ends must be non-negative and non-decreasing")
        if not isinstance(horizon, int | np.integer) or horizon < 1:
            raise ValueError(f"horizon must be a positive int, got {horizon!r}")
        for name, pad in (("pad_before", pad_before), ("pad_after", pad_after)):
            if not 0 <= pad <= horizon - 1:
                raise ValueError(f"{name} must lie in [0, horizon - 1 = {horizon - 1}], got {pad}")
        chosen = np.arange(len(ends)) if episodes is None else np.asarray(episodes, np.int64)
        if chosen.ndim != 1 or len(np.unique(chosen)) != len(chosen):
            raise ValueError("episodes must be a 1-D sequence of distinct episode ids")
        if len(chosen) and (chosen.min() < 0 or chosen.max() >= len(ends)):
            raise ValueError(f"episode ids must lie in [0, {len(ends)}), got {chosen.tolist()}")
        chosen = np.sort(chosen)

        self.horizon = int(horizon)
        self.pad_before = int(pad_before)
        self.pad_after = int(pad_after)
        self.episode_ends = ends
        self.episodes = chosen

        starts = np.concatenate([[0], ends[:-1]])[chosen] if len(ends) else chosen
        lengths = ends[chosen] - starts if len(ends) else chosen
        counts = np.where(lengths > 0, lengths - horizon + pad_before + pad_after + 1, 0)
        counts = np.maximum(counts, 0)
        total = int(counts.sum())
        offset_in_episode = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        table = np.empty((total, 4), np.int64)
        table[:, EPISODE] = np.repeat(chosen, counts)
        table[:, FIRST] = np.repeat(starts, counts)
        table[:, LAST] = np.repeat(starts + lengths - 1, counts)
        table[:, START] = table[:, FIRST] - pad_before + offset_in_episode
        table.flags.writeable = False
        self._table = table
        self._steps = np.arange(self.horizon)

    @property
    def indices(self) -> np.ndarray:
        """(N, 4) int64 read-only: episode id, window start frame (may precede the episode),
        the episode's first and last frame; all as indices into the concatenated arrays."""
        return self._table

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return (
            f"WindowSampler({len(self)} windows over {len(self.episodes)} episodes, "
            f"horizon={self.horizon}, pad_before={self.pad_before}, pad_after={self.pad_after})"
        )

    def frame_indices(self, idxs: Sequence[int] | np.ndarray) -> np.ndarray:
        """(B, horizon) frame indices of windows `idxs`, clamped into their episodes."""
        idx = np.asarray(idxs)
        if idx.ndim != 1 or (len(idx) and not np.issubdtype(idx.dtype, np.integer)):
            raise IndexError(f"window indices must be a 1-D int sequence, got {idxs!r}")
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"window index out of range for {len(self)} windows")
        rows = self._table[idx]
        frames = rows[:, START, None] + self._steps[None, :]
        return np.asarray(np.clip(frames, rows[:, FIRST, None], rows[:, LAST, None]))

    def episode_starts(self, idxs: Sequence[int] | np.ndarray) -> np.ndarray:
        """(B,) the first frame of each window's episode."""
        return np.asarray(self._table[np.asarray(idxs), FIRST])

    def sample(
        self,
        data: Mapping[str, FrameSource],
        i: int,
        keys: Sequence[str] | None = None,
        n_first: Mapping[str, int] | None = None,
    ) -> dict[str, np.ndarray]:
        """Window `i`: `{key: (horizon, ...)}`, or `(n_first[key], ...)` for keys in n_first."""
        batch = self.sample_batch(data, [i], keys, n_first)
        return {key: value[0] for key, value in batch.items()}

    def sample_batch(
        self,
        data: Mapping[str, FrameSource],
        idxs: Sequence[int] | np.ndarray,
        keys: Sequence[str] | None = None,
        n_first: Mapping[str, int] | None = None,
    ) -> dict[str, np.ndarray]:
        """Windows `idxs`: `{key: (B, horizon, ...)}`; n_first[key] = k keeps the first k steps
        (and reads only those: observation keys need just n_obs_steps)."""
        chosen = list(data) if keys is None else list(keys)
        firsts = dict(n_first or {})
        for key, k in firsts.items():
            if key not in chosen:
                raise KeyError(f"n_first names {key!r}, which is not among the keys {chosen}")
            if not 1 <= k <= self.horizon:
                raise ValueError(f"n_first[{key!r}] must lie in [1, {self.horizon}], got {k}")
        frames = self.frame_indices(idxs)  # (B, horizon)
        out: dict[str, np.ndarray] = {}
        for key in chosen:
            if key not in data:
                raise KeyError(f"key {key!r} not in data (has {sorted(data)})")
            out[key] = gather(data[key], frames[:, : firsts.get(key, self.horizon)])
        return out


def gather(source: FrameSource, frames: np.ndarray) -> np.ndarray:
    """`source[frames]` for a (B, T) index array: one fancy index, or one read of the
    distinct frames (sorted, so a chunked store reads each chunk once) then a local take."""
    if isinstance(source, np.ndarray):
        return np.asarray(source[frames])
    unique, inverse = np.unique(frames, return_inverse=True)
    block = np.asarray(source[unique])
    return block[inverse.reshape(frames.shape)]
