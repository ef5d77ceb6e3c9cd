"""The tactile transformer on disk, one file per component (like T3's folders, but safe):

    <dir>/config.json                  {"format", "architecture", "sensors", "metadata"}
    <dir>/trunk.safetensors            the shared trunk
    <dir>/tokenizers/<sensor>.safetensors   one per sensor
    <dir>/heads/<task>.safetensors          one per task head

`config.json` holds the architecture (TransformerConfig), each sensor's preprocessing
contract and each head's config, so a loaded model needs nothing else. Written atomically;
loading never unpickles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from policies.encoders.heads import HeadConfig
from policies.encoders.preprocess import Preprocessing
from policies.encoders.transformer import TactileTransformer, TransformerConfig
from policies.errors import CheckpointError
from policies.files import (
    read_config,
    read_tensors,
    state_mismatch,
    tensor_bytes,
    write_directory,
)

FORMAT = "vitac.tactile_transformer/1"
CONFIG_FILE = "config.json"
TRUNK_FILE = "trunk.safetensors"
TOKENIZER_DIR = "tokenizers"
HEAD_DIR = "heads"


def save_encoder(
    model: TactileTransformer,
    directory: Path,
    metadata: dict[str, Any] | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """Write `model` (and `extra_files`, e.g. a trainer's state) to `directory` atomically."""
    config = {
        "format": FORMAT,
        "architecture": model.config.model_dump(mode="json"),
        "sensors": {s: p.model_dump(mode="json") for s, p in model.preprocessing.items()},
        "heads": {t: h.model_dump(mode="json") for t, h in model.head_configs.items()},
        "metadata": metadata or {},
    }
    files = {
        CONFIG_FILE: json.dumps(config, indent=2).encode(),
        TRUNK_FILE: tensor_bytes(model.trunk.state_dict()),
    }
    for sensor, tokenizer in model.tokenizers.items():
        files[f"{TOKENIZER_DIR}/{sensor}.safetensors"] = tensor_bytes(tokenizer.state_dict())
    for task, head in model.heads.items():
        files[f"{HEAD_DIR}/{task}.safetensors"] = tensor_bytes(head.state_dict())
    return write_directory(directory, files | (extra_files or {}))


def load_encoder(directory: Path, device: str | torch.device = "cpu") -> TactileTransformer:
    """The model saved in `directory`; CheckpointError names the file and what is wrong."""
    directory = Path(directory)
    config = read_config(directory, CONFIG_FILE, FORMAT, "encoder")
    try:
        architecture = TransformerConfig.model_validate(config["architecture"])
        sensors = {s: Preprocessing.model_validate(p) for s, p in config["sensors"].items()}
        heads = {t: HeadConfig.model_validate(h) for t, h in config.get("heads", {}).items()}
        model = TactileTransformer(architecture, sensors, heads)
    except (ValidationError, ValueError, AttributeError, TypeError) as err:
        raise CheckpointError(
            f"{directory / CONFIG_FILE}: invalid model description: {err}"
        ) from err
    parts: list[tuple[torch.nn.Module, Path]] = [(model.trunk, directory / TRUNK_FILE)]
    parts += [
        (model.tokenizers[s], directory / TOKENIZER_DIR / f"{s}.safetensors") for s in sensors
    ]
    parts += [(model.heads[t], directory / HEAD_DIR / f"{t}.safetensors") for t in heads]
    for module, path in parts:
        state = read_tensors(path, device)
        problem = state_mismatch(module.state_dict(), state)
        if problem:
            raise CheckpointError(f"{path}: does not fit the described model ({problem})")
        module.load_state_dict(state)
    return model.to(device).eval()
