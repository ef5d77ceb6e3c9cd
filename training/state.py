"""A trainer checkpoint: the deployed weights (the EMA when there is one) as the policy's
checkpoint, and beside them the online weights and the optimiser state (safetensors +
JSON, never pickled), so a run resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from policies import CheckpointError, Policy, load_policy
from policies import save_checkpoint as save_policy_checkpoint
from policies.files import read_tensors, tensor_bytes
from training.ema import ONLINE_FILE, Ema, EmaConfig
from training.run_dir import checkpoint_path, point_last

TENSORS_FILE = "trainer.safetensors"
JSON_FILE = "trainer.json"


def trainer_files(optimizer: torch.optim.Optimizer, info: dict[str, Any]) -> dict[str, bytes]:
    """Serialise optimizer state (tensors flattened as `state.<param>.<name>`) and `info`."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{param_id}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    meta = {"param_groups": state["param_groups"], "scalars": scalars, "info": info}
    return {TENSORS_FILE: save_tensors(tensors), JSON_FILE: json.dumps(meta).encode()}


def restore_trainer(
    optimizer: torch.optim.Optimizer, tensors_blob: bytes, json_blob: bytes
) -> dict[str, Any]:
    """Load what `trainer_files` wrote into `optimizer`; returns the saved `info`."""
    meta = json.loads(json_blob)
    tensors = load_tensors(tensors_blob)
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, param_id, name = key.split(".", 2)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in meta["scalars"].items():
        state.setdefault(int(param_id), {}).update(entries)
    groups = [  # JSON turned tuples (Adam's betas) into lists: restore the original types
        {k: tuple(v) if isinstance(fresh.get(k), tuple) else v for k, v in saved.items()}
        for saved, fresh in zip(meta["param_groups"], optimizer.param_groups, strict=True)
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    info: dict[str, Any] = meta["info"]
    return info


def save_training(
    out_dir: Path,
    policy: Policy,
    ema: Ema | None,
    optimizer: torch.optim.Optimizer,
    step: int,
    metadata: dict[str, Any],
) -> None:
    """The deployed weights (the EMA when there is one) as the checkpoint's weights; the
    online weights and the optimiser beside them, for resuming."""
    extra = trainer_files(optimizer, {"step": step})
    if ema is not None:
        extra[ONLINE_FILE] = tensor_bytes(policy.state_dict())
    path = save_policy_checkpoint(
        checkpoint_path(out_dir, step),
        ema.model if ema is not None else policy,
        metadata={**metadata, "step": step},
        extra_files=extra,
    )
    point_last(path)


def resume_training(latest: Path, ema_config: EmaConfig) -> tuple[Policy, Ema | None, int]:
    """(online policy, its EMA or None, steps done) from a trainer checkpoint."""
    saved = load_policy(latest)
    for name in (TENSORS_FILE, JSON_FILE) + ((ONLINE_FILE,) if ema_config.enabled else ()):
        if not (latest / name).is_file():
            raise CheckpointError(f"{latest}: no {name}; it cannot be resumed (weights only)")
    info = json.loads((latest / JSON_FILE).read_text())["info"]
    if not ema_config.enabled:
        return saved.train(), None, int(info["step"])
    ema = Ema(saved, ema_config)
    saved.load_state_dict(read_tensors(latest / ONLINE_FILE, "cpu"))
    return saved.train(), ema, int(info["step"])
