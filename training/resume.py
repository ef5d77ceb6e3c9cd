"""What a resume must keep, checked before a single step runs.

A resumed run reproduces the uninterrupted run bit for bit (same machine) when the policy,
its inputs and outputs, the dataset and every key that shapes the optimisation are the same.
So `check_resume` compares the checkpoint's record with the new run's and

* refuses, naming only the keys that differ, when the policy config, the policy's inputs
  and outputs (`io`), the dataset (episode and frame counts, store attrs) or an exactness
  key of `train` (EXACT_TRAIN_KEYS) differ;
* allows a different `train.steps` with a warning: the cosine schedule is a function of the
  total, so the steps already done keep the learning rates of the old total and the rest
  follow the new one; the result is a longer run, not the run an uninterrupted
  `train.steps` run would give;
* ignores keys that only change what is logged or saved (log/val/checkpoint cadence,
  threads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies import CheckpointError, PolicyConfig, PolicyIO
from policies.registry import policy_config_from_dict
from sensing.store import EpisodeStore

# train keys that change the batches, the updates or the split: they must match to resume
EXACT_TRAIN_KEYS = (
    "batch_size",
    "lr",
    "weight_decay",
    "warmup_steps",
    "grad_clip",
    "val_ratio",
    "seed",
    "obs_keys",
    "ema",
    "precision",
)


def dataset_fingerprint(store: EpisodeStore) -> dict[str, Any]:
    """What identifies the training data (its path may move; its content may not)."""
    return {"episodes": store.n_episodes, "frames": store.n_frames, "attrs": store.attrs}


def check_resume(
    checkpoint: str,
    saved: Mapping[str, Any],
    *,
    policy: PolicyConfig,
    io: PolicyIO,
    train: Mapping[str, Any],
    dataset: Mapping[str, Any],
) -> list[str]:
    """CheckpointError listing what differs from the checkpoint; returns warnings otherwise.

    `saved` is the checkpoint's `config.json` (sections `policy`, `io`, `metadata`); the other
    arguments describe the run about to resume.
    """
    metadata = saved["metadata"]
    problems = [
        *flat_diff(_with_defaults(saved["policy"]), policy.model_dump(mode="json"), "policy"),
        *flat_diff(saved["io"], io.model_dump(mode="json"), "io"),
    ]
    if "dataset_fingerprint" in metadata:
        problems += flat_diff(metadata["dataset_fingerprint"], dataset, "dataset")
    old_train = metadata.get("train", {})
    exact_old = {k: old_train.get(k) for k in EXACT_TRAIN_KEYS}
    exact_new = {k: train.get(k) for k in EXACT_TRAIN_KEYS}
    problems += flat_diff(exact_old, exact_new, "train")
    if problems:
        raise CheckpointError(
            f"{checkpoint}: cannot resume exactly; these keys differ from the checkpoint's: "
            + "; ".join(problems)
            + ". Resume with the original launch file and dataset, or start a new run"
        )
    warnings = []
    if old_train.get("steps") != train.get("steps"):
        warnings.append(
            f"train.steps changed ({old_train.get('steps')} -> {train.get('steps')}): the "
            "learning-rate schedule follows the new total from here on, so this run will not "
            "match an uninterrupted run of the new length"
        )
    return warnings


def flat_diff(old: Any, new: Any, prefix: str) -> list[str]:
    """`key.path: old -> new` for every leaf that differs between two JSON-like values."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            missing = "(absent)"
            lines += flat_diff(old.get(key, missing), new.get(key, missing), f"{prefix}.{key}")
        return lines
    if _normal(old) == _normal(new):
        return []
    return [f"{prefix}: {old!r} -> {new!r}"]


def _normal(value: Any) -> Any:
    """JSON turns tuples into lists; compare them as equal."""
    if isinstance(value, tuple | list):
        return [_normal(v) for v in value]
    return value


def _with_defaults(policy: Mapping[str, Any]) -> Any:
    """A saved policy config with the keys that later versions added at their defaults (so
    a checkpoint from before a new option resumes), or as saved when it no longer validates."""
    try:
        return policy_config_from_dict(dict(policy)).model_dump(mode="json")
    except ValueError:
        return policy
