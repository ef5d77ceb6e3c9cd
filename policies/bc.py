"""Behaviour cloning with action chunks over images and proprioception.

The shared observation encoder (policies/observation.py: one image encoder per image
stream, low-dim streams normalised to [-1, 1]) gives the features of the last T_o frames;
an MLP (or, with `head = "transformer"`, ACT's decoder: T_p learned queries attending to
the frames) maps them to a chunk of T_p normalised actions. Trained with an L1 (or MSE) loss on
the chunk, with random-shift augmentation of every image during training only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from policies.base import ACTION_KEY, Guide, Policy, PolicyIO
from policies.observation import ObservationEncoder, VisuomotorConfig, make_normalizer


class BCConfig(VisuomotorConfig):
    name: Literal["bc"] = "bc"
    head: Literal["mlp", "transformer"] = Field(
        "mlp", description="mlp; transformer: ACT-style queries over the frames (no CVAE)"
    )
    hidden_dim: int = Field(256, ge=1)
    hidden_layers: int = Field(2, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    loss: Literal["l1", "mse"] = "l1"


class BCPolicy(Policy):
    config: BCConfig

    def __init__(self, config: BCConfig, io: PolicyIO) -> None:
        super().__init__(config, io)
        self.normalizer = make_normalizer(io, config)
        self.observations = ObservationEncoder(config, io)
        features = self.observations.features_per_step
        self.head = (
            ChunkTransformer(features, io.action_dim, config)
            if config.head == "transformer"
            else _mlp(features * config.n_obs_steps, io.action_dim, config)
        )

    def _chunk(self, obs: Mapping[str, Tensor], augment: bool) -> Tensor:
        """-> normalised action chunk (B, T_p, D_a)."""
        obs = {k: v[:, : self.config.n_obs_steps] for k, v in obs.items()}
        features = self.observations(obs, self.normalizer, augment)  # (B, T_o, F)
        if self.config.head == "transformer":
            chunk: Tensor = self.head(features)  # (B, T_p, D_a)
            return chunk
        out: Tensor = self.head(features.flatten(1))  # (B, T_p * D_a)
        return out.reshape(-1, self.config.horizon, self.io.action_dim)

    def compute_loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        target = self.normalizer.normalize(
            ACTION_KEY, self.training_actions(batch)
        )  # (B, T_p, D_a)
        predicted = self._chunk(batch, augment=self.training)  # (B, T_p, D_a)
        if self.config.loss == "l1":
            return F.l1_loss(predicted, target)
        return F.mse_loss(predicted, target)

    def predict_action_chunk(
        self,
        obs: Mapping[str, Tensor],
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
        guide: Guide | None = None,
    ) -> Tensor:
        """Deterministic: `generator` and `noise` are accepted for the contract, not used."""
        if guide is not None:
            raise ValueError("real-time chunking inpaints a sampled chunk: it needs a diffusion "
                             "policy, not bc")  # fmt: skip
        chunk = self.normalizer.unnormalize(ACTION_KEY, self._chunk(obs, augment=False))
        return self.absolute_actions(obs, chunk)


def _mlp(inputs: int, action_dim: int, config: BCConfig) -> nn.Sequential:
    """(B, inputs) -> (B, T_p * D_a)."""
    layers: list[nn.Module] = []
    width = inputs
    for _ in range(config.hidden_layers):
        layers += [nn.Linear(width, config.hidden_dim), nn.Mish(), nn.Dropout(config.dropout)]
        width = config.hidden_dim
    layers.append(nn.Linear(width, config.horizon * action_dim))
    return nn.Sequential(*layers)


class ChunkTransformer(nn.Module):
    """ACT's decoder without its CVAE: T_p learned queries attend to one token per observation
    frame (and to each other); each query becomes one action. (B, T_o, F) -> (B, T_p, D_a)."""

    def __init__(self, frame_features: int, action_dim: int, config: BCConfig) -> None:
        super().__init__()
        width = config.hidden_dim
        self.frames = nn.Linear(frame_features, width)
        self.frame_position = nn.Parameter(torch.randn(1, config.n_obs_steps, width) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, config.horizon, width) * 0.02)
        layer = nn.TransformerDecoderLayer(
            width, 4, 4 * width, config.dropout, "gelu", batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, config.hidden_layers)
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, action_dim))

    def forward(self, frames: Tensor) -> Tensor:
        memory = self.frames(frames) + self.frame_position  # (B, T_o, W)
        queries = self.queries.expand(frames.shape[0], -1, -1)  # (B, T_p, W)
        out: Tensor = self.out(self.decoder(queries, memory))  # (B, T_p, D_a)
        return out
