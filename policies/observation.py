"""The observation side every visuomotor policy shares: one image encoder per image stream
(scene camera, wrist camera, each tactile pad), low-dim streams normalised to [-1, 1], and
the features of each of the last T_o frames side by side. A stream of `base_frame_keys` also
gives its episode's first frame ("base.<key>", (B, 1, ...)) through its own encoder, and
those features sit beside every frame's.

Tactile streams go through the same kind of image encoder, or with `tactile_encoder = "t3"`
through one shared tactile transformer (policies/tactile.py). Depth maps ((H, W) uint16
millimetres, as a RealSense streams them) are image streams with one channel, clipped to
`depth_range_mm` and mapped to [-1, 1].

`VisuomotorConfig` holds the keys that shape this part, so BC and diffusion read their
observations the same way and a launch file names them the same way for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from policies.action_frame import RELATIVE_PREFIX, relative_inputs
from policies.base import ACTION_KEY, BASE_PREFIX, PolicyConfig, PolicyIO, module_key
from policies.encoders import ConvEncoder, ResNetEncoder, random_shift
from policies.normalizer import Normalizer, normalize_depth, normalize_image
from policies.tactile import TACTILE_PREFIX, T3Options, T3Streams


class VisuomotorConfig(PolicyConfig):
    """Observation-encoder keys shared by every policy over images and proprioception."""

    image_features: int = Field(64, ge=1, description="features per image stream")
    image_encoder: Literal["conv", "resnet18"] = Field(
        "conv", description="conv: small, for CPUs; resnet18: GroupNorm ResNet-18 (DP recipe)"
    )
    conv_widths: tuple[int, ...] = Field((16, 32, 32), min_length=1)
    num_keypoints: int = Field(32, ge=1)
    shift_pixels: int = Field(4, ge=0, description="random-shift augmentation, pixels")
    tactile_shift_pixels: int | None = Field(
        None,
        ge=0,
        description="the same for tactile.* images (None: shift_pixels); a pad is fixed to its"
        " finger and each frame is shifted apart, so a shift hides a press's sub-pixel change",
    )
    depth_range_mm: tuple[float, float] = Field(
        (100.0, 2000.0), description="depth images: [near, far] millimetres -> [-1, 1], clipped"
    )

    tactile_encoder: Literal["conv", "t3"] = Field(
        "conv", description="tactile.* streams: the image encoder above, or a tactile transformer"
    )
    t3: T3Options | None = Field(None, description="the tactile transformer, for 't3'")

    @model_validator(mode="after")
    def _consistent(self) -> VisuomotorConfig:
        near, far = self.depth_range_mm
        if not 0 <= near < far:
            raise ValueError(f"depth_range_mm must be 0 <= near < far (got {near}, {far})")
        if self.tactile_encoder == "t3" and self.t3 is None:
            raise ValueError("tactile_encoder 't3' needs policy.t3 (at least t3.checkpoint)")
        return self


def missing_references(config: PolicyConfig, image_keys: list[str]) -> str | None:
    """What is wrong when a T3 encoder that reads differences has pads without a reference
    (their episode's first frame, `base_frame_keys`); None when nothing is."""
    t3 = getattr(config, "t3", None)
    if getattr(config, "tactile_encoder", None) != "t3" or t3 is None or t3.preprocessing is None:
        return None
    pads = [k for k in image_keys if k.startswith(TACTILE_PREFIX)]
    unbased = [k for k in pads if k not in config.base_frame_keys]
    if not t3.preprocessing.difference or not unbased:
        return None
    return (
        f"policy.t3: {t3.checkpoint} reads each press as its difference from the pad's resting "
        f"image; add {unbased} to policy.base_frame_keys (the episode's first frame, after the "
        "grasp, is the reference)"
    )


def make_normalizer(io: PolicyIO, config: PolicyConfig) -> Normalizer:
    """Statistics for every low-dim input (`config.relative_inputs`' too) and the action
    (images need none)."""
    return Normalizer(lowdim_dims(io, config) | {ACTION_KEY: io.action_dim})


def lowdim_dims(io: PolicyIO, config: PolicyConfig) -> dict[str, int]:
    """Low-dim input key -> numbers per frame: the stored ones, then the derived relative
    ones (policies/action_frame.py), in the order the encoder concatenates them."""
    dims = {k: int(np.prod(io.obs_shapes[k])) for k in io.lowdim_keys}
    return dims | {RELATIVE_PREFIX + k: n for k, n in sorted(config.relative_inputs.items())}


class ObservationEncoder(nn.Module):
    """obs keys (B, T, ...) -> per-frame features (B, T, features_per_step)."""

    def __init__(self, config: VisuomotorConfig, io: PolicyIO) -> None:
        super().__init__()
        self.io = io
        stray = sorted(set(config.base_frame_keys) - set(io.image_keys))
        if stray:
            raise ValueError(
                f"policy.base_frame_keys {stray}: not image inputs of this policy; they are "
                f"{io.image_keys}"
            )
        self.base_keys = list(config.base_frame_keys)
        pads = config.tactile_shift_pixels
        pads = config.shift_pixels if pads is None else pads
        self.shifts = {  # image key -> random-shift augmentation, pixels
            k: pads if k.startswith(TACTILE_PREFIX) else config.shift_pixels for k in io.image_keys
        }
        self.depth_range = config.depth_range_mm
        touch = [k for k in io.image_keys if k.startswith(TACTILE_PREFIX)]
        self.t3_keys = touch if config.tactile_encoder == "t3" else []
        self.encoders = nn.ModuleDict(
            {
                module_key(k): _image_encoder(config, _channels(io, k))
                for k in io.image_keys
                if k not in self.t3_keys
            }
        )
        self.t3 = None
        if self.t3_keys and config.t3 is not None:
            self.t3 = T3Streams(config.t3, self.t3_keys, config.image_features)
            problem = missing_references(config, io.image_keys)
            if problem:
                raise ValueError(problem)
        lowdim = lowdim_dims(io, config)
        self.lowdim_keys = list(lowdim)
        self.relative = config.relative_to, config.relative_inputs, config.relative_scale
        images = len(io.image_keys) + len(self.base_keys)
        self.features_per_step = config.image_features * images + sum(lowdim.values())

    def load_pretrained(self) -> None:
        """Pretrained weights of the tactile transformer (a new run calls this once)."""
        if self.t3 is not None:
            self.t3.load_pretrained()

    def forward(self, obs: Mapping[str, Tensor], normalizer: Normalizer, augment: bool) -> Tensor:
        parts = [
            self.image_features(key, obs[key], augment, self._reference(obs, key))
            for key in self.io.image_keys
        ]
        t = parts[0].shape[1] if parts else 0
        for key in self.base_keys:  # (B, 1, F) -> beside every frame's: (B, T, F)
            base = obs[BASE_PREFIX + key]
            reference = self._reference(obs, key)
            parts.append(self.image_features(key, base, augment, reference).expand(-1, t, -1))
        obs = {**obs, **relative_inputs(obs, *self.relative)}
        for key in self.lowdim_keys:
            values = obs[key].float().flatten(2)  # (B, T, D)
            parts.append(normalizer.normalize(key, values))
        return torch.cat(parts, dim=-1)  # (B, T, features_per_step)

    def image_features(
        self, key: str, images: Tensor, augment: bool, reference: Tensor | None = None
    ) -> Tensor:
        """(B, T, H, W, C) uint8 or (B, T, H, W) uint16 depth of stream `key` (or a frozen
        T3's cached features (B, T, D)) -> (B, T, image_features). `reference` (B, 1, H, W,
        C): each sample's resting image, for a T3 encoder that reads differences."""
        b, t = images.shape[:2]
        if self.t3 is not None and key in self.t3_keys:
            ref = None if reference is None else reference.expand(-1, t, *reference.shape[2:])
            flat_ref = None if ref is None else ref.flatten(0, 1)  # (B * T, H, W, C)
            out: Tensor = self.t3(images.flatten(0, 1), key, flat_ref).reshape(b, t, -1)
            return out
        if key in self.io.depth_keys:
            x = normalize_depth(images.flatten(0, 1), *self.depth_range)  # (B * T, 1, H, W)
        else:
            x = normalize_image(images.flatten(0, 1))  # (B * T, C, H, W)
        if augment:
            x = random_shift(x, self.shifts[key])
        out = self.encoders[module_key(key)](x).reshape(b, t, -1)  # (B, T, F)
        return out

    def _reference(self, obs: Mapping[str, Tensor], key: str) -> Tensor | None:
        """The episode's first frame of T3 stream `key` when its encoder reads differences."""
        if self.t3 is None or not self.t3.difference or key not in self.t3_keys:
            return None
        return obs[BASE_PREFIX + key]


def _channels(io: PolicyIO, key: str) -> int:
    return 1 if key in io.depth_keys else io.obs_shapes[key][-1]


def _image_encoder(config: VisuomotorConfig, channels: int) -> nn.Module:
    if config.image_encoder == "resnet18":
        return ResNetEncoder(channels, config.image_features, config.num_keypoints)
    return ConvEncoder(channels, config.image_features, config.conv_widths, config.num_keypoints)
