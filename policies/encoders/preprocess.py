"""A sensor's preprocessing contract, stored with the tokenizer's weights: what turns raw
uint8 frames into the float tensors the tokenizer was trained on.

    uint8 (B, H, W, 3) -> [0, 1] -> resize (shorter side, bilinear, antialiased)
                       -> centre crop -> (x - mean) / std  -> float (B, 3, crop, crop)

T3 evaluates its encoders this way (resize 256, centre crop 224, per-data-set mean and std;
ImageNet's statistics when a data set names none). A contract with `difference` takes the
sensor's no-contact reference frame too and starts from the signed difference
(frame - reference) / 255 in [-1, 1] (computed in float: no unsigned wrap-around), which
removes the gel's fixed shading and lighting so only the contact remains.

`crop_resize` and `normalise` are the two halves, for training-time augmentation between them.
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
    difference: bool = Field(False, description="subtract the reference frame first")

    @model_validator(mode="after")
    def _crop_fits(self) -> Preprocessing:
        if self.resize is not None and self.crop > self.resize:
            raise ValueError(f"crop ({self.crop}) is larger than the resized side ({self.resize})")
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")
        return self


def preprocess(images: Tensor, contract: Preprocessing, reference: Tensor | None = None) -> Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, crop, crop), per `contract`; `reference` (uint8
    (H, W, 3) or (B, H, W, 3)) when the contract takes differences."""
    return normalise(crop_resize(images, contract, reference), contract)


def crop_resize(images: Tensor, contract: Preprocessing, reference: Tensor | None = None) -> Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, crop, crop) in [0, 1] (in [-1, 1]: differences)."""
    _check_uint8(images, "images")
    x = images.permute(0, 3, 1, 2).float().div(255.0)  # (B, 3, H, W) in [0, 1]
    if contract.difference:
        if reference is None:
            raise ValueError("this contract takes differences: pass the no-contact reference frame")
        ref = _check_uint8(reference if reference.ndim == 4 else reference[None], "reference")
        if ref.shape[1:] != images.shape[1:] or ref.shape[0] not in (1, images.shape[0]):
            raise ValueError(
                f"reference {tuple(reference.shape)} does not match images {tuple(images.shape)}"
            )
        x = x - ref.to(x.device).permute(0, 3, 1, 2).float().div(255.0)  # signed, in [-1, 1]
    elif reference is not None:
        raise ValueError("this contract takes no reference frame (difference is off)")
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
    return x[..., top : top + c, left : left + c]  # (B, 3, crop, crop)


def normalise(x: Tensor, contract: Preprocessing) -> Tensor:
    """(B, 3, S, S) -> (x - mean) / std per channel."""
    mean = torch.tensor(contract.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(contract.std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def _check_uint8(images: Tensor, name: str) -> Tensor:
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"expected uint8 {name} (B, H, W, 3), got {images.dtype} {tuple(images.shape)}"
        )
    return images
