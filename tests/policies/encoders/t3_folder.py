"""A T3 checkpoint folder written the way T3 writes one: timm modules' pickled state dicts
(the tests build it from known random tensors; nothing is downloaded)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import timm.models.vision_transformer as timm_vit
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

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
    """trunk.pth, encoders/{mini,digit}.pth and a decoder of each kind under `root`."""
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
    for name, decoder in t3_decoders().items():
        torch.save(decoder.state_dict(), root / "decoders" / f"{name}.pth")
    return encoders, trunk


def t3_mlp(inputs: int, outputs: int, hidden: list[int], dropout: float) -> nn.Sequential:
    """T3's makeMLP layout: Linear, SiLU, then per further hidden layer Linear, Dropout
    (when p > 1e-5), SiLU; a final Linear."""
    layers: list[nn.Module] = [nn.Linear(inputs, hidden[0]), nn.SiLU()]
    for i in range(1, len(hidden)):
        layers.append(nn.Linear(hidden[i - 1], hidden[i]))
        if dropout > 1e-5:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.SiLU())
    return nn.Sequential(*layers, nn.Linear(hidden[-1], outputs))


def t3_decoders() -> dict[str, nn.Module]:
    """One decoder of each kind, with T3's module names, seeded."""
    torch.manual_seed(1)
    cls, reg, pose, mae = nn.Module(), nn.Module(), nn.Module(), nn.Module()
    cls.model = t3_mlp(WIDTH, 5, [256, 128, 64], 0.1)  # MLPDecoder, CLS pooling
    reg.model = t3_mlp(WIDTH, 1, [32, 16], 0.0)  # MLPDecoder, global pooling, no dropout
    down = nn.Sequential(nn.Conv2d(WIDTH, WIDTH, 1, stride=2, bias=False), nn.BatchNorm2d(WIDTH))
    pose.conv_layers = nn.Sequential(
        BasicBlock(WIDTH, WIDTH, stride=2, downsample=down), BasicBlock(WIDTH, WIDTH)
    )
    pose.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    pose.branch_fc = nn.Sequential(
        nn.Flatten(), nn.Linear(WIDTH, WIDTH // 2), nn.SiLU(), nn.Dropout(0.1)
    )
    pose.output_fc = t3_mlp(WIDTH, 3, [256, 64], 0.1)  # CNNFCDecoder
    d, grid = 64, IMAGE // PATCH
    mae.decoder_embed = nn.Linear(WIDTH, d)
    mae.mask_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
    mae.decoder_pos_embed = nn.Parameter(torch.randn(1, 1 + grid * grid, d), requires_grad=False)
    mae.decoder_blocks = nn.ModuleList(
        timm_vit.Block(d, 16, 4.0, qkv_bias=True, norm_layer=nn.LayerNorm) for _ in range(2)
    )
    mae.decoder_norm = nn.LayerNorm(d)
    mae.decoder_pred = nn.Linear(d, PATCH * PATCH * 3)
    decoders = {"cls_test": cls, "variance_estimation": reg, "pose_estimation_3d": pose}
    for module in (*decoders.values(), mae):
        for p in module.parameters():  # away from zero biases and unit norms
            p.data.add_(torch.randn_like(p) * 0.05)
        module.eval()
    return decoders | {"mae": mae}


def t3_pose(pose: nn.Module, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """CNNFCDecoder.forward with transformer_upstream: each (B, 1 + N, D) -> grid -> tower."""
    towers = []
    for tokens in (first, second):
        x = tokens[:, 1:]
        b, t, c = x.shape
        side = round(t**0.5)
        x = x.permute(0, 2, 1).reshape(b, c, side, side)
        towers.append(pose.branch_fc(pose.avgpool(pose.conv_layers(x))))
    return pose.output_fc(torch.cat(towers, dim=1))


def t3_mae(mae: nn.Module, x: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
    """MAEViTDecoder.forward: visible tokens (B, 1 + keep, D) -> patches (B, N, p * p * 3)."""
    x = mae.decoder_embed(x)
    masks = mae.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
    x_ = torch.cat([x[:, 1:, :], masks], dim=1)
    x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
    x = torch.cat([x[:, :1, :], x_], dim=1) + mae.decoder_pos_embed
    for block in mae.decoder_blocks:
        x = block(x)
    return mae.decoder_pred(mae.decoder_norm(x))[:, 1:, :]
