"""Per-key affine normalisation, fitted from data and saved inside the model's weights.

Low-dim streams and actions map their [min, max] range to [-1, 1] ("limits", as in
diffusion_policy), or on request ("gaussian") their mean to 0 and standard deviation to 1;
uint8 images map [0, 255] to [-1, 1] and depth maps a fixed range of millimetres to [-1, 1],
without fitting. A key the normaliser was not fitted on is an error, never silently passed
through.

A dimension that never varies in the data is shifted to 0. An observation keeps scale 1
there (a value never seen stays in range); an action is pinned (`fit(..., pin=...)`): its
scale is that of a `_MIN_RANGE`-wide range, so whatever a policy outputs there comes back
within `_MIN_RANGE / 2` of the constant. With scale 1, as diffusion_policy keeps it, an
output error of 0.05 is 0.05 in data units: 5 cm of gripper opening on a gripper that the
demonstrations never opened (it dropped the part), or a tilt of the tool from a rotation
entry that never changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import torch
from torch import Tensor, nn

_MIN_RANGE = 1e-4  # a dimension that never varies keeps scale 1 instead of exploding


class Normalizer(nn.Module):
    """Holds `scale`/`offset` buffers per key: normalized = x * scale + offset."""

    def __init__(self, dims: Mapping[str, int]) -> None:
        super().__init__()
        self.keys = sorted(dims)
        for key, dim in dims.items():
            self.register_buffer(_name(key, "scale"), torch.ones(dim))
            self.register_buffer(_name(key, "offset"), torch.zeros(dim))

    def fit(
        self,
        data: Mapping[str, np.ndarray],
        pin: Collection[str] = (),
        gaussian: Collection[str] = (),
    ) -> None:
        """Fit every key from `data[key]` of shape (N, D): [min, max] -> [-1, 1], or for the
        keys in `gaussian` mean -> 0 and std -> 1; the keys in `pin` get their never-varying
        dimensions pinned (see the module docstring)."""
        missing = [k for k in self.keys if k not in data]
        if missing:
            raise KeyError(f"cannot fit normalizer: no data for {missing}")
        for key in self.keys:
            values = np.asarray(data[key], dtype=np.float64).reshape(len(data[key]), -1)
            lo, hi = values.min(axis=0), values.max(axis=0)
            const = hi - lo < _MIN_RANGE  # never varies: shift to 0, scale 1 or pinned
            fixed = 2.0 / _MIN_RANGE if key in pin else 1.0
            if key in gaussian:
                mean, std = values.mean(axis=0), values.std(axis=0)
                scale = np.where(const, fixed, 1.0 / np.where(const, 1.0, std))
                offset = np.where(const, -lo, -mean) * scale
            else:
                scale = np.where(const, fixed, 2.0 / np.where(const, 1.0, hi - lo))
                offset = np.where(const, -lo * scale, -1.0 - lo * scale)
            self._buffer(key, "scale").copy_(torch.from_numpy(scale))
            self._buffer(key, "offset").copy_(torch.from_numpy(offset))

    def normalize(self, key: str, x: Tensor) -> Tensor:
        """x: (..., D) in data units -> (..., D) roughly in [-1, 1]."""
        return x * self._buffer(key, "scale") + self._buffer(key, "offset")

    def unnormalize(self, key: str, y: Tensor) -> Tensor:
        """Inverse of `normalize`."""
        return (y - self._buffer(key, "offset")) / self._buffer(key, "scale")

    def _buffer(self, key: str, which: str) -> Tensor:
        if key not in self.keys:
            raise KeyError(f"normalizer has no statistics for {key!r}; it knows {self.keys}")
        buf = getattr(self, _name(key, which))
        assert isinstance(buf, Tensor)
        return buf


def normalize_image(x: Tensor) -> Tensor:
    """uint8 (..., H, W, C) -> float (..., C, H, W) in [-1, 1]."""
    return x.movedim(-1, -3).float().div(127.5).sub(1.0)


def normalize_depth(x: Tensor, near_mm: float, far_mm: float) -> Tensor:
    """uint16 millimetres (..., H, W) -> float (..., 1, H, W): [near, far] to [-1, 1], clipped
    (a missing reading, 0, reads as near)."""
    metres = x.float().clamp(near_mm, far_mm)
    return ((metres - near_mm) * (2.0 / (far_mm - near_mm)) - 1.0).unsqueeze(-3)


def _name(key: str, which: str) -> str:
    # Module attribute names cannot contain '.', observation keys do (`proprio.ee_pos`).
    return f"{key.replace('.', '__')}__{which}"
