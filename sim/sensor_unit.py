"""Unit-to-unit variation of a tactile sensor model: `SensorUnit`, `draw_unit`, `pool_unit`.

Two GelSight Minis are not the same sensor: gel batches differ in stiffness, LEDs and camera
exposure in brightness, the LEDs sit a little higher or lower, the printed dots are a little
larger or smaller, the gel's coating blurs more or less, and the camera sits in its housing
turned and shifted by a little. A difference from the sensor's own resting frame cancels none
of that: the same press looks different on every unit. T3's premise (a trunk pretrained across
sensors generalises to the sensor at hand) is about exactly this, which the nominal profiles of
`sim.tactile_profile` do not have.

A `SensorUnit` holds one unit's deviations from its profile; `apply` gives the unit's profile
(the physics and the shading), `mount` the camera's turn and shift as an affine map of the image
(applied to every frame, the resting frame included). `SensorUnit()` is the nominal unit: the
profile unchanged and no warp, so a sensor set to it renders bit for bit as before.

`draw_unit(rng, spread)` draws one unit; at `spread` 1 (ranges are plausible manufacturing
spreads, hand-chosen, not measured on real sensors):

    gel modulus      x 0.5 .. 2       (log-uniform; silicone batches, Shore hardness)
    light gain       x 0.77 .. 1.3    (log-uniform; LED power, camera exposure)
    LED elevation    +- 5 degrees
    gel blur         x 0.77 .. 1.3    (log-uniform; coating, camera focus)
    marker radius    x 0.75 .. 1.25
    camera turn      +- 4 degrees     (about the image centre)
    camera shift     +- 3 % of the image height and width

Each deviation scales with `spread` (log-ranges in the exponent). `pool_unit(seed, k, spread)`
is unit k of one lab's pool (a gripper: one unit per pad), drawn from a generator of (seed, k)
alone: a pool of 4 is the first 4 units of a pool of 8, and another seed is another lab's units
(held out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from sim.tactile_profile import TactileProfile

F64 = NDArray[np.float64]
MAX_SPREAD = 2.0
_MODULUS_LOG2 = 1.0  # log2 of the largest modulus factor at spread 1
_GAIN_LOG = math.log(1.3)  # and of the gain and blur factors (natural log)
_ELEVATION_DEG = 5.0
_MARKER_RADIUS = 0.25
_TURN_DEG = 4.0
_SHIFT = 0.03  # of the image side


@dataclass(frozen=True)
class SensorUnit:
    """One sensor's deviations from its profile (1.0 / 0.0: none). Hashable, so a sensor can
    keep the optics of the units it has seen."""

    modulus_scale: float = 1.0  # x the profile's gel Young's modulus
    gain_scale: float = 1.0  # x light_gain and depth_darkening
    elevation_deg: float = 0.0  # added to the LEDs' elevation
    blur_scale: float = 1.0  # x gel_blur_m
    marker_scale: float = 1.0  # x marker_radius_m
    turn_deg: float = 0.0  # camera turned about the image centre (counter-clockwise in the image)
    shift: tuple[float, float] = (0.0, 0.0)  # camera shift, fraction of (height, width)

    def __post_init__(self) -> None:
        scales = (self.modulus_scale, self.gain_scale, self.blur_scale, self.marker_scale)
        values = (*scales, self.elevation_deg, self.turn_deg, *self.shift)
        if not all(math.isfinite(v) for v in values) or min(scales) <= 0:
            raise ValueError(f"a sensor unit needs finite values and positive scales, got {self}")

    @property
    def nominal(self) -> bool:
        return self == SensorUnit()

    def apply(self, profile: TactileProfile) -> TactileProfile:
        """The unit's profile: `profile` with this unit's gel, lights and markers (validated)."""
        if self.nominal:
            return profile
        changed = profile.model_dump() | {
            "gel_modulus_pa": profile.gel_modulus_pa * self.modulus_scale,
            "light_gain": profile.light_gain * self.gain_scale,
            "depth_darkening": profile.depth_darkening * self.gain_scale,
            "light_elevation_deg": profile.light_elevation_deg + self.elevation_deg,
            "gel_blur_m": profile.gel_blur_m * self.blur_scale,
            "marker_radius_m": profile.marker_radius_m * self.marker_scale,
        }
        return TactileProfile.model_validate(changed)

    def mount(self, image_size: tuple[int, int]) -> F64 | None:
        """(2, 3) affine map from the nominal image to this unit's (cv2.warpAffine), or None
        when the camera sits where the profile says."""
        if self.turn_deg == 0.0 and self.shift == (0.0, 0.0):
            return None
        h, w = image_size
        turn = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), self.turn_deg, 1.0)
        matrix = np.asarray(turn, dtype=np.float64)
        matrix[:, 2] += np.array([self.shift[1] * w, self.shift[0] * h])  # (x, y) pixels
        return matrix


def draw_unit(rng: np.random.Generator, spread: float = 1.0) -> SensorUnit:
    """One unit with every deviation drawn uniformly within `spread` x its range (module doc)."""
    if not math.isfinite(spread) or not 0.0 <= spread <= MAX_SPREAD:
        raise ValueError(f"spread must be in [0, {MAX_SPREAD}], got {spread}")
    u = rng.uniform(-1.0, 1.0, 8) * spread  # always 8 draws: the stream does not depend on it
    return SensorUnit(
        modulus_scale=float(2.0 ** (_MODULUS_LOG2 * u[0])),
        gain_scale=float(math.exp(_GAIN_LOG * u[1])),
        elevation_deg=float(_ELEVATION_DEG * u[2]),
        blur_scale=float(math.exp(_GAIN_LOG * u[3])),
        marker_scale=float(1.0 + _MARKER_RADIUS * u[4]),
        turn_deg=float(_TURN_DEG * u[5]),
        shift=(float(_SHIFT * u[6]), float(_SHIFT * u[7])),
    )


def pool_unit(seed: int, index: int, spread: float, pads: int = 2) -> tuple[SensorUnit, ...]:
    """Unit `index` of the pool named `seed`: one `SensorUnit` per pad of a gripper, drawn from
    a generator of (seed, index) alone (the same whatever the pool's size)."""
    if index < 0 or seed < 0:
        raise ValueError(f"unit index and pool seed must be >= 0, got {index} and {seed}")
    rng = np.random.default_rng([seed, index])
    return tuple(draw_unit(rng, spread) for _ in range(pads))
