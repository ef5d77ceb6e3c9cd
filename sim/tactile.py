"""GelSight-style tactile images from MuJoCo contacts: `TactileSensor`.

A pad sensor is a site at the centre of a fingertip pad's inner face (z out of the gel towards
the object, y down the image rows, x along the image columns; see `sim.scene`) plus the pad's
geom (for contact forces) and a `TactileProfile` (`sim.tactile_profile`: GelSight Mini, DIGIT).
Each `read()`:

1. Forces. The contacts on the pad geom give the normal force (sum of their normal forces), the
   shear force (tangential part of the total force the objects exert on the pad, image frame,
   newtons) and the torque about the pad normal; `slip` says the contacts are sliding (their
   tangential forces at the friction limit).
2. Object surface. `mujoco.mj_multiRay` casts one ray per cell of a coarse grid over the sensing
   area (default a fifth of the native resolution, e.g. 48 x 64 for a GelSight Mini), skipping
   the gripper's own geom group, and finds how far the object's surface lies behind the
   undeformed face (negative: in front of it, up to one gel thickness). mj_multiRay casts from
   one point, so the grid is split into tiles about 5 mm wide, each cast from a point
   `standoff` (20 mm) behind its centre: rays stay within about 10 degrees of the pad normal. A
   hit at depth p lies a factor (1 - p / standoff) closer to its tile's axis than its grid
   point; the grid is resampled to undo that. Hits more than twice the gel thickness behind the
   face are taken as something behind the pad and ignored (keep other objects out of the 20 mm
   behind a pad or put them in the gripper's geom group).
3. Gel. `sim.gel.GelLayer` presses that surface into the gel as deep as the normal force says,
   tilted so that the pressure is centred where the contacts' centre of pressure is (elastic
   foundation calibrated to Hertz contact; independent of the bodies' masses, unlike MuJoCo's
   own penetration), and moves the gel surface with the shear force and torque.
4. Image. `GelOptics` (`sim.tactile_optics`) shades the indentation under the profile's three
   coloured lights over the reference (no-contact) frame, upsampling from the grid only inside
   the region the contact changes, and warps the markers by the gel's displacement field.
   Without contact the image is exactly `reference` (noise off), or the reference plus noise.

Costs (2-core CI machine, one thread, otherwise idle): `vitac bench tactile` measures a
240x320 GelSight Mini and a DIGIT frame with a grasped peg on most of the pad against the 2 ms
goal; a 32x32 observation costs about a third of that. Noise adds about 1 ms at native size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import cv2
import mujoco
import numpy as np
from numpy.typing import NDArray

from drivers.kinematics import named_id
from sim.pad_contacts import PadContacts, pad_contacts, pad_normal_force
from sim.sensor_unit import SensorUnit
from sim.tactile_optics import GelOptics
from sim.tactile_profile import PROFILES, TactileProfile, profile

FloatArray = NDArray[np.float64]
Image = NDArray[np.uint8]

# Which geom groups rays may hit: everything except `sim.scene.GRIPPER_GROUP` (1).
DEFAULT_RAY_GROUPS = (1, 0, 1, 1, 1, 1)
# MuJoCo 3.5 added a `normal` output argument to mj_multiRay (3.9, 4.0 have it; 3.4 not).
_RAY_HAS_NORMAL = "normal" in (mujoco.mj_multiRay.__doc__ or "")
_GRID_DIVISOR = 5  # default depth grid: native resolution / this ...
_MIN_UPSAMPLE = 2  # ... and at most half the output size (ray casting is ~0.16 us per ray)
_MIN_GRID = 12  # ... but never coarser than this many rays per side
_STANDOFF_M = 0.02  # ray origins this far behind the pad face
_TILE_M = 0.0055  # ray fans cover tiles about this wide: rays stay within ~10 deg of the normal
_MAX_IMAGE_SIDE = 4096
_FAR_M = -1.0  # surface height standing for "no surface in reach" before resampling
_KEPT_UNITS = 64  # optics of this many sensor units are kept for reuse

__all__ = [
    "DEFAULT_RAY_GROUPS",
    "PROFILES",
    "PadContacts",
    "TactileProfile",
    "TactileReading",
    "TactileSensor",
    "pad_contacts",
    "pad_normal_force",
    "profile",
]


@dataclass(frozen=True)
class TactileReading:
    """One tactile frame and the forces behind it."""

    image: Image  # (H, W, 3) uint8 RGB
    depth: NDArray[np.float32]  # (H, W) indentation into the gel, metres; 0 = no contact
    normal_force: float  # newtons pressing the object into the pad
    shear_force: FloatArray  # (2,) newtons along the image x (columns) and y (rows)
    torque: float = 0.0  # N m about the pad normal (z), at the contacts' centre of pressure
    slip: bool = False  # the contacts slide over the gel (tangential force at the friction limit)
    # (gh, gw, 2) gel surface displacement along image x and y, metres, on the depth grid
    displacement: NDArray[np.float32] | None = None


class TactileSensor:
    """GelSight-style image, depth map and forces of one pad; see the module docstring.

    site: the pad site (centre of the inner face, axes as above); pad_geom: the pad's geom,
    whose contacts give the forces; profile: a `TactileProfile` or a name in `PROFILES`;
    image_size: (H, W) of the output, None for the profile's native size (any other size
    renders directly over the same sensing area, e.g. 32x32 observations); markers: None for
    the profile's default; noise: whether `read(..., rng)` adds sensor noise; depth_grid:
    (rows, cols) of rays, None for a fifth of the native resolution, at most half the output
    size (but at least 12, or the output size if smaller);
    ray_groups: the geom groups rays may hit (default: all but the gripper's group 1).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        site: str,
        pad_geom: str,
        profile: TactileProfile | str,
        image_size: tuple[int, int] | None = None,
        markers: bool | None = None,
        noise: bool = True,
        depth_grid: tuple[int, int] | None = None,
        ray_groups: tuple[int, ...] = DEFAULT_RAY_GROUPS,
    ) -> None:
        prof = _resolve_profile(profile)
        size = _check_size("image_size", prof.image_size if image_size is None else image_size)
        if depth_grid is None:
            native_h, native_w = prof.image_size
            depth_grid = (
                _default_grid(size[0], native_h),
                _default_grid(size[1], native_w),
            )
        grid = _check_size("depth_grid", depth_grid)
        if len(ray_groups) != 6:
            raise ValueError(f"ray_groups must give 6 flags (geom groups 0-5), got {ray_groups}")
        self.site_id = named_id(model, mujoco.mjtObj.mjOBJ_SITE, site)
        self.geom_id = named_id(model, mujoco.mjtObj.mjOBJ_GEOM, pad_geom)
        self.site, self.pad_geom, self.profile = site, pad_geom, prof
        self.image_size, self.depth_grid = size, grid
        self.markers = prof.markers if markers is None else bool(markers)
        self.noise = noise
        self._nominal = prof
        self._optics = GelOptics(prof, size, grid, self.markers)
        self.unit = SensorUnit()
        self._units: dict[SensorUnit, GelOptics] = {self.unit: self._optics}
        self._mount: FloatArray | None = None  # the unit's camera warp (None: nominal)
        self._reference = self._optics.reference

        self._standoff = _STANDOFF_M
        self._setup_rays(ray_groups)

    def _setup_rays(self, ray_groups: tuple[int, ...]) -> None:
        """Ray fans, one per tile of the grid, each from a point `standoff` behind its centre."""
        area_h, area_w = self.profile.sensing_area_m
        gh, gw = self.depth_grid
        s = self._standoff
        xs = ((np.arange(gw) + 0.5) / gw - 0.5) * area_w  # cell centres, site frame metres
        ys = ((np.arange(gh) + 0.5) / gh - 0.5) * area_h
        tiles_y = min(gh, math.ceil(area_h / _TILE_M))
        tiles_x = min(gw, math.ceil(area_w / _TILE_M))
        order, local, origins, spans = [], [], [], []
        offset_x = np.zeros((gh, gw), np.float32)  # grid cells from each cell to its tile's axis
        offset_y = np.zeros((gh, gw), np.float32)
        start = 0
        for rows in np.array_split(np.arange(gh), tiles_y):
            for cols in np.array_split(np.arange(gw), tiles_x):
                cy, cx = ys[rows].mean(), xs[cols].mean()
                u, v = np.meshgrid(xs[cols] - cx, ys[rows] - cy)
                # directions scaled so that ray parameter 1 lands on the face
                local.append(np.stack([u, v, np.full_like(u, s)], axis=-1).reshape(-1, 3))
                origins.append((cx, cy, -s))
                order.append((rows[:, None] * gw + cols[None, :]).reshape(-1))
                offset_x[np.ix_(rows, cols)] = (cols - cols.mean())[None, :]
                offset_y[np.ix_(rows, cols)] = (rows - rows.mean())[:, None]
                half_diag = math.hypot(float(np.abs(u).max()), float(np.abs(v).max()))
                # rays reach one and a half gel thicknesses in front of the face
                reach = math.hypot(half_diag, s) * (s + 1.5 * self.profile.gel_thickness_m) / s
                spans.append((start, start + u.size, reach))
                start += u.size
        self._local_rays = np.concatenate(local)  # (gh * gw, 3), tile by tile
        self._local_origins = np.asarray(origins)  # (tiles, 3) site frame
        self._spans = spans  # (start, stop, cutoff) of each tile in the ray arrays
        self._order = np.concatenate(order)  # ray k belongs to flat grid cell _order[k]
        self._offset_x, self._offset_y = offset_x, offset_y
        self._grid_x = np.broadcast_to(np.arange(gw, dtype=np.float32), (gh, gw))
        self._grid_y = np.broadcast_to(np.arange(gh, dtype=np.float32)[:, None], (gh, gw))
        self._groups = np.asarray(ray_groups, dtype=np.uint8)
        self._geomid = np.zeros(gh * gw, dtype=np.int32)
        self._dist = np.zeros(gh * gw, dtype=np.float64)
        self._flat = np.zeros(gh * gw, dtype=np.float64)

    # ------------------------------------------------------------------ reference frame
    @property
    def reference(self) -> Image:
        """The current no-contact frame (H, W, 3) uint8, markers at rest included."""
        return self._reference

    def randomize_reference(self, rng: np.random.Generator, strength: float = 1.0) -> None:
        """Domain-randomise the reference frame (LEDs, colour balance, vignette, offsets)."""
        self._optics.randomize(rng, strength)
        self._set_reference()

    def reset_reference(self) -> None:
        """Back to the profile's own reference frame."""
        self._optics.reset()
        self._set_reference()

    # ------------------------------------------------------------------ sensor unit
    def set_unit(self, unit: SensorUnit) -> None:
        """Make this sensor the unit `unit` of its profile (`sim.sensor_unit`): its gel, lights,
        markers and camera mount, with the unit's own reference frame (not randomised). The
        unit it already is: nothing changes (an env restores every reference at reset anyway)."""
        if unit == self.unit:
            return
        optics = self._units.get(unit)
        if optics is None:
            if len(self._units) >= _KEPT_UNITS:
                del self._units[next(iter(self._units))]  # the oldest
            optics = GelOptics(unit.apply(self._nominal), self.image_size, self.depth_grid,
                               self.markers)  # fmt: skip
            self._units[unit] = optics
        self.unit, self._optics, self.profile = unit, optics, optics.profile
        self._mount = unit.mount(self.image_size)
        self.reset_reference()

    def _set_reference(self) -> None:
        self._reference = self._mounted(self._optics.reference)
        self._reference.flags.writeable = False  # shared by every no-contact read: copy to edit

    def _mounted(self, image: Image) -> Image:
        """`image` as this unit's camera sees it (itself for a nominal mount)."""
        if self._mount is None:
            return image
        h, w = self.image_size
        warped = cv2.warpAffine(image, self._mount, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT101)  # fmt: skip
        return np.asarray(warped, dtype=np.uint8)

    @property
    def pixel_pitch_m(self) -> tuple[float, float]:
        """Metres per pixel along (rows, columns) of the output image."""
        return self._optics.pixel_pitch_m

    # ------------------------------------------------------------------ reading
    def read(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        rng: np.random.Generator | None = None,
    ) -> TactileReading:
        """Image, depth and forces now; needs up-to-date kinematics and contacts (mj_forward).

        Noise is added only when the sensor has `noise` on and `rng` is given (drawn from it).
        """
        h, w = self.image_size
        rot = data.site_xmat[self.site_id].reshape(3, 3)  # columns: site axes in the world
        contacts = pad_contacts(model, data, self.geom_id)
        shear = (rot.T @ contacts.force)[:2]  # the objects' push on the pad, image frame
        gel = self.profile.gel
        pitch = self._optics.grid_pitch_m  # (rows, columns) metres per grid cell
        area_h, area_w = self.profile.sensing_area_m
        local = rot.T @ (contacts.centre - data.site_xpos[self.site_id])  # site frame
        centre = local[:2] + np.array([area_w / 2, area_h / 2])  # from the grid's top-left
        grid = np.zeros(self.depth_grid, np.float32)
        torque = 0.0
        if contacts.normal > 0.0:
            surface = self.surface_grid_m(model, data)
            grid = gel.indentation(surface, contacts.normal, pitch, centre)
        if grid.any():
            moment = contacts.moment - np.cross(contacts.centre, contacts.force)  # about it
            torque = float(rot[:, 2] @ moment)
            displacement = gel.displacement(
                grid,
                pitch,
                shear,
                torque,
                centre,
                self.profile.shear_spread_m,
                self.profile.bulge,
            )
            image = self._mounted(self._optics.render(grid, displacement))
            depth = np.asarray(
                cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32
            )
        else:
            displacement = np.zeros((*self.depth_grid, 2), np.float32)
            image = self._reference.copy()
            depth = np.zeros((h, w), dtype=np.float32)
        if self.noise and rng is not None and self.profile.noise_std > 0:
            image = self._optics.add_noise(image, rng)
        return TactileReading(
            image=image,
            depth=depth,
            normal_force=contacts.normal,
            shear_force=shear,
            torque=torque,
            slip=contacts.sliding,
            displacement=displacement,
        )

    def surface_grid_m(self, model: mujoco.MjModel, data: mujoco.MjData) -> NDArray[np.float32]:
        """(gh, gw) how far objects lie behind the undeformed face (m); -inf where none in reach.

        Negative values are surfaces in front of the face, up to one gel thickness away.
        """
        rot = data.site_xmat[self.site_id].reshape(3, 3)  # columns: site axes in the world
        origins = data.site_xpos[self.site_id] + self._local_origins @ rot.T  # (tiles, 3)
        rays = self._local_rays @ rot.T  # (gh * gw, 3) world directions
        for origin, (start, stop, cutoff) in zip(origins, self._spans, strict=True):
            mujoco.mj_multiRay(*self._ray_args(model, data, origin, rays, start, stop, cutoff))
        gel, s = self.profile.gel_thickness_m, self._standoff
        surface = s * (1.0 - self._dist)
        # a miss, or something behind the pad rather than in contact with the gel
        surface[(self._geomid < 0) | (surface > 2.0 * gel)] = _FAR_M
        self._flat[self._order] = surface
        grid = self._flat.astype(np.float32).reshape(self.depth_grid)
        if not np.any(grid > _FAR_M):
            return np.full(self.depth_grid, -np.inf, np.float32)
        # A hit at depth p lies (1 - p/s) times as far from its tile's axis as its grid point:
        # sample each grid point where its own ray would have met the surface.
        near = np.maximum(grid, -gel)
        stretch = near / (s - near)  # (gh, gw): 1 / (1 - p/s) - 1
        map_x = self._grid_x + self._offset_x * stretch
        map_y = self._grid_y + self._offset_y * stretch
        remapped = cv2.remap(grid, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out: NDArray[np.float32] = np.asarray(remapped, dtype=np.float32)
        out[out < -gel] = -np.inf  # out of reach (or blended with a miss)
        return out

    def _ray_args(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        origin: FloatArray,
        rays: FloatArray,
        start: int,
        stop: int,
        cutoff: float,
    ) -> tuple[object, ...]:
        """mj_multiRay arguments; MuJoCo >= 3.5 takes a `normal` output (None: not wanted)."""
        head = (
            model,
            data,
            origin,
            rays[start:stop].reshape(-1),
            self._groups,
            1,
            -1,
            self._geomid[start:stop],
            self._dist[start:stop],
        )
        tail = (stop - start, cutoff)
        return (*head, None, *tail) if _RAY_HAS_NORMAL else (*head, *tail)


def _default_grid(out: int, native: int) -> int:
    """Rays along one side: native / 5, at most out / 2, at least min(out, 12)."""
    return max(min(out, _MIN_GRID), min(math.ceil(native / _GRID_DIVISOR), out // _MIN_UPSAMPLE))


def _resolve_profile(value: TactileProfile | str) -> TactileProfile:
    if isinstance(value, TactileProfile):
        return value
    if isinstance(value, str):
        return profile(value)
    raise TypeError(f"profile must be a TactileProfile or a name in {sorted(PROFILES)}")


def _check_size(name: str, size: object) -> tuple[int, int]:
    """(H, W) of positive ints, or a ValueError saying what is wrong."""
    ok = (
        isinstance(size, tuple | list)
        and len(size) == 2
        and all(
            isinstance(s, int | np.integer) and not isinstance(s, bool) and 0 < s <= _MAX_IMAGE_SIDE
            for s in size
        )
    )
    if not ok:
        raise ValueError(
            f"{name} must be (height, width) with integers in [1, {_MAX_IMAGE_SIDE}], got {size!r}"
        )
    h, w = cast("tuple[int, int]", size)
    return int(h), int(w)
