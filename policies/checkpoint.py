"""The one checkpoint format: a directory with `config.json` and `*.safetensors`.

    <dir>/config.json        {"format": "vitac.policy/1", "policy", "io", "metadata"}
    <dir>/model.safetensors  weights and normaliser statistics
    <dir>/<extra files>      e.g. trainer state, written by the trainer in the same atomic step

A checkpoint is written into a temporary sibling directory and renamed into place, so a
reader sees either the whole checkpoint or none of it. Loading never unpickles.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from policies.base import Policy, PolicyIO
from policies.errors import CheckpointError
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
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    config = {
        "format": FORMAT,
        "policy": policy.config.model_dump(mode="json"),
        "io": policy.io.model_dump(mode="json"),
        "metadata": metadata or {},
    }
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    state = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    save_file(state, str(tmp / WEIGHTS_FILE))
    # safetensors writes 0600; give the weights the mode the umask gave their neighbours
    (tmp / WEIGHTS_FILE).chmod((tmp / CONFIG_FILE).stat().st_mode & 0o777)
    for name, payload in (extra_files or {}).items():
        (tmp / name).write_bytes(payload)
    for file in tmp.iterdir():
        _fsync(file)
    _fsync(tmp)
    if directory.exists():  # swap: old -> trash, new -> place, then drop the trash
        trash = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        directory.rename(trash)
        tmp.rename(directory)
        shutil.rmtree(trash)
    else:
        tmp.rename(directory)
    _fsync(directory.parent)
    return directory


def read_checkpoint_config(directory: Path) -> dict[str, Any]:
    """Parse and check `config.json`; CheckpointError says what is wrong."""
    directory = Path(directory)
    if directory.is_file():
        raise CheckpointError(f"{directory} is a file; give a checkpoint directory")
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such checkpoint directory")
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory}: not a vitac checkpoint (no {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise CheckpointError(f"{path}: format is {found!r}; this vitac reads {FORMAT!r}")
    for key in ("policy", "io", "metadata"):
        if not isinstance(config.get(key), dict):
            raise CheckpointError(f"{path}: missing or malformed section {key!r}")
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
    if not weights.is_file():
        raise CheckpointError(f"{directory}: missing {WEIGHTS_FILE}")
    try:
        state = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{weights}: unreadable safetensors file ({err})") from err
    expected = policy.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in expected.keys() & state.keys() if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{label}: {names[:5]}{' ...' if len(names) > 5 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("shape", wrong))
            if names
        )
        raise CheckpointError(f"{weights}: weights do not fit {policy_config.name!r} ({details})")
    policy.load_state_dict(state)
    return policy.to(device).eval()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
