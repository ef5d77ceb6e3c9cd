"""One picture of every stream, for an operator: each view scaled to a common height, labelled
with its name and rate, side by side in rows. Depth is shown through a colour map (near: warm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

LABEL_HEIGHT = 22
DEPTH_RANGE_M = (0.1, 2.0)  # shown from near to far; outside is clipped, 0 (no depth) is black


@dataclass(frozen=True)
class View:
    """One picture: (H, W, 3) uint8 RGB, or (H, W) uint16 depth with `depth_scale` m/unit."""

    name: str
    image: np.ndarray
    note: str = ""  # e.g. "29.8 fps"
    depth_scale: float = 0.0  # > 0: `image` is depth


def to_rgb(view: View) -> np.ndarray:
    """(H, W, 3) uint8 RGB: colour as it is, depth through the turbo colour map."""
    if view.depth_scale <= 0:
        if view.image.ndim != 3 or view.image.dtype != np.uint8:
            raise ValueError(f"{view.name}: colour must be (H, W, 3) uint8, got "
                             f"{view.image.shape} {view.image.dtype}")  # fmt: skip
        return view.image
    metres = view.image.astype(np.float32) * view.depth_scale
    near, far = DEPTH_RANGE_M
    scaled = np.clip((far - metres) / (far - near), 0.0, 1.0)  # near -> 1 (warm)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    rgb[view.image == 0] = 0
    return rgb


def mosaic(views: Sequence[View], height: int = 240, columns: int | None = None) -> np.ndarray:
    """(rows x (LABEL_HEIGHT + height), W, 3) uint8 RGB: the views in rows of `columns`
    (default: about square), each resized to `height` keeping its aspect, with its label."""
    if not views:
        raise ValueError("a mosaic needs at least one view")
    tiles = [_tile(v, height) for v in views]
    columns = columns or math.ceil(math.sqrt(len(tiles)))
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    width = max(sum(t.shape[1] for t in row) for row in rows)
    out = np.zeros((len(rows) * (height + LABEL_HEIGHT), width, 3), np.uint8)
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            y = r * (height + LABEL_HEIGHT)
            out[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
            x += tile.shape[1]
    return out


def _tile(view: View, height: int) -> np.ndarray:
    rgb = to_rgb(view)
    h, w = rgb.shape[:2]
    width = max(1, round(w * height / h))
    body = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    band = np.full((LABEL_HEIGHT, width, 3), 32, np.uint8)
    text = f"{view.name}  {view.note}".strip()
    cv2.putText(band, text, (4, LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (235, 235, 235), 1, cv2.LINE_AA)  # fmt: skip
    return np.concatenate([band, body])
