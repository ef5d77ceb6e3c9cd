"""Deterministic samplers as plain tensor arithmetic over pre-computed coefficients.

diffusers' schedulers keep Python state between steps (`set_timesteps`, a step index) and
index their tables with Python integers, which costs a little on every call and breaks a
`torch.compile` graph (and so CUDA graphs) at every step. The two deterministic samplers a
deployed policy uses are a handful of multiply-adds per step, so they are written here over
coefficients computed once per policy:

- `DdimSampler`: DDIM with eta = 0 (Song et al. 2021, eq. 12) over the same timesteps and
  alphas as diffusers' `DDIMScheduler` (whose `step` is the test oracle), epsilon or sample
  prediction, the predicted clean chunk clipped to [-1, 1] when asked;
- `euler_flow`: flow matching's Euler steps from noise (t = 0) to a chunk (t = 1).

Both can inpaint (`inpaint`): pin part of the chunk to a target at every step, the way
real-time chunking makes a new chunk agree with the actions already committed.

The coefficients are non-persistent buffers: they follow `.to(device)` but are not saved in
checkpoints (they are a function of the config).
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor, nn

Inpaint = tuple[Tensor, Tensor]  # normalised target (B, T_p, D_a), weights (T_p,) in [0, 1]


class Denoiser(Protocol):
    def __call__(self, chunk: Tensor, steps: Tensor, cond: Tensor) -> Tensor: ...


class DdimSampler(nn.Module):
    """DDIM (eta = 0) from noise to a normalised chunk in `len(timesteps)` denoiser calls."""

    timesteps: Tensor
    coefficients: Tensor

    def __init__(self, scheduler: Any, inference_steps: int, prediction: str, clip: bool):
        """scheduler: a diffusers DDIMScheduler (its alphas, timesteps and final alpha)."""
        super().__init__()
        if prediction not in ("epsilon", "sample"):
            raise ValueError(f"prediction must be 'epsilon' or 'sample', got {prediction!r}")
        self.prediction = prediction
        self.clip = clip
        scheduler.set_timesteps(inference_steps)
        timesteps = scheduler.timesteps.long()  # (S,), descending
        alphas = scheduler.alphas_cumprod.double()  # (K,)
        stride = scheduler.config.num_train_timesteps // inference_steps
        previous = timesteps - stride  # (S,)
        final = torch.as_tensor(scheduler.final_alpha_cumprod, dtype=torch.float64)
        alpha = alphas[timesteps]  # (S,)
        alpha_prev = torch.where(previous >= 0, alphas[previous.clamp(min=0)], final)  # (S,)
        coefficients = torch.stack(  # (S, 4): sqrt a_t, sqrt(1 - a_t), same for t - stride
            [alpha.sqrt(), (1 - alpha).sqrt(), alpha_prev.sqrt(), (1 - alpha_prev).sqrt()], 1
        )
        self.register_buffer("timesteps", timesteps, persistent=False)
        self.register_buffer("coefficients", coefficients.float(), persistent=False)

    def forward(
        self, denoiser: Denoiser, chunk: Tensor, cond: Tensor, guide: Inpaint | None = None
    ) -> Tensor:
        """chunk: noise (B, T_p, D_a); cond (B, T_o, F) -> (B, T_p, D_a); `guide`: see
        `inpaint`, applied to the clean estimate of every step."""
        batch = chunk.shape[0]
        for i in range(self.timesteps.shape[0]):
            out = denoiser(chunk, self.timesteps[i].expand(batch), cond)  # (B, T_p, D_a)
            root_a, root_1ma, root_a_prev, root_1ma_prev = self.coefficients[i].to(chunk.dtype)
            if self.prediction == "epsilon":
                clean, noise = (chunk - root_1ma * out) / root_a, out
            else:
                clean, noise = out, (chunk - root_a * out) / root_1ma
            if self.clip:
                clean = clean.clamp(-1.0, 1.0)
            if guide is not None:
                clean = inpaint(clean, guide)
            chunk = root_a_prev * clean + root_1ma_prev * noise
        return chunk


def inpaint(clean: Tensor, guide: Inpaint) -> Tensor:
    """The clean chunk estimate (B, T_p, D_a) pulled toward guide's target (B, T_p, D_a) with
    its weights (T_p,): target where 1, the estimate where 0, a blend between. Done at every
    denoising step, the free slots adapt to the pinned ones through the denoiser, which
    sees them (inpainting, as real-time chunking does for the actions already committed)."""
    target, weights = guide
    w = weights.to(clean.dtype)[None, :, None]  # (1, T_p, 1)
    return w * target.to(clean.dtype) + (1.0 - w) * clean


def euler_flow(
    denoiser: Denoiser,
    chunk: Tensor,
    cond: Tensor,
    steps: int,
    time_scale: float,
    clip: bool,
    guide: Inpaint | None = None,
) -> Tensor:
    """Euler steps along the learned velocity from noise (t = 0) to a chunk (t = 1); the
    denoiser sees t * time_scale (its step embedding was trained on that range). With a
    `guide`, each step's clean estimate x + (1 - t) v is inpainted and the step goes on
    the straight path from the noise estimate x - t v to it."""
    batch = chunk.shape[0]
    for i in range(steps):
        t, t_next = i / steps, (i + 1) / steps
        times = torch.full((batch,), t, device=chunk.device)  # (B,)
        velocity = denoiser(chunk, times * time_scale, cond)
        if guide is None:
            chunk = chunk + velocity / steps
            continue
        start, clean = chunk - t * velocity, inpaint(chunk + (1 - t) * velocity, guide)
        chunk = (1 - t_next) * start + t_next * clean
    return chunk.clamp(-1.0, 1.0) if clip else chunk
