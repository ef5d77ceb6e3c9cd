"""Training windows over the episode store, as batches of torch tensors.

The whole committed dataset is loaded into memory once (demonstration sets for one task
fit comfortably); each batch gathers (B, horizon) windows with edge-replication padding
through the store's `WindowSampler`, observation keys cut to their first T_o steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from drivers.spec import FieldSpec
from policies import ACTION_KEY, PolicyConfig, PolicyIO
from policies.action_frame import POSITION_DIMS
from policies.base import BASE_PREFIX
from policies.observation import missing_references
from sensing.errors import DatasetError
from sensing.store import EpisodeStore, WindowSampler, split_episodes


class WindowDataset:
    """Windows of one episode subset; `batch(idx)` returns {key: (B, T, ...)} tensors."""

    def __init__(
        self,
        store: EpisodeStore,
        data: dict[str, np.ndarray],
        obs_keys: Sequence[str],
        config: PolicyConfig,
        episodes: np.ndarray,
    ) -> None:
        self.obs_keys = list(obs_keys)
        self.data = data
        self.n_first = {k: config.n_obs_steps for k in self.obs_keys}
        self.base_keys = list(config.base_frame_keys)
        self.sampler = WindowSampler(
            store.episode_ends,
            horizon=config.horizon,
            pad_before=config.n_obs_steps - 1,
            pad_after=config.n_action_steps - 1,
            episodes=episodes,
        )

    def __len__(self) -> int:
        return len(self.sampler)

    def chunks(self, config: PolicyConfig) -> dict[str, Tensor] | None:
        """Every window's action (W, T_p, D_a), `config.relative_to` and the keys of
        `config.relative_inputs` (W, T_o, ...); None without relative_to."""
        if config.relative_to is None:
            return None
        keys = list(dict.fromkeys([config.relative_to, *config.relative_inputs]))
        arrays = self.sampler.sample_batch(
            self.data, np.arange(len(self)), [*keys, ACTION_KEY], {k: self.n_first[k] for k in keys}
        )
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}

    def batch(self, indices: np.ndarray) -> dict[str, Tensor]:
        arrays = self.sampler.sample_batch(
            self.data, indices, keys=[*self.obs_keys, ACTION_KEY], n_first=self.n_first
        )
        arrays |= base_frames(self.data, self.sampler, indices, self.base_keys)
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def base_frames(
    data: Mapping[str, Any], sampler: WindowSampler, windows: np.ndarray, keys: Sequence[str]
) -> dict[str, np.ndarray]:
    """ "base.<key>" (B, 1, ...): the first frame of each window's episode, for `keys` (a
    policy's base_frame_keys)."""
    starts = sampler.episode_starts(windows)
    return {BASE_PREFIX + k: np.asarray(data[k][starts])[:, None] for k in keys}


def load_datasets(
    path: Path,
    config: PolicyConfig,
    obs_keys: Sequence[str] | None,
    val_ratio: float,
    seed: int,
    episodes: int | None = None,
) -> tuple[WindowDataset, WindowDataset | None, PolicyIO, EpisodeStore]:
    """Open the store, check it can feed this policy, split by episode, load into memory.
    `episodes`: use only this many of the store's episodes, drawn at random with `seed`
    (the same ones for every run of one seed), before the validation split."""
    store = EpisodeStore.open(path)
    if episodes is not None and not 1 <= episodes <= store.n_episodes:
        raise DatasetError(f"{path}: train.episodes = {episodes}; it holds {store.n_episodes} "
                           "episodes")  # fmt: skip
    if ACTION_KEY not in store.schema:
        raise DatasetError(f"{path}: has no {ACTION_KEY!r} key to imitate; keys: {store.keys}")
    keys = list(obs_keys) if obs_keys is not None else [k for k in store.keys if k != ACTION_KEY]
    unknown = [k for k in keys if k not in store.schema]
    if unknown:
        raise DatasetError(f"{path}: obs keys {unknown} not in the dataset; it has {store.keys}")
    ref = config.relative_to
    if ref is not None and (ref not in keys or store.schema[ref].shape[-1:] < (POSITION_DIMS,)):
        raise DatasetError(
            f"policy.relative_to {ref!r} must be one of the policy's inputs with at least "
            f"{POSITION_DIMS} numbers (a TCP position first); inputs: {keys}"
        )
    images = [k for k in keys if store.schema[k].is_image]
    stray = [k for k in config.base_frame_keys if k not in images]
    if stray:
        raise DatasetError(
            f"policy.base_frame_keys {stray}: must be image inputs of the policy; they are {images}"
        )
    problem = missing_references(config, images)
    if problem:
        raise DatasetError(problem)
    for key, n in config.relative_inputs.items():
        if key not in keys or len(store.schema[key].shape) != 1 or store.schema[key].shape[0] < n:
            raise DatasetError(
                f"policy.relative_inputs {key!r}: must be one of the policy's low-dim inputs "
                f"with at least {n} numbers (positions first); inputs: {keys}"
            )
    io = policy_io_from_schema(store.schema, keys)
    kept = np.arange(store.n_episodes)
    if episodes is not None:  # a stream of its own: the split below stays as it was
        kept = np.sort(np.random.default_rng([seed, 1]).permutation(store.n_episodes)[:episodes])
    train_local, val_local = split_episodes(len(kept), val_ratio, seed)
    train_ids, val_ids = kept[train_local], kept[val_local]
    data = store.load([*keys, ACTION_KEY])
    train = WindowDataset(store, data, keys, config, train_ids)
    val = WindowDataset(store, data, keys, config, val_ids) if len(val_ids) else None
    return train, val, io, store


def policy_io_from_schema(schema: dict[str, FieldSpec], obs_keys: Sequence[str]) -> PolicyIO:
    action = schema[ACTION_KEY]
    if len(action.shape) != 1:
        raise DatasetError(f"{ACTION_KEY!r} must be a vector per frame, got shape {action.shape}")
    return PolicyIO(
        obs_shapes={k: schema[k].shape for k in obs_keys},
        image_keys=sorted(k for k in obs_keys if schema[k].is_image),
        action_dim=action.shape[0],
    )


@torch.inference_mode()
def cache_features(
    data: dict[str, np.ndarray],
    keys: Sequence[str],
    encode: Callable[[Tensor], Tensor],
    device: str = "cpu",
    batch: int = 256,
) -> None:
    """Replace each of `keys`' frames in `data` by `encode(frames)` (a frozen encoder's
    features: (N, ...) uint8 -> (N, D) float32), computed once instead of at every step."""
    for key in keys:
        frames = data[key]
        parts = [
            encode(torch.from_numpy(frames[i : i + batch]).to(device)).float().cpu().numpy()
            for i in range(0, len(frames), batch)
        ]
        data[key] = np.concatenate(parts)
