"""Behaviour cloning with action chunks over images and proprioception.

The shared observation encoder (policies/observation.py: one image encoder per image
stream, low-dim streams normalised to [-1, 1]) gives the features of the last T_o frames;
an MLP maps them to a chunk of T_p normalised actions. Trained with an L1 (or MSE) loss on
the chunk, with random-shift augmentation of every image during training only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from policies.base import ACTION_KEY, Policy, PolicyIO
from policies.observation import ObservationEncoder, VisuomotorConfig, make_normalizer


class BCConfig(VisuomotorConfig):
    name: Literal["bc"] = "bc"
    hidden_dim: int = Field(256, ge=1)
    hidden_layers: int = Field(2, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    loss: Literal["l1", "mse"] = "l1"


class BCPolicy(Policy):
    config: BCConfig

    def __init__(self, config: BCConfig, io: PolicyIO) -> None:
        super().__init__(config, io)
        self.normalizer = make_normalizer(io)
        self.observations = ObservationEncoder(config, io)
        layers: list[nn.Module] = []
        width = self.observations.features_per_step * config.n_obs_steps
        for _ in range(config.hidden_layers):
            layers += [nn.Linear(width, config.hidden_dim), nn.Mish(), nn.Dropout(config.dropout)]
            width = config.hidden_dim
        layers.append(nn.Linear(width, config.horizon * io.action_dim))
        self.head = nn.Sequential(*layers)

    def fit_normalizer(self, data: Mapping[str, np.ndarray]) -> None:
        self.normalizer.fit({k: data[k] for k in self.normalizer.keys})

    def _chunk(self, obs: Mapping[str, Tensor], augment: bool) -> Tensor:
        """-> normalised action chunk (B, T_p, D_a)."""
        obs = {k: v[:, : self.config.n_obs_steps] for k, v in obs.items()}
        features = self.observations(obs, self.normalizer, augment)  # (B, T_o, F)
        out: Tensor = self.head(features.flatten(1))  # (B, T_p * D_a)
        return out.reshape(-1, self.config.horizon, self.io.action_dim)

    def compute_loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        target = self.normalizer.normalize(ACTION_KEY, batch[ACTION_KEY].float())  # (B, T_p, D_a)
        predicted = self._chunk(batch, augment=self.training)  # (B, T_p, D_a)
        if self.config.loss == "l1":
            return F.l1_loss(predicted, target)
        return F.mse_loss(predicted, target)

    def predict_action_chunk(self, obs: Mapping[str, Tensor]) -> Tensor:
        return self.normalizer.unnormalize(ACTION_KEY, self._chunk(obs, augment=False))
