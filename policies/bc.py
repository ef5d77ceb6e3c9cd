"""Behaviour cloning with action chunks over images and proprioception.

One image encoder per image stream (scene camera, each tactile pad; the small ConvEncoder,
or `image_encoder = "resnet18"`: the GroupNorm ResNet-18 of Diffusion Policy), the low-dim streams
normalised to [-1, 1], features of the last T_o frames concatenated and mapped by an MLP
to a chunk of T_p normalised actions. Trained with an L1 (or MSE) loss on the chunk, with
random-shift augmentation of every image during training only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from policies.base import ACTION_KEY, Policy, PolicyConfig, PolicyIO
from policies.encoders import ConvEncoder, ResNetEncoder, random_shift
from policies.normalizer import Normalizer, normalize_image


class BCConfig(PolicyConfig):
    name: Literal["bc"] = "bc"
    image_features: int = Field(64, ge=1, description="features per image stream")
    image_encoder: Literal["conv", "resnet18"] = Field(
        "conv", description="conv: small, for CPUs; resnet18: GroupNorm ResNet-18 (DP recipe)"
    )
    conv_widths: tuple[int, ...] = Field((16, 32, 32), min_length=1)
    num_keypoints: int = Field(32, ge=1)
    hidden_dim: int = Field(256, ge=1)
    hidden_layers: int = Field(2, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    shift_pixels: int = Field(4, ge=0, description="random-shift augmentation, pixels")
    loss: Literal["l1", "mse"] = "l1"


class BCPolicy(Policy):
    config: BCConfig

    def __init__(self, config: BCConfig, io: PolicyIO) -> None:
        super().__init__(config, io)
        self.normalizer = Normalizer(
            {k: int(np.prod(io.obs_shapes[k])) for k in io.lowdim_keys}
            | {ACTION_KEY: io.action_dim}
        )
        self.encoders = nn.ModuleDict(
            {_module_key(k): _image_encoder(config, io.obs_shapes[k][-1]) for k in io.image_keys}
        )
        lowdim = sum(int(np.prod(io.obs_shapes[k])) for k in io.lowdim_keys)
        per_step = config.image_features * len(io.image_keys) + lowdim
        layers: list[nn.Module] = []
        width = per_step * config.n_obs_steps
        for _ in range(config.hidden_layers):
            layers += [nn.Linear(width, config.hidden_dim), nn.Mish(), nn.Dropout(config.dropout)]
            width = config.hidden_dim
        layers.append(nn.Linear(width, config.horizon * io.action_dim))
        self.head = nn.Sequential(*layers)

    def fit_normalizer(self, data: Mapping[str, np.ndarray]) -> None:
        self.normalizer.fit({k: data[k] for k in self.normalizer.keys})

    def _features(self, obs: Mapping[str, Tensor], augment: bool) -> Tensor:
        """obs keys (B, T_o, ...) -> (B, T_o * per_step_features)."""
        parts = []
        for key in self.io.image_keys:
            images = obs[key]  # (B, T_o, H, W, C) uint8
            b, t = images.shape[:2]
            x = normalize_image(images.flatten(0, 1))  # (B * T_o, C, H, W)
            if augment:
                x = random_shift(x, self.config.shift_pixels)
            parts.append(self.encoders[_module_key(key)](x).reshape(b, t, -1))  # (B, T_o, F)
        for key in self.io.lowdim_keys:
            values = obs[key].float().flatten(2)  # (B, T_o, D)
            parts.append(self.normalizer.normalize(key, values))
        return torch.cat(parts, dim=-1).flatten(1)  # (B, T_o * per_step)

    def _chunk(self, obs: Mapping[str, Tensor], augment: bool) -> Tensor:
        """-> normalised action chunk (B, T_p, D_a)."""
        obs = {k: v[:, : self.config.n_obs_steps] for k, v in obs.items()}
        out: Tensor = self.head(self._features(obs, augment))  # (B, T_p * D_a)
        return out.reshape(-1, self.config.horizon, self.io.action_dim)

    def compute_loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        target = self.normalizer.normalize(ACTION_KEY, batch[ACTION_KEY].float())  # (B, T_p, D_a)
        predicted = self._chunk(batch, augment=self.training)  # (B, T_p, D_a)
        if self.config.loss == "l1":
            return F.l1_loss(predicted, target)
        return F.mse_loss(predicted, target)

    def predict_action_chunk(self, obs: Mapping[str, Tensor]) -> Tensor:
        return self.normalizer.unnormalize(ACTION_KEY, self._chunk(obs, augment=False))


def _image_encoder(config: BCConfig, channels: int) -> nn.Module:
    if config.image_encoder == "resnet18":
        return ResNetEncoder(channels, config.image_features, config.num_keypoints)
    return ConvEncoder(channels, config.image_features, config.conv_widths, config.num_keypoints)


def _module_key(key: str) -> str:
    return key.replace(".", "__")  # ModuleDict keys cannot contain '.'
