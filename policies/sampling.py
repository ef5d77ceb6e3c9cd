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

Both can make part of a chunk agree with a target at every step, the way real-time chunking
makes a new chunk agree with the actions already committed (`Inpaint`): by replacing that
part of each step's clean estimate (`inpaint`, both samplers), or, for flow, by RTC's
gradient guidance (Black et al. 2025, after PiGDM, Song et al. 2023): each step's velocity
is corrected along the gradient of the weighted error of the clean estimate, taken through
the denoiser with one backward pass per step. Guidance is soft at weight 1 too; it keeps
the chunk on the model's distribution where replacement can step off it. (RTC defines it
for flow matching; for DDIM its step sizes are not derived here, so it is refused.)

The coefficients are non-persistent buffers: they follow `.to(device)` but are not saved in
checkpoints (they are a function of the config).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Inpaint:
    """What part of a chunk must agree with what: a normalised `target` (B, T_p, D_a) with
    `weights` (T_p,) in [0, 1]; `guidance` 0: replace each step's clean estimate there
    (`inpaint`); > 0: gradient guidance, its weight clipped at `guidance` (RTC's beta)."""

    target: Tensor
    weights: Tensor
    guidance: float = 0.0


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
        if guide is not None and guide.guidance > 0:
            raise ValueError("gradient guidance is defined for flow policies (RTC's "
                             "formulation); a DDIM policy inpaints (guidance = 0)")  # fmt: skip
        batch = chunk.shape[0]
        for i in range(self.timesteps.shape[0]):
            out = denoiser(chunk, self.timesteps[i].expand(batch), cond)  # (B, T_p, D_a)
            clean, noise = self._split(chunk, out, i)
            if self.clip:
                clean = clean.clamp(-1.0, 1.0)
            if guide is not None:
                clean = inpaint(clean, guide)
            root_a_prev, root_1ma_prev = self.coefficients[i, 2:].to(chunk.dtype)
            chunk = root_a_prev * clean + root_1ma_prev * noise
        return chunk

    def _split(self, chunk: Tensor, out: Tensor, i: int) -> tuple[Tensor, Tensor]:
        """The denoiser's output at step i as (clean estimate, noise estimate)."""
        root_a, root_1ma = self.coefficients[i, :2].to(chunk.dtype)
        if self.prediction == "epsilon":
            return (chunk - root_1ma * out) / root_a, out
        return out, (chunk - root_a * out) / root_1ma


def _guided(
    estimates: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
    chunk: Tensor,
    cond: Tensor,
    guide: Inpaint,
) -> tuple[Tensor, Tensor, Tensor]:
    """(clean, other, gradient) at `chunk`: `estimates(chunk, cond)` gives the clean estimate
    and a second output (noise or velocity); the gradient is the weighted error of the
    clean estimate against the target, pulled back through `estimates` (one VJP). Runs with
    gradients even under `torch.inference_mode` (its tensors are copied out of it)."""
    with torch.inference_mode(False), torch.enable_grad():
        x = chunk.clone().requires_grad_(True)
        clean, other = estimates(x, cond.clone())
        w = guide.weights.clone().to(chunk.dtype)[None, :, None]  # (1, T_p, 1)
        error = w * (guide.target.clone().to(chunk.dtype) - clean)  # (B, T_p, D_a)
        (grad,) = torch.autograd.grad(clean, x, grad_outputs=error)
    return clean.detach(), other.detach(), grad.detach()


def inpaint(clean: Tensor, guide: Inpaint) -> Tensor:
    """The clean chunk estimate (B, T_p, D_a) pulled toward guide's target (B, T_p, D_a) with
    its weights (T_p,): target where 1, the estimate where 0, a blend between. Done at every
    denoising step, the free slots adapt to the pinned ones through the denoiser, which
    sees them (inpainting, as real-time chunking does for the actions already committed)."""
    w = guide.weights.to(clean.dtype)[None, :, None]  # (1, T_p, 1)
    return w * guide.target.to(clean.dtype) + (1.0 - w) * clean


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
    the straight path from the noise estimate x - t v to it; or, with guidance, the velocity
    gets RTC's correction min(beta, (1 - t) / (t r^2)) x gradient, r^2 = (1 - t)^2 /
    (t^2 + (1 - t)^2)."""
    batch = chunk.shape[0]
    for i in range(steps):
        t, t_next = i / steps, (i + 1) / steps
        times = torch.full((batch,), t, device=chunk.device)  # (B,)
        if guide is not None and guide.guidance > 0:

            def estimates(
                x: Tensor, c: Tensor, times: Tensor = times, t: float = t
            ) -> tuple[Tensor, Tensor]:
                v = denoiser(x, times * time_scale, c)
                return x + (1 - t) * v, v

            _, velocity, grad = _guided(estimates, chunk, cond, guide)
            r2 = (1 - t) ** 2 / (t**2 + (1 - t) ** 2)
            weight = guide.guidance if t == 0 else min(guide.guidance, (1 - t) / (t * r2))
            chunk = chunk + (velocity + weight * grad) / steps
            continue
        velocity = denoiser(chunk, times * time_scale, cond)
        if guide is None:
            chunk = chunk + velocity / steps
            continue
        start, clean = chunk - t * velocity, inpaint(chunk + (1 - t) * velocity, guide)
        chunk = (1 - t_next) * start + t_next * clean
    return chunk.clamp(-1.0, 1.0) if clip else chunk
