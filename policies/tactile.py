"""Tactile images through a pretrained tactile transformer (T3 family) inside a policy.

`policy.tactile_encoder = "t3"` routes every `tactile.*` stream through one shared
`TactileTransformer` (its sensor's tokenizer and the trunk, heads dropped) in a mode:
`frozen` (pretrained, fixed), `finetune` (pretrained, trained with the policy) or `scratch`
(same architecture and preprocessing, fresh weights); each stream then has its own
Linear + Mish to `image_features`. Leaving the tactile keys out of `train.obs_keys` is the
fourth mode, no touch.

The architecture and preprocessing are part of the policy's config (`policy.t3.model`,
`policy.t3.preprocessing`), filled from the encoder checkpoint by `complete_t3` when a run
starts, so a saved policy loads without the encoder directory; the pretrained weights are
read once, by `load_pretrained`, for a new run. A frozen encoder's features do not change
during training, so the trainer computes them once per frame (`features`) and feeds them
in place of the images (float (N, D) instead of uint8 (N, H, W, 3)); `forward` takes either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from policies.base import PolicyConfig, module_key
from policies.encoders import (
    EncoderMode,
    PolicyEncoder,
    Preprocessing,
    TactileTransformer,
    TransformerConfig,
    load_encoder,
)
from policies.errors import CheckpointError

TACTILE_PREFIX = "tactile."


class T3Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field(description="the encoder directory (vitac encoders format)")
    mode: EncoderMode = "frozen"
    sensor: str = Field("mini", description="the tokenizer the tactile streams go through")
    pool: Literal["cls", "mean"] = "cls"
    lr_scale: float = Field(
        1.0, gt=0, description="the encoder's learning rate = train.lr x this (finetune, scratch)"
    )
    model: TransformerConfig | None = Field(None, description="filled from the checkpoint")
    preprocessing: Preprocessing | None = Field(None, description="filled from the checkpoint")


def complete_t3(options: T3Options) -> T3Options:
    """`options` with the checkpoint's architecture and its sensor's preprocessing filled in;
    CheckpointError when the checkpoint lacks the sensor or differs from what is given."""
    saved = load_encoder(Path(options.checkpoint))
    if options.sensor not in saved.preprocessing:
        raise CheckpointError(
            f"{options.checkpoint}: no tokenizer for sensor {options.sensor!r} "
            f"(policy.t3.sensor); it has {saved.sensors}"
        )
    filled = {"model": saved.config, "preprocessing": saved.preprocessing[options.sensor]}
    for key, value in filled.items():
        given = getattr(options, key)
        if given is not None and given != value:
            raise CheckpointError(
                f"{options.checkpoint}: policy.t3.{key} differs from the checkpoint's "
                f"({given} vs {value}); leave it out to take the checkpoint's"
            )
    return options.model_copy(update=filled)


def with_pretrained_architecture(
    config: PolicyConfig, saved: Mapping[str, Any] | None = None
) -> PolicyConfig:
    """`config` with its tactile transformer's architecture filled in: from `saved` (the
    policy config of the checkpoint a run resumes) when it has it for the same encoder
    checkpoint, else from the encoder checkpoint. Other configs are returned as they are."""
    t3 = getattr(config, "t3", None)
    if not isinstance(t3, T3Options) or (t3.model is not None and t3.preprocessing is not None):
        return config
    before = (saved or {}).get("t3") or {}
    if before.get("model") and before.get("checkpoint") == t3.checkpoint:
        filled = t3.model_copy(
            update={
                "model": TransformerConfig.model_validate(before["model"]),
                "preprocessing": Preprocessing.model_validate(before["preprocessing"]),
            }
        )
    else:
        filled = complete_t3(t3)
    return config.model_copy(update={"t3": filled})


class T3Streams(nn.Module):
    """Tactile streams `keys` -> (N, out_features) each, through one shared encoder."""

    def __init__(self, options: T3Options, keys: Sequence[str], out_features: int) -> None:
        super().__init__()
        if options.model is None or options.preprocessing is None:
            raise ValueError("policy.t3 has no architecture yet: fill it with complete_t3()")
        self.options, self.keys = options, list(keys)
        model = TactileTransformer(options.model, {options.sensor: options.preprocessing})
        self.encoder = PolicyEncoder(model, options.mode)
        width = model.config.width
        self.project = nn.ModuleDict(
            {module_key(k): nn.Sequential(nn.Linear(width, out_features), nn.Mish()) for k in keys}
        )

    @property
    def frozen(self) -> bool:
        return self.options.mode == "frozen"

    @property
    def difference(self) -> bool:
        """Whether the encoder reads each image less a resting reference image."""
        return self.options.preprocessing is not None and self.options.preprocessing.difference

    def features(self, images: Tensor, reference: Tensor | None = None) -> Tensor:
        """uint8 (N, H, W, 3) [less reference (N, H, W, 3)] -> pooled features (N, D)."""
        return self.encoder.encode(images, self.options.sensor, self.options.pool, reference)

    def forward(self, x: Tensor, key: str, reference: Tensor | None = None) -> Tensor:
        """uint8 images (N, H, W, 3), or their cached features (N, D) -> (N, out_features)."""
        features = x.float() if x.is_floating_point() else self.features(x, reference)
        out: Tensor = self.project[module_key(key)](features)
        return out

    def load_pretrained(self) -> None:
        """The checkpoint's trunk and this sensor's tokenizer (not for scratch)."""
        if self.options.mode == "scratch":
            return
        saved = load_encoder(Path(self.options.checkpoint))
        tokenizer = f"tokenizers.{self.options.sensor}."
        weights = {
            k: v
            for k, v in saved.state_dict().items()
            if not k.startswith(("heads.", "tokenizers.")) or k.startswith(tokenizer)
        }
        with torch.no_grad():
            self.encoder.model.load_state_dict(weights)
