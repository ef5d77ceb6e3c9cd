"""Diffusion Policy (Chi et al., RSS 2023): a chunk of T_p actions is denoised from Gaussian
noise by a 1D temporal U-Net conditioned (FiLM) on the observation features of the last
T_o frames.

The denoiser (`backbone`) is the 1D temporal U-Net (policies/unet1d.py) or the transformer
of the paper's second variant (policies/transformer_denoiser.py).

Training (DDPM): noise a normalised demonstration chunk to a random step k of a
`num_train_steps` schedule (squared cosine by default) and regress the noise ("epsilon")
or the clean chunk ("sample") with an MSE loss. Inference: DDIM (or DDPM) over
`inference_steps` steps from N(0, I); diffusers provides both schedulers (DDIM runs as
pre-computed tensor arithmetic, policies/sampling.py, checked against diffusers'). Observation
encoding is shared with BC (policies/observation.py).

With `objective = "flow"` the same denoisers learn flow matching instead (Lipman et al.
2023; rectified flow): the velocity of the straight path from noise (t = 0) to the chunk
(t = 1) at a uniform t, sampled with `inference_steps` Euler steps (`sampler` and
`prediction` then do not apply).

Sampling draws from torch's global generator, so `torch.manual_seed` before a call fixes
its output; `predict_action_chunk(obs, generator=g)` uses `g` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from policies.base import ACTION_KEY, Guide, Policy, PolicyIO
from policies.observation import ObservationEncoder, VisuomotorConfig, make_normalizer
from policies.sampling import DdimSampler, Inpaint, euler_flow
from policies.transformer_denoiser import ConditionalTransformer1D
from policies.unet1d import ConditionalUnet1D


class DiffusionConfig(VisuomotorConfig):
    name: Literal["diffusion"] = "diffusion"
    horizon: int = Field(16, ge=1, description="T_p: actions denoised per chunk")
    n_action_steps: int = Field(8, ge=1, description="T_a: actions executed per chunk")
    backbone: Literal["unet", "transformer"] = Field(
        "unet", description="the denoiser: 1D temporal U-Net (default) or transformer"
    )
    down_widths: tuple[int, ...] = Field(
        (64, 128, 256), min_length=1, description="U-Net widths; DP's own: (256, 512, 1024)"
    )
    kernel_size: int = Field(5, ge=1)
    step_embed_dim: int = Field(128, ge=2)
    film_scale: bool = Field(True, description="FiLM sets scale and bias (else bias only)")
    transformer_width: int = Field(128, ge=8)
    transformer_heads: int = Field(4, ge=1)
    transformer_layers: int = Field(4, ge=1)
    transformer_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    objective: Literal["ddpm", "flow"] = Field(
        "ddpm", description="ddpm: denoising diffusion; flow: flow matching, Euler sampling"
    )
    num_train_steps: int = Field(100, ge=2, description="DDPM training schedule length")
    beta_schedule: Literal["squaredcos_cap_v2", "linear", "scaled_linear"] = "squaredcos_cap_v2"
    prediction: Literal["epsilon", "sample"] = "epsilon"
    sampler: Literal["ddim", "ddpm"] = "ddim"
    inference_steps: int = Field(10, ge=1, description="denoising steps per chunk")
    clip_sample: bool = Field(True, description="clip the denoised chunk to [-1, 1]")
    samples: int = Field(
        1, ge=1, le=64, description="chunks drawn per decision from independent noise and "
        "averaged: K > 1 trades the sample's modes for a chunk that wanders less",
    )  # fmt: skip

    @property
    def can_inpaint(self) -> bool:
        return self.objective == "flow" or self.sampler == "ddim"

    @model_validator(mode="after")
    def _schedule_fits(self) -> DiffusionConfig:
        levels = 2 ** (len(self.down_widths) - 1)
        if self.transformer_width % self.transformer_heads:
            raise ValueError(
                f"transformer_heads ({self.transformer_heads}) must divide transformer_width "
                f"({self.transformer_width})"
            )
        if self.backbone == "unet" and self.horizon % levels:
            raise ValueError(
                f"horizon must be divisible by 2^(len(down_widths) - 1) = {levels} "
                f"(got horizon {self.horizon} with {len(self.down_widths)} widths)"
            )
        if self.inference_steps > self.num_train_steps:
            raise ValueError(
                f"inference_steps ({self.inference_steps}) must be <= num_train_steps "
                f"({self.num_train_steps})"
            )
        if (
            self.objective == "ddpm"
            and self.sampler == "ddpm"
            and self.inference_steps != self.num_train_steps
        ):
            raise ValueError(
                "the ddpm sampler takes every training step: set inference_steps = "
                f"num_train_steps ({self.num_train_steps}), or use sampler = 'ddim'"
            )
        if self.clip_sample and self.action_norm == "gaussian":
            raise ValueError(
                "clip_sample clips chunks to [-1, 1], where action_norm 'gaussian' puts only "
                "one standard deviation: set clip_sample = false, or action_norm = 'limits'"
            )
        return self


class DiffusionPolicy(Policy):
    config: DiffusionConfig

    def __init__(self, config: DiffusionConfig, io: PolicyIO) -> None:
        super().__init__(config, io)
        self.normalizer = make_normalizer(io, config)
        self.observations = ObservationEncoder(config, io)
        self.denoiser = _denoiser(config, io.action_dim, self.observations.features_per_step)
        self.noise_scheduler = _scheduler("ddpm", config)
        self.sampler = _scheduler(config.sampler, config)
        self.ddim: DdimSampler | None = None
        self.configure_sampling()

    def configure_sampling(self) -> None:
        config = self.config
        device = next(self.parameters()).device
        self.ddim = (
            DdimSampler(self.sampler, config.inference_steps, config.prediction, config.clip_sample)
            if config.objective == "ddpm" and config.sampler == "ddim"
            else None
        )
        if self.ddim is not None:
            self.ddim.to(device)

    def _condition(self, obs: Mapping[str, Tensor], augment: bool) -> Tensor:
        """obs keys (B, >= T_o, ...) -> (B, T_o, features_per_step)."""
        obs = {k: v[:, : self.config.n_obs_steps] for k, v in obs.items()}
        features: Tensor = self.observations(obs, self.normalizer, augment)  # (B, T_o, F)
        return features

    def compute_loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        chunk = self.normalizer.normalize(ACTION_KEY, self.training_actions(batch))  # (B, T_p, D_a)
        cond = self._condition(batch, augment=self.training)  # (B, T_o, F)
        noise = torch.randn_like(chunk)  # (B, T_p, D_a)
        if self.config.objective == "flow":  # the straight path noise -> chunk, its velocity
            t = torch.rand(chunk.shape[0], 1, 1, device=chunk.device)  # (B, 1, 1)
            between = (1.0 - t) * noise + t * chunk
            velocity = self.denoiser(between, t.flatten() * self.config.num_train_steps, cond)
            return F.mse_loss(velocity, chunk - noise)
        steps = torch.randint(
            0, self.config.num_train_steps, (chunk.shape[0],), device=chunk.device
        )  # (B,)
        noisy = self.noise_scheduler.add_noise(chunk, noise, steps)  # (B, T_p, D_a)
        predicted = self.denoiser(noisy, steps, cond)  # (B, T_p, D_a)
        target = noise if self.config.prediction == "epsilon" else chunk
        return F.mse_loss(predicted, target)

    def initial_noise(
        self, obs: Mapping[str, Tensor], generator: torch.Generator | None = None
    ) -> Tensor:
        batch = next(iter(obs.values())).shape[0] * self.config.samples  # K B: sample-major
        shape = (batch, self.config.horizon, self.io.action_dim)
        device = next(self.parameters()).device
        return torch.randn(shape, generator=generator, device=device)  # (K B, T_p, D_a)

    def predict_action_chunk(
        self,
        obs: Mapping[str, Tensor],
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
        guide: Guide | None = None,
    ) -> Tensor:
        if noise is None:
            noise = self.initial_noise(obs, generator)  # (K B, T_p, D_a)
        k = self.config.samples
        cond = self._condition(obs, augment=False).repeat(k, 1, 1)  # (K B, T_o, F)
        inpaint = None if guide is None else self._inpaint(obs, guide, k)
        if self.config.objective == "flow":
            chunk = euler_flow(
                self.denoiser,
                noise,
                cond,
                self.config.inference_steps,
                float(self.config.num_train_steps),
                self.config.clip_sample,
                inpaint,
            )
        elif self.ddim is not None:
            chunk = self.ddim(self.denoiser, noise, cond, inpaint)
        elif inpaint is not None:
            raise ValueError("real-time chunking inpaints deterministic samplers: set the "
                             "policy's sampler to 'ddim' (or use a flow policy)")  # fmt: skip
        else:
            chunk = self._ddpm(noise, cond, generator)
        chunk = chunk.unflatten(0, (k, -1)).mean(0)  # (B, T_p, D_a): the K samples' mean
        return self.absolute_actions(obs, self.normalizer.unnormalize(ACTION_KEY, chunk))

    def _inpaint(self, obs: Mapping[str, Tensor], guide: Guide, k: int) -> Inpaint:
        """The guide in the network's frame, relative and normalised, for each of the K
        samples (K B, T_p, D_a); its weights."""
        actions = self.training_actions({**obs, ACTION_KEY: guide.actions})
        target = self.normalizer.normalize(ACTION_KEY, actions).repeat(k, 1, 1)
        return Inpaint(target, guide.weights, guide.guidance)

    def _ddpm(self, chunk: Tensor, cond: Tensor, generator: torch.Generator | None) -> Tensor:
        """diffusers' DDPM sampler over every training step (stochastic: it draws noise at
        each step) from noise to a normalised chunk (B, T_p, D_a)."""
        self.sampler.set_timesteps(self.config.inference_steps, device=cond.device)
        for step in self.sampler.timesteps:
            steps = step.expand(chunk.shape[0]).to(cond.device)  # (B,)
            out = self.denoiser(chunk, steps, cond)
            chunk = self.sampler.step(out, step, chunk, generator=generator).prev_sample
        return chunk


def _denoiser(config: DiffusionConfig, action_dim: int, frame_features: int) -> nn.Module:
    if config.backbone == "transformer":
        return ConditionalTransformer1D(
            action_dim,
            frame_features,
            config.horizon,
            config.n_obs_steps,
            width=config.transformer_width,
            heads=config.transformer_heads,
            layers=config.transformer_layers,
            dropout=config.transformer_dropout,
        )
    return ConditionalUnet1D(
        action_dim,
        cond_dim=frame_features * config.n_obs_steps,
        widths=config.down_widths,
        kernel_size=config.kernel_size,
        step_embed_dim=config.step_embed_dim,
        film_scale=config.film_scale,
    )


def _scheduler(kind: str, config: DiffusionConfig) -> Any:
    """A diffusers noise scheduler (imported here: only diffusion policies need diffusers)."""
    from diffusers import DDIMScheduler, DDPMScheduler

    common: dict[str, Any] = dict(
        num_train_timesteps=config.num_train_steps,
        beta_schedule=config.beta_schedule,
        clip_sample=config.clip_sample,
        prediction_type=config.prediction,
    )
    if kind == "ddim":
        return DDIMScheduler(**common, set_alpha_to_one=True, steps_offset=0)
    return DDPMScheduler(**common, variance_type="fixed_small")
