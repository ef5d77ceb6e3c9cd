"""Declared shape of one observation or action stream: the single place a key's layout lives.

Simulated rigs, real rigs and the episode store all describe their streams with `FieldSpec`,
so a dataset's schema, an env's observation space and a policy's inputs agree by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator


class FieldSpec(BaseModel):
    """Per-frame layout of one stream: e.g. `rgb.scene` is (64, 64, 3) uint8 from camera `scene`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: tuple[int, ...]
    dtype: str
    units: str = ""
    sensor: str = ""

    @field_validator("shape")
    @classmethod
    def _positive_dims(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        if any(d <= 0 for d in shape):
            raise ValueError(f"every dimension must be positive, got {shape}")
        return shape

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, dtype: str) -> str:
        try:
            return np.dtype(dtype).name
        except TypeError as err:
            raise ValueError(f"unknown numpy dtype {dtype!r}") from err

    @property
    def np_dtype(self) -> np.dtype[Any]:
        return np.dtype(self.dtype)

    @property
    def is_image(self) -> bool:
        """Images are (H, W, C) uint8 or (H, W) uint16 depth."""
        return (len(self.shape) == 3 and self.dtype == "uint8") or (
            len(self.shape) == 2 and self.dtype == "uint16"
        )

    def check(self, key: str, value: np.ndarray) -> None:
        """Raise ValueError naming `key` when `value` does not match this spec."""
        if tuple(value.shape) != self.shape or value.dtype != self.np_dtype:
            raise ValueError(
                f"{key}: expected shape {self.shape} dtype {self.dtype}, "
                f"got shape {tuple(value.shape)} dtype {value.dtype}"
            )
