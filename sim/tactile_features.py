"""Hand-written features of GelSight-style images, computed from the images alone.

What an observation-honest expert (or a person reading the sensor) can get from a tactile
frame without the simulator: where the markers are and how the gel moved between two frames,
where a grasped flat face's imprint edges are, and how its shading changed. Everything here
takes `(H, W, 3)` uint8 images and the sensor's `TactileProfile` (its marker grid, sensing area
and lights: what a sensor's data sheet gives), never a `TactileReading`.

Image frame: x along the columns, y down the rows, pixel centres at integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from sim.tactile_optics import shading_matrix
from sim.tactile_profile import TactileProfile

F64 = NDArray[np.float64]
Image = NDArray[np.uint8]
_WINDOW = 3  # marker search half-width, pixels


def rest_markers(profile: TactileProfile, size: tuple[int, int]) -> F64:
    """(n, 2) x, y pixel positions of the marker dots at rest in an image of `size` (H, W)."""
    rows, cols = profile.marker_grid
    h, w = size
    xs = (np.arange(cols) + 0.5) * w / cols - 0.5
    ys = (np.arange(rows) + 0.5) * h / rows - 0.5
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)  # (rows, cols, 2)
    return grid.reshape(-1, 2)


def marker_positions(image: Image, start: F64, iterations: int = 2) -> F64:
    """(n, 2) sub-pixel centres of the dark dots nearest to `start` (n, 2) x, y pixels.

    Each centre is the darkness-weighted centroid of a small window (darkness: how far a pixel
    is below the window's bright level), re-centred `iterations` times.
    """
    grey = image.astype(np.float64).mean(axis=-1)  # (H, W)
    h, w = grey.shape
    offsets = np.arange(-_WINDOW, _WINDOW + 1)
    out = np.asarray(start, dtype=np.float64).copy()
    for _ in range(iterations):
        cx = np.clip(np.rint(out[:, 0]).astype(int), _WINDOW, w - 1 - _WINDOW)
        cy = np.clip(np.rint(out[:, 1]).astype(int), _WINDOW, h - 1 - _WINDOW)
        ys = cy[:, None, None] + offsets[None, :, None]  # (n, k, 1)
        xs = cx[:, None, None] + offsets[None, None, :]  # (n, 1, k)
        patch = grey[ys, xs]  # (n, k, k)
        bright = np.percentile(patch.reshape(len(out), -1), 75, axis=1)[:, None, None]
        weight = np.clip(bright - patch, 0.0, None)
        total = weight.sum(axis=(1, 2))
        total[total == 0] = 1.0
        dx = (weight * offsets[None, None, :]).sum(axis=(1, 2)) / total
        dy = (weight * offsets[None, :, None]).sum(axis=(1, 2)) / total
        out = np.stack([cx + dx, cy + dy], axis=1)
    return out


@dataclass(frozen=True)
class RigidMotion:
    """In-plane motion of a set of points: shift (2,) pixels and turn (rad) about `centre`."""

    shift: F64
    turn: float
    centre: F64


def rigid_motion(before: F64, after: F64) -> RigidMotion:
    """Least-squares translation + rotation taking points `before` (n, 2) to `after` (n, 2)."""
    centre = before.mean(axis=0)
    r = before - centre  # (n, 2)
    moved = after - before
    shift = moved.mean(axis=0)
    rest = moved - shift
    spread = float((r**2).sum())
    turn = float((r[:, 0] * rest[:, 1] - r[:, 1] * rest[:, 0]).sum() / spread) if spread else 0.0
    return RigidMotion(shift=shift, turn=turn, centre=centre)


def light_colours(profile: TactileProfile) -> F64:
    """(2, 3): RGB change per unit surface slope along image x and along image y.

    The first two rows of the gel's shading model (`sim.tactile_optics.shading_matrix`), which
    is linear in the slopes for small slopes: what a sensor calibration would give.
    """
    return np.asarray(shading_matrix(profile)[:2], dtype=np.float64)


def edge_profile(image: Image, profile: TactileProfile) -> F64:
    """(W,) per column, how strongly the image shows a surface sloping along x.

    A grasped flat face pressed into the gel slopes down at its left edge and up at its right
    edge; projecting each pixel's colour (minus the image's mean colour) on the x-slope colour
    gives a positive ridge on one edge and a negative one on the other.
    """
    colour = light_colours(profile)[0]
    colour = colour / np.linalg.norm(colour)
    centred = image.astype(np.float64) - image.reshape(-1, 3).mean(axis=0)
    return np.asarray((centred @ colour).mean(axis=0))


def imprint_edges(image: Image, profile: TactileProfile) -> tuple[float, float]:
    """Columns (pixels, sub-pixel) of the left and right edges of a grasped face's imprint."""
    ridge = edge_profile(image, profile)
    left, right = int(np.argmax(ridge)), int(np.argmin(ridge))
    if left > right:
        left, right = right, left
    return _peak(ridge, left), _peak(-ridge, right)


def _peak(values: F64, index: int) -> float:
    """Sub-pixel position of the maximum at `index` (parabola through its neighbours)."""
    if 0 < index < len(values) - 1:
        a, b, c = values[index - 1], values[index], values[index + 1]
        denominator = a - 2 * b + c
        if denominator < 0:
            return float(index + 0.5 * (a - c) / denominator)
    return float(index)


# A grasped face's edge in view shows an x-slope ridge of 40-65 in `edge_profile` units on
# the pads' images at this rig's grip; a face wider than the view leaves spurious peaks under 20.
EDGE_RIDGE_MIN = 25.0
_BORDER = 2  # pixels: a peak this close to the image border may be a face edge out of view


def imprint_centre(image: Image, profile: TactileProfile, face_width_px: float) -> float | None:
    """Column (pixels) of the centre of a grasped face `face_width_px` wide, or None.

    Both edges in view: their midpoint; one: that edge and the face's known width; none (the
    face is wider than the view and centred on it): None, the centre is not observable.
    """
    ridge = edge_profile(image, profile)
    width = len(ridge)
    edges = []
    for values, side in ((ridge, -1.0), (-ridge, 1.0)):  # left edge: positive ridge
        index = int(np.argmax(values))
        if values[index] >= EDGE_RIDGE_MIN and _BORDER <= index < width - _BORDER:
            edges.append((_peak(values, index), side))
    if len(edges) == 2 and edges[0][0] < edges[1][0]:
        return (edges[0][0] + edges[1][0]) / 2
    if len(edges) == 1:
        column, side = edges[0]
        return column - side * face_width_px / 2
    return None


PRESS_FEATURES = ("tilt", "left_edge", "right_edge", "turn", "shift_x", "shift_y", "change")


def marker_tracks(before: Image, now: Image, profile: TactileProfile) -> tuple[F64, F64]:
    """(n, 2) each marker's position in `before` and (n, 2) where it is in `now`, pixels."""
    start = marker_positions(before, rest_markers(profile, before.shape[:2]))
    return start, marker_positions(now, start)


def press_features(
    before: Image,
    now: Image,
    profile: TactileProfile,
    tracks: tuple[F64, F64] | None = None,
) -> F64:
    """(7,) how one pad's image changed between two frames of a grasp, named `PRESS_FEATURES`.

    Under the imprint of the grasped face of `before`: the mean change along the y-slope colour
    (`tilt`: the face tilting across the pad), the x-slope change at the face's left and right
    edges (the face pressing deeper on one side), the markers' rigid motion (`turn` in rad,
    `shift_x`, `shift_y` in pixels); and the mean absolute colour change (`change`). `tracks`:
    the markers' `marker_tracks`, if the caller has them already.
    """
    left, right = imprint_edges(before, profile)
    lo, hi = int(np.ceil(left)), max(int(right), int(np.ceil(left)) + 1)
    start, moved = tracks or marker_tracks(before, now, profile)
    inside = (start[:, 0] > left + 1) & (start[:, 0] < right - 1)
    if inside.sum() < 3:  # the imprint covers (nearly) the whole view
        inside[:] = True
    motion = rigid_motion(start[inside], moved[inside])
    change = now.astype(np.float64) - before.astype(np.float64)  # (H, W, 3)
    x_colour, y_colour = light_colours(profile)
    along_x = change @ (x_colour / float(x_colour @ x_colour))  # (H, W) x-slope change
    interior = change[:, lo + 2 : max(hi - 1, lo + 3)].reshape(-1, 3).mean(axis=0)
    edge_x = [float(along_x[:, max(c - 2, 0) : c + 3].mean()) for c in (int(left), int(right))]
    return np.array(
        [
            float(interior @ (y_colour / float(y_colour @ y_colour))),
            *edge_x,
            motion.turn,
            *motion.shift,
            float(np.abs(change).mean()),
        ]
    )


def change_cells(before: Image, now: Image, cells: tuple[int, int]) -> F64:
    """(h * w * 3,) the colour change from `before` to `now`, averaged over `cells` (h, w)."""
    change = now.astype(np.float32) - before.astype(np.float32)  # (H, W, 3)
    h, w = cells
    return np.asarray(cv2.resize(change, (w, h), interpolation=cv2.INTER_AREA), np.float64).ravel()
