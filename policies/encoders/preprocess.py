"""A sensor's preprocessing contract, stored with the tokenizer's weights: what turns raw
uint8 frames into the float tensors the tokenizer was trained on.

    uint8 (B, H, W, 3) -> [0, 1] -> resize (shorter side, bilinear, antialiased)
                       -> centre crop -> (x - mean) / std  -> float (B, 3, crop, crop)

T3 evaluates its encoders this way (resize 256, centre crop 224, per-data-set mean and std;
ImageNet's statistics when a data set names none).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Preprocessing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resize: int | None = Field(256, ge=1, description="shorter side after resizing; None: keep")
    crop: int = Field(224, ge=1, description="centre crop, square, pixels")
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @model_validator(mode="after")
    def _crop_fits(self) -> Preprocessing:
        if self.resize is not None and self.crop > self.resize:
            raise ValueError(f"crop ({self.crop}) is larger than the resized side ({self.resize})")
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")
        return self


def preprocess(images: Tensor, contract: Preprocessing) -> Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, crop, crop), per `contract`."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"expected uint8 images (B, H, W, 3), got {images.dtype} {tuple(images.shape)}"
        )
    x = images.permute(0, 3, 1, 2).float().div(255.0)  # (B, 3, H, W) in [0, 1]
    h, w = x.shape[-2:]
    if contract.resize is not None and min(h, w) != contract.resize:
        short, long = (
            contract.resize,
            int(contract.resize * max(h, w) / min(h, w)),
        )  # as torchvision
        h, w = (short, long) if h <= w else (long, short)
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    c = contract.crop
    if min(h, w) < c:
        raise ValueError(f"images {h}x{w} (after resizing) are smaller than the {c}-pixel crop")
    top, left = round((h - c) / 2.0), round((w - c) / 2.0)  # as torchvision
    x = x[..., top : top + c, left : left + c]  # (B, 3, crop, crop)
    mean = torch.tensor(contract.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(contract.std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
