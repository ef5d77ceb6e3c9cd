"""Convolutional image encoders with spatial-softmax keypoints: a small one for CPU
training (ConvEncoder) and the ResNet-18 of the Diffusion Policy recipe (ResNetEncoder).

Sized for CPU training on 32-128 px images: a few strided 3x3 convolutions with GroupNorm
(BatchNorm misbehaves with EMA and small batches), then spatial softmax turns each channel
into the expected (x, y) of its activation, which keeps the position information that
insertion and pushing depend on. Reads top to bottom; shapes in comments.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SpatialSoftmax(nn.Module):
    """(B, C, H, W) -> (B, 2K): softmax over pixels per keypoint channel, then expected x, y."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.to_keypoints = nn.Conv2d(in_channels, num_keypoints, kernel_size=1)
        self.temperature = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        x = self.to_keypoints(x)  # (B, K, H, W)
        b, k, h, w = x.shape
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        attention = torch.softmax(x.reshape(b, k, h * w) / self.temperature, dim=-1)
        attention = attention.reshape(b, k, h, w)
        expected_x = (attention.sum(dim=2) * xs).sum(dim=-1)  # (B, K)
        expected_y = (attention.sum(dim=3) * ys).sum(dim=-1)  # (B, K)
        return torch.cat([expected_x, expected_y], dim=-1)  # (B, 2K)


class ConvEncoder(nn.Module):
    """(B, C, H, W) float in [-1, 1] -> (B, out_features)."""

    def __init__(
        self,
        in_channels: int,
        out_features: int,
        widths: Sequence[int] = (16, 32, 32),
        num_keypoints: int = 32,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            stride = 2 if i < len(widths) - 1 else 1  # last layer keeps resolution
            layers += [
                nn.Conv2d(channels, width, kernel_size=3, stride=stride, padding=1),
                nn.GroupNorm(norm_groups(width), width),
                nn.Mish(),
            ]
            channels = width
        self.trunk = nn.Sequential(*layers)
        self.keypoints = SpatialSoftmax(channels, num_keypoints)
        self.project = nn.Sequential(nn.Linear(2 * num_keypoints, out_features), nn.Mish())

    def forward(self, x: Tensor) -> Tensor:
        features = self.trunk(x)  # (B, widths[-1], H / 2^(n-1), W / 2^(n-1))
        out: Tensor = self.project(self.keypoints(features))  # (B, out_features)
        return out


class ResNetEncoder(nn.Module):
    """ResNet-18 with GroupNorm (channels / 16 groups) instead of BatchNorm, its average pool
    and classifier replaced by spatial-softmax keypoints: the image encoder of Diffusion
    Policy and robomimic. Random weights (no download). (B, C, H, W) -> (B, out_features)."""

    def __init__(self, in_channels: int, out_features: int, num_keypoints: int = 32) -> None:
        super().__init__()
        from torchvision.models import resnet18  # only this encoder needs torchvision here

        net = resnet18(weights=None, norm_layer=lambda c: nn.GroupNorm(c // 16, c))
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.trunk = nn.Sequential(*list(net.children())[:-2])  # up to layer4: (B, 512, H/32, W/32)
        self.keypoints = SpatialSoftmax(512, num_keypoints)
        self.project = nn.Sequential(nn.Linear(2 * num_keypoints, out_features), nn.Mish())

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.project(self.keypoints(self.trunk(x)))  # (B, out_features)
        return out


def random_shift(x: Tensor, pad: int, generator: torch.Generator | None = None) -> Tensor:
    """Random translation by up to `pad` pixels with edge replication (DrQ-style).

    x: (N, C, H, W) -> (N, C, H, W); each image gets its own integer shift.
    """
    if pad <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")  # (N, C, H + 2p, W + 2p)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None])[:, :, None]  # (N, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None])[:, None, :]  # (N, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None]  # (N, 1, 1)
    shifted = padded.permute(0, 2, 3, 1)[batch, rows, cols]  # (N, H, W, C)
    return shifted.permute(0, 3, 1, 2).contiguous()


def norm_groups(width: int) -> int:
    """GroupNorm groups for `width` channels: up to 8, at least 4 channels a group, dividing
    `width` (16 -> 4, 32 -> 8, 36 -> 6, 3 or 13 -> 1)."""
    most = max(1, min(8, width // 4))
    return max(g for g in range(1, most + 1) if width % g == 0)
