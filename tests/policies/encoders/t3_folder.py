"""A T3 checkpoint folder written the way T3 writes one: timm modules' pickled state dicts
(the tests build it from known random tensors; nothing is downloaded)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import timm.models.vision_transformer as timm_vit
import torch
from torch import nn

WIDTH, HEADS, PATCH, IMAGE = 128, 2, 8, 32  # T3's layout at a small size


def t3_encoder() -> timm_vit.VisionTransformer:
    """T3's ViTEncoder: timm's ViT without its head and final norm."""
    vit = timm_vit.VisionTransformer(
        img_size=IMAGE,
        patch_size=PATCH,
        embed_dim=WIDTH,
        depth=3,
        num_heads=HEADS,
        num_classes=0,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
    )
    del vit.norm
    return vit.eval()


def t3_trunk() -> nn.Module:
    trunk = nn.Module()
    # T3 passes nn.LayerNorm (eps 1e-5) to its trunk blocks; timm>=1.0's Block default is 1e-6
    blocks = (
        timm_vit.Block(WIDTH, HEADS, 4.0, qkv_bias=True, norm_layer=nn.LayerNorm) for _ in range(4)
    )
    trunk.blocks = nn.ModuleList(blocks)
    trunk.norm = nn.LayerNorm(WIDTH)
    return trunk.eval()


def t3_tokens(
    encoder: timm_vit.VisionTransformer, trunk: nn.Module, x: torch.Tensor
) -> torch.Tensor:
    """T3's ViTEncoder.forward then TransformerTrunk.forward (pooling 'none')."""
    tokens = encoder.patch_embed(x)
    tokens = (
        torch.cat([encoder.cls_token.expand(len(x), -1, -1), tokens], dim=1) + encoder.pos_embed
    )
    for block in [*encoder.blocks, *trunk.blocks]:
        tokens = block(tokens)
    return trunk.norm(tokens)


def write_t3_folder(root: Path) -> tuple[dict[str, timm_vit.VisionTransformer], nn.Module]:
    """trunk.pth, encoders/{mini,digit}.pth and one decoder under `root`; returns the modules."""
    torch.manual_seed(0)
    (root / "encoders").mkdir(parents=True)
    (root / "decoders").mkdir()
    encoders = {name: t3_encoder() for name in ("mini", "digit")}
    for name, module in encoders.items():
        with torch.no_grad():
            module.pos_embed.normal_(0, 0.02)
            module.cls_token.normal_(0, 0.02)
        torch.save(module.state_dict(), root / "encoders" / f"{name}.pth")
    trunk = t3_trunk()
    torch.save(trunk.state_dict(), root / "trunk.pth")
    torch.save({"fc.weight": torch.zeros(3, WIDTH)}, root / "decoders" / "pose_estimation_3d.pth")
    return encoders, trunk
