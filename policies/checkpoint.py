"""The one checkpoint format: a directory with `config.json` and `*.safetensors`.

    <dir>/config.json        {"format": "vitac.policy/1", "policy", "io", "metadata"}
    <dir>/model.safetensors  weights and normaliser statistics
    <dir>/<extra files>      e.g. trainer state, written by the trainer in the same atomic step

A checkpoint is written into a temporary sibling directory and renamed into place, so a
reader sees either the whole checkpoint or none of it. Loading never unpickles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from policies.base import Policy, PolicyIO
from policies.errors import CheckpointError
from policies.files import (
    read_config,
    read_tensors,
    state_mismatch,
    tensor_bytes,
    write_directory,
)
from policies.registry import make_policy, policy_config_from_dict

FORMAT = "vitac.policy/1"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_checkpoint(
    directory: Path,
    policy: Policy,
    metadata: dict[str, Any] | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """Write `policy` (and `extra_files`) to `directory` atomically; replaces an old one."""
    config = {
        "format": FORMAT,
        "policy": policy.config.model_dump(mode="json"),
        "io": policy.io.model_dump(mode="json"),
        "metadata": metadata or {},
    }
    files = {
        CONFIG_FILE: json.dumps(config, indent=2).encode(),
        WEIGHTS_FILE: tensor_bytes(policy.state_dict()),
        **(extra_files or {}),
    }
    return write_directory(directory, files)


def read_checkpoint_config(directory: Path) -> dict[str, Any]:
    """Parse and check `config.json`; CheckpointError says what is wrong."""
    config = read_config(directory, CONFIG_FILE, FORMAT, "checkpoint")
    for key in ("policy", "io", "metadata"):
        if not isinstance(config.get(key), dict):
            raise CheckpointError(
                f"{Path(directory) / CONFIG_FILE}: missing or malformed section {key!r}"
            )
    return config


def load_policy(directory: Path, device: str | torch.device = "cpu") -> Policy:
    """Rebuild the policy from `config.json` and load `model.safetensors` strictly."""
    directory = Path(directory)
    config = read_checkpoint_config(directory)
    try:
        policy_config = policy_config_from_dict(config["policy"])
        io = PolicyIO.model_validate(config["io"])
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
            for e in err.errors()
        )
        raise CheckpointError(
            f"{directory / CONFIG_FILE}: invalid policy config: {problems}"
        ) from err
    except ValueError as err:
        raise CheckpointError(f"{directory / CONFIG_FILE}: {err}") from err
    policy = make_policy(policy_config, io)
    weights = directory / WEIGHTS_FILE
    state = read_tensors(weights, device)
    problem = state_mismatch(policy.state_dict(), state)
    if problem:
        raise CheckpointError(f"{weights}: weights do not fit {policy_config.name!r} ({problem})")
    policy.load_state_dict(state)
    return policy.to(device).eval()
