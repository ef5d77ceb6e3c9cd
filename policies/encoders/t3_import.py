"""Import T3's published weights (github alanzjl/t3) into a vitac TactileTransformer.

A T3 checkpoint folder holds plain pickled state dicts with timm VisionTransformer names:

    <src>/trunk.pth                 blocks.N.* and norm.* (the trunk)
    <src>/encoders/<sensor>.pth     cls_token, pos_embed, patch_embed.proj.*, blocks.N.*
    <src>/decoders/<task>.pth       task heads (not imported yet: vitac has no heads so far)

There is no config: the width, depths, patch and image size follow from tensor shapes; the
number of heads does not (default: T3's for the width, 64 channels a head). Files are read
with `torch.load(weights_only=True)` only, which refuses anything but tensors and plain
containers, so a checkpoint can never run code. Each sensor gets T3's evaluation
preprocessing (resize the shorter side to 256/224 of the image size, centre crop, ImageNet
mean and std: T3's per-data-set statistics are not in the folder).
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from policies.encoders.preprocess import Preprocessing
from policies.encoders.transformer import TactileTransformer, TransformerConfig, heads_for_width
from policies.errors import CheckpointError
from policies.files import state_mismatch

TRUNK = "trunk.pth"
ENCODERS = "encoders"
DECODERS = "decoders"
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


@dataclass(frozen=True)
class T3Import:
    model: TactileTransformer
    skipped: list[str]  # files found but not imported, with why


def import_t3(
    src: Path, num_heads: int | None = None, sensors: list[str] | None = None
) -> T3Import:
    """Build the model described by the T3 folder `src` and load its weights, checked."""
    src = Path(src)
    if not (src / TRUNK).is_file():
        raise CheckpointError(
            f"{src}: not a T3 checkpoint folder (expected {TRUNK} and {ENCODERS}/<sensor>.pth)"
        )
    available = sorted(p.stem for p in (src / ENCODERS).glob("*.pth"))
    chosen = sensors or available
    unknown = [s for s in chosen if s not in available]
    if not chosen or unknown:
        raise CheckpointError(
            f"{src / ENCODERS}: no encoder for {unknown or 'any sensor'}; available: {available}"
        )
    trunk = read_pth(src / TRUNK)
    encoders = {s: read_pth(src / ENCODERS / f"{s}.pth") for s in chosen}
    config = infer_config(trunk, encoders[chosen[0]], num_heads, src)
    crop = config.image_size
    contract = Preprocessing(resize=round(crop * 256 / 224), crop=crop)
    model = TactileTransformer(config, {s: contract for s in chosen})
    parts: list[tuple[torch.nn.Module, dict[str, Tensor], Path]] = [
        (model.trunk, trunk, src / TRUNK)
    ]
    parts += [(model.tokenizers[s], encoders[s], src / ENCODERS / f"{s}.pth") for s in chosen]
    for module, state, path in parts:
        problem = state_mismatch(module.state_dict(), state)
        if problem:
            raise CheckpointError(f"{path}: does not fit the trunk's architecture ({problem})")
        module.load_state_dict(state)
    skipped = [
        f"{DECODERS}/{p.name} (task heads are not part of vitac's model yet)"
        for p in sorted((src / DECODERS).glob("*.pth"))
    ]
    skipped += [f"{ENCODERS}/{s}.pth (not selected)" for s in available if s not in chosen]
    return T3Import(model.eval(), skipped)


def read_pth(path: Path) -> dict[str, Tensor]:
    """A pickled state dict, loaded with weights_only=True: tensors only, never code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: refusing to unpickle anything but tensors (weights_only): {first}"
        ) from None
    except (OSError, RuntimeError, EOFError) as err:
        raise CheckpointError(f"{path}: unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return state


def infer_config(
    trunk: dict[str, Tensor], encoder: dict[str, Tensor], num_heads: int | None, src: Path
) -> TransformerConfig:
    """Width, depths, MLP ratio, patch and image size from the tensors' shapes."""
    try:
        width = int(trunk["norm.weight"].shape[0])
        patch = int(encoder["patch_embed.proj.weight"].shape[-1])
        grid = round((encoder["pos_embed"].shape[1] - 1) ** 0.5)
        hidden = int(encoder["blocks.0.mlp.fc1.weight"].shape[0])
    except KeyError as err:
        raise CheckpointError(f"{src}: a T3 tensor is missing: {err}") from None
    try:
        return TransformerConfig(
            width=width,
            heads=num_heads or heads_for_width(width),
            tokenizer_depth=_depth(encoder),
            trunk_depth=_depth(trunk),
            mlp_ratio=hidden / width,
            patch_size=patch,
            image_size=grid * patch,
        )
    except ValueError as err:
        raise CheckpointError(f"{src}: {err}") from None


def _depth(state: dict[str, Tensor]) -> int:
    blocks = {int(m.group(1)) for k in state if (m := _BLOCK.match(k))}
    return max(blocks) + 1 if blocks else 0
