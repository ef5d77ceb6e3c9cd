"""Import T3's published weights (github alanzjl/t3) into a vitac TactileTransformer.

A T3 checkpoint folder holds plain pickled state dicts with timm VisionTransformer names:

    <src>/trunk.pth                 blocks.N.* and norm.* (the trunk)
    <src>/encoders/<sensor>.pth     cls_token, pos_embed, patch_embed.proj.*, blocks.N.*
    <src>/decoders/<task>.pth       task heads: imported when named with their kind

There is no config: the width, depths, patch and image size follow from tensor shapes; the
number of heads does not (default: T3's for the width, 64 channels a head). Files are read
with `torch.load(weights_only=True)` only, which refuses anything but tensors and plain
containers, so a checkpoint can never run code. Each sensor gets T3's evaluation
preprocessing (resize the shorter side to 256/224 of the image size, centre crop, ImageNet
mean and std: T3's per-data-set statistics are not in the folder).

A decoder's kind is in T3's configs, not in its file, so `heads={"cls_objectfolder":
"classification"}` says it: classification (MLPDecoder, CLS pooling), regression
(MLPDecoder, global pooling), pose (CNNFCDecoder, two towers) or mae (MAEViTDecoder; its
16 attention heads are T3's setting, not in the file). Layer sizes, the number of outputs and
whether the MLP has dropout layers come from the tensors. CrossMAE decoders (cross-attention
blocks) have no vitac counterpart and are refused by name.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import torch
from torch import Tensor

from policies.encoders.heads import HeadConfig, HeadKind
from policies.encoders.preprocess import Preprocessing
from policies.encoders.transformer import TactileTransformer, TransformerConfig, heads_for_width
from policies.errors import CheckpointError
from policies.files import state_mismatch

TRUNK = "trunk.pth"
ENCODERS = "encoders"
DECODERS = "decoders"
HEAD_KINDS: tuple[str, ...] = get_args(HeadKind)
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


@dataclass(frozen=True)
class T3Import:
    model: TactileTransformer
    skipped: list[str]  # files found but not imported, with why


def import_t3(
    src: Path,
    num_heads: int | None = None,
    sensors: list[str] | None = None,
    heads: Mapping[str, str] | None = None,
) -> T3Import:
    """Build the model described by the T3 folder `src` and load its weights, checked;
    `heads` maps decoder names (decoders/<name>.pth) to their kinds."""
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
    heads = dict(heads or {})
    for task, kind in heads.items():
        path = src / DECODERS / f"{task}.pth"
        if not path.is_file():
            found = sorted(p.stem for p in (src / DECODERS).glob("*.pth"))
            raise CheckpointError(f"{path}: no such decoder; the folder has {found}")
        state = read_pth(path)
        model.add_head(task, infer_head(kind, state, path))
        problem = state_mismatch(model.heads[task].state_dict(), state)
        if problem:
            raise CheckpointError(f"{path}: does not fit a T3 {kind} decoder ({problem})")
        model.heads[task].load_state_dict(state)
    skipped = [
        f"{DECODERS}/{p.name} (name its kind to import it: --head {p.stem}=KIND)"
        for p in sorted((src / DECODERS).glob("*.pth"))
        if p.stem not in heads
    ]
    skipped += [f"{ENCODERS}/{s}.pth (not selected)" for s in available if s not in chosen]
    return T3Import(model.eval(), skipped)


def infer_head(kind: str, state: dict[str, Tensor], path: Path) -> HeadConfig:
    """A decoder's HeadConfig from its tensors' shapes (see the module's docstring)."""
    if kind not in HEAD_KINDS:
        raise CheckpointError(f"{path}: head kind {kind!r}; allowed: {list(HEAD_KINDS)}")
    if kind == "mae":
        if "decoder_embed.weight" not in state:
            raise CheckpointError(f"{path}: not an MAE decoder (no decoder_embed.weight)")
        if any(".cross_attn." in k or ".kv." in k for k in state):
            raise CheckpointError(f"{path}: a CrossMAE decoder; vitac imports MAEViTDecoder only")
        blocks = {int(k.split(".")[1]) for k in state if k.startswith("decoder_blocks.")}
        width = int(state["decoder_embed.weight"].shape[0])
        return HeadConfig(kind="mae", decoder_width=width, decoder_depth=len(blocks))
    prefix = "output_fc" if kind == "pose" else "model"
    layers = sorted(
        (int(k.split(".")[1]), v)
        for k, v in state.items()
        if k.startswith(f"{prefix}.") and k.endswith(".weight") and v.ndim == 2
    )
    if len(layers) < 2:
        raise CheckpointError(f"{path}: not a T3 {kind} decoder (no {prefix}.N MLP layers)")
    indices, weights = [i for i, _ in layers], [w for _, w in layers]
    dropout = 0.1 if len(indices) > 2 and indices[2] - indices[1] == 3 else 0.0  # T3's p
    hidden = tuple(int(w.shape[0]) for w in weights[:-1])
    return HeadConfig(kind=kind, outputs=int(weights[-1].shape[0]), hidden=hidden, dropout=dropout)


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
