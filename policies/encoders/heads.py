"""Task heads on the trunk's tokens (B, 1 + N, D), one per task, as in T3:

* `classification`: an MLP on the CLS token (D -> 256 -> 128 -> 64 -> classes, SiLU,
  dropout 0.1 between hidden layers), trained with cross-entropy;
* `regression`: the same MLP on the mean of the patch tokens -> `outputs` values (MSE);
* `pose`: two towers, each frame's patch grid through two ResNet basic blocks (the first
  with stride 2) -> average pool -> FC to D/2; the towers' features concatenated -> MLP ->
  `outputs` (3 or 9: a pose change between the two frames);
* `mae`: the MAE decoder (width 512, 8 blocks, 16 heads; fixed 2-D sin-cos positions) that
  predicts the pixels of the masked patches, scored on per-patch-normalised pixels.

Parameter names follow T3's decoders (`model.N.*`, `conv_layers.*`, `branch_fc.*`,
`output_fc.*`, `decoder_*`, `mask_token`) so that its published heads can be imported later.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

from policies.encoders.blocks import TRUNK_EPS, Block

HeadKind = Literal["classification", "regression", "pose", "mae"]


class HeadConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: HeadKind
    outputs: int = Field(1, ge=1, description="classes, regression values or pose numbers")
    hidden: tuple[int, ...] = (256, 128, 64)
    dropout: float = Field(0.1, ge=0, lt=1)
    # MAE decoder only
    decoder_width: int = Field(512, ge=8)
    decoder_depth: int = Field(8, ge=1)
    decoder_heads: int = Field(16, ge=1)


def mlp(inputs: int, outputs: int, hidden: tuple[int, ...], dropout: float) -> nn.Sequential:
    """T3's MLP: Linear, SiLU, then per further hidden layer Linear, Dropout, SiLU; Linear."""
    layers: list[nn.Module] = [nn.Linear(inputs, hidden[0]), nn.SiLU()]
    for a, b in itertools.pairwise(hidden):
        layers += [nn.Linear(a, b), *([nn.Dropout(dropout)] if dropout > 1e-5 else []), nn.SiLU()]
    return nn.Sequential(*layers, nn.Linear(hidden[-1], outputs))


class PooledHead(nn.Module):
    """classification (CLS token) or regression (mean of the patch tokens)."""

    def __init__(self, width: int, config: HeadConfig) -> None:
        super().__init__()
        self.pool_cls = config.kind == "classification"
        self.model = mlp(width, config.outputs, config.hidden, config.dropout)

    def forward(self, tokens: Tensor) -> Tensor:
        pooled = tokens[:, 0] if self.pool_cls else tokens[:, 1:].mean(dim=1)  # (B, D)
        out: Tensor = self.model(pooled)  # (B, outputs)
        return out


class PoseHead(nn.Module):
    """Two frames' tokens -> the pose change between them (B, outputs)."""

    def __init__(self, width: int, config: HeadConfig) -> None:
        super().__init__()
        downsample = nn.Sequential(
            nn.Conv2d(width, width, kernel_size=1, stride=2, bias=False), nn.BatchNorm2d(width)
        )
        self.conv_layers = nn.Sequential(
            BasicBlock(width, width, stride=2, downsample=downsample),
            BasicBlock(width, width),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        branch: list[nn.Module] = [nn.Flatten(), nn.Linear(width, width // 2), nn.SiLU()]
        self.branch_fc = nn.Sequential(
            *branch, *([nn.Dropout(config.dropout)] * (config.dropout > 0))
        )
        self.output_fc = mlp(width, config.outputs, config.hidden, config.dropout)

    def forward(self, first: Tensor, second: Tensor) -> Tensor:
        towers = [self._tower(t) for t in (first, second)]  # each (B, D / 2)
        out: Tensor = self.output_fc(torch.cat(towers, dim=1))  # (B, outputs)
        return out

    def _tower(self, tokens: Tensor) -> Tensor:
        patches = tokens[:, 1:]  # (B, N, D), no CLS
        b, n, d = patches.shape
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"the pose head needs a square patch grid, got {n} patches")
        grid = patches.transpose(1, 2).reshape(b, d, side, side)  # (B, D, g, g)
        out: Tensor = self.branch_fc(self.avgpool(self.conv_layers(grid)))
        return out


class MAEDecoder(nn.Module):
    """Visible tokens (B, 1 + keep, D) -> predicted pixels of every patch (B, N, p * p * 3)."""

    def __init__(self, width: int, grid: int, patch_size: int, config: HeadConfig) -> None:
        super().__init__()
        d = config.decoder_width
        self.decoder_embed = nn.Linear(width, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        table = torch.from_numpy(sincos_2d(d, grid)).float()[None]  # (1, 1 + g * g, d)
        self.decoder_pos_embed = nn.Parameter(table, requires_grad=False)  # fixed
        self.decoder_blocks = nn.ModuleList(
            Block(d, config.decoder_heads, 4.0, TRUNK_EPS) for _ in range(config.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(d, eps=TRUNK_EPS)
        self.decoder_pred = nn.Linear(d, patch_size**2 * 3)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, visible: Tensor, ids_restore: Tensor) -> Tensor:
        x = self.decoder_embed(visible)  # (B, 1 + keep, d)
        b, n = ids_restore.shape
        masks = self.mask_token.expand(b, n - (x.shape[1] - 1), -1)
        patches = torch.cat([x[:, 1:], masks], dim=1)  # (B, N, d), kept first
        index = ids_restore[..., None].expand(-1, -1, x.shape[2])
        patches = torch.gather(patches, 1, index)  # back to the image's patch order
        x = torch.cat([x[:, :1], patches], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        pred: Tensor = self.decoder_pred(self.decoder_norm(x))[:, 1:]  # (B, N, p * p * 3)
        return pred


def make_head(config: HeadConfig, width: int, grid: int, patch_size: int) -> nn.Module:
    if config.kind == "pose":
        return PoseHead(width, config)
    if config.kind == "mae":
        return MAEDecoder(width, grid, patch_size, config)
    return PooledHead(width, config)


def random_masking(
    tokens: Tensor, mask_ratio: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Keep a random int(N * (1 - ratio)) of each sample's patch tokens (B, N, D).

    Returns the kept tokens (B, keep, D), the mask (B, N) with 1 = removed, and ids_restore
    (B, N), which puts [kept, removed] back into the original order.
    """
    b, n, d = tokens.shape
    keep = int(n * (1 - mask_ratio))
    noise = torch.rand(b, n, generator=generator, device=tokens.device)
    ids_shuffle = noise.argsort(dim=1)  # small noise: kept
    ids_restore = ids_shuffle.argsort(dim=1)
    kept = torch.gather(tokens, 1, ids_shuffle[:, :keep, None].expand(-1, -1, d))
    mask = torch.ones(b, n, device=tokens.device)
    mask[:, :keep] = 0
    return kept, torch.gather(mask, 1, ids_restore), ids_restore


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """(B, 3, H, W) -> (B, N, p * p * 3), patches in row-major order, pixels (p, q, channel)."""
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(b, (h // p) * (w // p), p * p * c)


def mae_loss(pred: Tensor, images: Tensor, mask: Tensor, patch_size: int) -> Tensor:
    """Mean squared error on the removed patches only, of per-patch-normalised pixels."""
    target = patchify(images, patch_size)  # (B, N, p * p * 3)
    mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
    target = (target - mean) / (var + 1e-6).sqrt()
    per_patch = (pred - target).pow(2).mean(dim=-1)  # (B, N)
    return (per_patch * mask).sum() / mask.sum()


def sincos_2d(dim: int, grid: int) -> np.ndarray:
    """(1 + grid * grid, dim) fixed 2-D sine-cosine positions, a zero row for the CLS token:
    half the channels encode the row, half the column, each as sin and cos of
    position / 10000^(2i / (dim / 2))."""
    if dim % 4:
        raise ValueError(f"sin-cos positions need a width divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4.0))  # (dim / 4,)
    rows, cols = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid), indexing="ij")

    def encode(pos: np.ndarray) -> np.ndarray:
        angles = np.outer(pos.reshape(-1), omega)  # (g * g, dim / 4)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    table = np.concatenate([encode(cols), encode(rows)], axis=1)  # (g * g, dim)
    return np.concatenate([np.zeros((1, dim)), table], axis=0)
