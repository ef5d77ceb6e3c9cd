"""Files of checkpoints: safetensors bytes and files, atomic directories, state-dict checks.

Shared by the policy checkpoints (`policies.checkpoint`) and the encoder checkpoints
(`policies.encoders.encoder_checkpoint`); nothing here unpickles.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from policies.errors import CheckpointError


def tensor_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """A state dict as safetensors bytes (CPU, contiguous)."""
    return save({k: v.detach().cpu().contiguous() for k, v in state.items()})


def write_directory(directory: Path, files: dict[str, bytes]) -> Path:
    """Write `files` (relative path -> bytes) as the directory `directory`, atomically.

    Built in a temporary sibling, fsynced, then renamed into place (an old directory is
    swapped out first), so a reader sees either the whole directory or none of it.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name, payload in files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        _fsync(path)
    for folder in {(tmp / name).parent for name in files}:
        _fsync(folder)
    if directory.exists():  # swap: old -> trash, new -> place, then drop the trash
        trash = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        directory.rename(trash)
        tmp.rename(directory)
        shutil.rmtree(trash)
    else:
        tmp.rename(directory)
    _fsync(directory.parent)
    return directory


def state_mismatch(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str:
    """Missing, unexpected and mis-shaped keys in plain words; "" when `state` fits."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} instead of {tuple(expected[k].shape)}"
        for k in sorted(expected.keys() & state.keys())
        if expected[k].shape != state[k].shape
    ]
    return "; ".join(
        f"{label}: {names[:5]}{' ...' if len(names) > 5 else ''}"
        for label, names in (("missing", missing), ("unexpected", unexpected), ("shape", wrong))
        if names
    )


def read_tensors(path: Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """A safetensors file; CheckpointError when it is missing or unreadable."""
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: missing {path.name}")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path}: unreadable safetensors file ({err})") from err


def read_config(directory: Path, name: str, fmt: str, what: str) -> dict[str, Any]:
    """`directory/name` parsed as a JSON object whose "format" is `fmt`; CheckpointError
    naming the file otherwise (`what`: "checkpoint", "encoder", for the messages)."""
    directory = Path(directory)
    if directory.is_file():
        raise CheckpointError(f"{directory} is a file; give a {what} directory")
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such {what} directory")
    path = directory / name
    if not path.is_file():
        raise CheckpointError(f"{directory}: not a vitac {what} (no {name})")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(config, dict) or config.get("format") != fmt:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise CheckpointError(f"{path}: format is {found!r}; this vitac reads {fmt!r}")
    return config


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
