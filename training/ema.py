"""Exponential moving average of a policy's weights: the copy that is validated, saved as
the checkpoint's weights, evaluated and deployed, while the optimiser trains the online copy.

Decay follows Diffusion Policy's warmup (after its EMAModel): at optimiser step k (0-based)

    decay(k) = clip(1 - (1 + k / inv_gamma) ** -power, min_decay, max_decay)

so the first update copies the weights, the average covers ~(k / 4) steps early on
(power 0.75) and at most 1 / (1 - max_decay) steps later. Buffers (the normaliser's
statistics) are copied, not averaged. The online weights travel in the checkpoint beside
the average (ONLINE_FILE), so a resume continues both exactly.
"""

from __future__ import annotations

import copy

import torch
from pydantic import BaseModel, ConfigDict, Field

from policies import Policy

ONLINE_FILE = "online.safetensors"  # the trained (not averaged) weights, for resuming


class EmaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="keep, validate, save and deploy the EMA weights")
    power: float = Field(0.75, gt=0)
    inv_gamma: float = Field(1.0, gt=0)
    min_decay: float = Field(0.0, ge=0, lt=1)
    max_decay: float = Field(0.9999, ge=0, lt=1)


class Ema:
    """Holds `model`, the average of `policy`'s weights; `update` after each optimiser step."""

    def __init__(self, policy: Policy, config: EmaConfig) -> None:
        self.config = config
        self.model = copy.deepcopy(policy).eval().requires_grad_(False)

    def decay(self, step: int) -> float:
        c = self.config
        value = 1.0 - float((1.0 + step / c.inv_gamma) ** -c.power)
        return min(c.max_decay, max(c.min_decay, value))

    @torch.no_grad()
    def update(self, policy: Policy, step: int) -> None:
        """Fold in `policy`'s weights after optimiser step `step` (0-based)."""
        weight = 1.0 - self.decay(step)
        averaged: list[torch.Tensor] = list(self.model.parameters())
        online = [p.detach() for p in policy.parameters()]
        torch._foreach_lerp_(averaged, online, weight)
        for mine, theirs in zip(self.model.buffers(), policy.buffers(), strict=True):
            mine.copy_(theirs)
