"""Marker dots on a tactile sensor's gel: where they are at rest, and how far each has moved in
a later frame (the shear field a grasped part's push or twist leaves on the gel).

Detection (after gsrobotics' marker tracker): the grey image minus its Gaussian blur
(sigma about twice a dot's size) keeps small dark blobs; those darker than a threshold whose
area lies in a range are the dots, at their intensity-weighted centroids (sub-pixel).
Tracking: pyramidal Lucas-Kanade optical flow from the reference frame to the current one,
started at the reference dots; a dot the flow loses is reported as lost, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MarkerConfig:
    blur_sigma_px: float = 6.0  # the high-pass's Gaussian: about twice a dot's diameter
    threshold: float = 8.0  # grey levels darker than the surroundings
    min_area_px: int = 4
    max_area_px: int = 500
    window_px: int = 15  # Lucas-Kanade window
    levels: int = 2  # pyramid levels


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def detect(image: np.ndarray, config: MarkerConfig = MarkerConfig()) -> np.ndarray:
    """(N, 2) float32 marker centres (x, y) in pixels of an RGB (or grey) image, in
    row-major order of their position (top to bottom, then left to right)."""
    grey = _grey(image).astype(np.float32)
    darkness = cv2.GaussianBlur(grey, (0, 0), config.blur_sigma_px) - grey  # > 0 on a dot
    mask = (darkness > config.threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    centres = []
    for label in range(1, count):
        if not config.min_area_px <= stats[label, cv2.CC_STAT_AREA] <= config.max_area_px:
            continue
        ys, xs = np.nonzero(labels == label)
        weight = darkness[ys, xs]
        centres.append((float((xs * weight).sum() / weight.sum()),
                        float((ys * weight).sum() / weight.sum())))  # fmt: skip
    if not centres:
        return np.zeros((0, 2), np.float32)
    found = np.array(centres, np.float32)
    order = np.argsort(found[:, 1], kind="stable")
    gaps = np.diff(found[order, 1])
    # a new row where y jumps by much more than a row's own jitter (half the largest jump)
    new_row = gaps > max(2.0, 0.5 * float(gaps.max())) if len(gaps) else np.zeros(0, bool)
    rows = np.empty(len(found), int)
    rows[order] = np.concatenate([[0], np.cumsum(new_row)])
    return found[np.lexsort((found[:, 0], rows))]


def track(
    reference: np.ndarray,
    image: np.ndarray,
    markers: np.ndarray,
    config: MarkerConfig = MarkerConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """(displacement (N, 2) float32 pixels (x, y), found (N,) bool) of each reference marker
    from `reference` to `image`; a lost marker's displacement is NaN."""
    if len(markers) == 0:
        return np.zeros((0, 2), np.float32), np.zeros(0, bool)
    start = markers.reshape(-1, 1, 2).astype(np.float32)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        _grey(reference), _grey(image), start, None,
        winSize=(config.window_px, config.window_px), maxLevel=config.levels,
        criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
    )  # fmt: skip
    found = status.reshape(-1).astype(bool)
    displacement = (moved - start).reshape(-1, 2)
    displacement[~found] = np.nan
    return displacement.astype(np.float32), found
