"""The 1D temporal U-Net denoiser of Diffusion Policy (Chi et al. 2023, after Janner et al.'s
Diffuser): convolutions along the action-time axis, conditioned through FiLM on the
diffusion step and the observation features.

    noisy chunk (B, T_p, D_a) -> (B, D_a, T_p)
    down: per width, two FiLM residual blocks, then halve T (not after the last width)
    mid:  two FiLM residual blocks at the widest width
    up:   per width (reversed), concatenate the skip, two blocks, then double T
    out:  conv block and 1x1 conv back to D_a -> (B, T_p, D_a)

The horizon must be divisible by 2^(len(widths) - 1) (checked by the policy's config).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn

from policies.encoders.conv import norm_groups


class StepEmbedding(nn.Module):
    """Diffusion step (B,) -> (B, dim): sinusoids at geometric frequencies, then an MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.Mish(), nn.Linear(4 * dim, dim))

    def forward(self, step: Tensor) -> Tensor:
        half = self.dim // 2
        frequencies = torch.exp(
            -math.log(10_000.0) * torch.arange(half, device=step.device) / max(1, half - 1)
        )  # (half,)
        angles = step.float()[:, None] * frequencies[None]  # (B, half)
        out: Tensor = self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))
        return out


class ConvBlock(nn.Module):
    """Conv1d -> GroupNorm -> Mish; (B, C_in, T) -> (B, C_out, T)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(norm_groups(c_out), c_out),
            nn.Mish(),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.block(x)
        return out


class FiLMResidualBlock(nn.Module):
    """Two conv blocks; the condition sets a per-channel scale and bias between them (FiLM),
    or a bias only. (B, C_in, T), (B, cond_dim) -> (B, C_out, T)."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel_size: int, scale: bool) -> None:
        super().__init__()
        self.scale, self.c_out = scale, c_out
        self.first = ConvBlock(c_in, c_out, kernel_size)
        self.second = ConvBlock(c_out, c_out, kernel_size)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, c_out * (2 if scale else 1)))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h = self.first(x)  # (B, C_out, T)
        film = self.film(cond)[:, :, None]  # (B, C_out or 2 C_out, 1)
        if self.scale:
            gamma, beta = film.split(self.c_out, dim=1)
            h = gamma * h + beta
        else:
            h = h + film
        out: Tensor = self.second(h) + self.skip(x)
        return out


class Level(nn.Module):
    """Two FiLM residual blocks, then a resampling layer (down, up or none)."""

    def __init__(
        self, first: FiLMResidualBlock, second: FiLMResidualBlock, resample: nn.Module
    ) -> None:
        super().__init__()
        self.first, self.second, self.resample = first, second, resample

    def blocks(self, x: Tensor, cond: Tensor) -> Tensor:
        out: Tensor = self.second(self.first(x, cond), cond)
        return out


class ConditionalUnet1D(nn.Module):
    """(B, T_p, D_a) noisy actions, (B,) diffusion steps, (B, T_o, F) observation features
    (cond_dim = T_o * F) -> (B, T_p, D_a): the predicted noise or clean chunk."""

    def __init__(
        self,
        action_dim: int,
        cond_dim: int,
        widths: Sequence[int] = (64, 128, 256),
        kernel_size: int = 5,
        step_embed_dim: int = 128,
        film_scale: bool = True,
    ) -> None:
        super().__init__()
        self.step_embedding = StepEmbedding(step_embed_dim)
        cond = step_embed_dim + cond_dim

        def block(c_in: int, c_out: int) -> FiLMResidualBlock:
            return FiLMResidualBlock(c_in, c_out, cond, kernel_size, film_scale)

        self.down = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(itertools.pairwise([action_dim, *widths])):
            last = i == len(widths) - 1
            halve = nn.Identity() if last else nn.Conv1d(c_out, c_out, 3, stride=2, padding=1)
            self.down.append(Level(block(c_in, c_out), block(c_out, c_out), halve))
        widest = widths[-1]
        self.mid = Level(block(widest, widest), block(widest, widest), nn.Identity())
        self.up = nn.ModuleList()
        for c_out, c_in in reversed(list(itertools.pairwise(widths))):
            double = nn.ConvTranspose1d(c_out, c_out, 4, stride=2, padding=1)
            self.up.append(Level(block(2 * c_in, c_out), block(c_out, c_out), double))
        self.out = nn.Sequential(
            ConvBlock(widths[0], widths[0], kernel_size), nn.Conv1d(widths[0], action_dim, 1)
        )

    def forward(self, sample: Tensor, step: Tensor, cond: Tensor) -> Tensor:
        condition = torch.cat([self.step_embedding(step), cond.flatten(1)], dim=-1)  # (B, C)
        x = sample.transpose(1, 2)  # (B, D_a, T_p)
        skips = []
        for level in cast(list[Level], list(self.down)):
            x = level.blocks(x, condition)  # (B, width, T)
            skips.append(x)
            x = level.resample(x)  # (B, width, T / 2), except after the last width
        x = self.mid.blocks(x, condition)
        for level in cast(list[Level], list(self.up)):
            x = torch.cat([x, skips.pop()], dim=1)  # (B, 2 width, T)
            x = level.resample(level.blocks(x, condition))  # (B, width', 2 T)
        out: Tensor = self.out(x).transpose(1, 2)  # (B, T_p, D_a)
        return out
