"""Optimizer state to and from safetensors + JSON, so trainer checkpoints never pickle."""

from __future__ import annotations

import json
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

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
