"""Training-time augmentation of tactile frames, applied between `crop_resize` and `normalise`
(so it sees pixels in [0, 1], or signed differences in [-1, 1]) and never at validation.

- Photometric, every task: per-frame brightness gain, contrast about the frame's mean
  grey level, and saturation (a blend with the grey image). Lighting and gel tint vary
  between sensors of one model; labels do not depend on them.
- Geometric, only for tasks whose labels do not depend on where or how large the contact
  looks (`Task.crop_safe`: MAE, indenter shape): a random resized crop of at least
  `crop_scale` of the area, aspect ratio 3:4 to 4:3, back to the model's size. A location
  label would move with the crop, and a force label scales with the contact's area.

Every factor is drawn from torch's global generator, which pretraining seeds per step: a
resumed run augments exactly as an uninterrupted one.
"""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor
from torchvision.ops import roi_align


class AugmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    brightness: float = Field(0.2, ge=0, lt=1, description="gain in [1 - b, 1 + b]")
    contrast: float = Field(0.2, ge=0, lt=1, description="factor in [1 - c, 1 + c]")
    saturation: float = Field(0.2, ge=0, lt=1, description="factor in [1 - s, 1 + s]")
    crop_scale: float = Field(0.8, gt=0, le=1, description="smallest area kept by a crop")


def augment(x: Tensor, config: AugmentConfig, geometric: bool, signed: bool = False) -> Tensor:
    """(B, 3, S, S) -> (B, 3, S, S); `signed`: differences in [-1, 1], else pixels in [0, 1]."""
    if geometric and config.crop_scale < 1:
        x = random_resized_crop(x, config.crop_scale)
    b = x.shape[0]
    grey_weights = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
    x = x * _factors(b, config.brightness, x.device)
    grey = (x * grey_weights).sum(dim=1, keepdim=True)  # (B, 1, S, S)
    mean = grey.mean(dim=(2, 3), keepdim=True)  # (B, 1, 1, 1)
    x = (x - mean) * _factors(b, config.contrast, x.device) + mean
    grey = (x * grey_weights).sum(dim=1, keepdim=True)
    x = (x - grey) * _factors(b, config.saturation, x.device) + grey
    return x.clamp(-1.0 if signed else 0.0, 1.0)


def random_resized_crop(x: Tensor, min_area: float) -> Tensor:
    """Each frame of (B, C, S, S) cropped to a random box of area in [min_area, 1] of the
    frame (aspect 3:4 to 4:3, inside it) and resized back, bilinearly, in one roi_align."""
    b, _, h, w = x.shape
    area = min_area + (1 - min_area) * torch.rand(b)
    log_ratio = (torch.rand(b) * 2 - 1) * math.log(4 / 3)
    ratio = torch.minimum(torch.maximum(torch.exp(log_ratio), area), 1 / area)  # box fits
    bw, bh = w * torch.sqrt(area * ratio), h * torch.sqrt(area / ratio)
    x0, y0 = (w - bw) * torch.rand(b), (h - bh) * torch.rand(b)
    boxes = torch.stack([torch.arange(b, dtype=torch.float32), x0, y0, x0 + bw, y0 + bh], 1)
    out: Tensor = roi_align(x, boxes.to(x), output_size=(h, w), sampling_ratio=1, aligned=True)
    return out


def _factors(b: int, spread: float, device: torch.device) -> Tensor:
    """(B, 1, 1, 1) factors uniform in [1 - spread, 1 + spread]."""
    return (1 + (torch.rand(b, 1, 1, 1) * 2 - 1) * spread).to(device)
