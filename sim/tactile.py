"""Minimal GelSight-style tactile images from MuJoCo ray casts.

A pad sensor is a site on the inner face of a fingertip pad (z out of the gel, y down the image
rows, x along the image columns; see `sim.scene`). Each frame:

1. `TactilePad.indentation` casts one ray per pixel with `mujoco.mj_multiRay`, from a point
   `standoff` behind the pad face through a T x T grid on the face, skipping the gripper's own
   geom group. A virtual gel layer `gel_thickness` thick lies on the face; an object whose
   surface is a distance s in front of the face indents it by clip(gel_thickness - s, 0,
   gel_thickness): 0 where nothing is within the layer.
2. `GelShader.shade` turns that depth map into RGB: surface normals from the (slightly blurred)
   depth gradient, Lambertian shading under three coloured lights from three azimuths, added to a
   smooth reference (no-contact) image. Zero indentation gives exactly the reference image.

`pad_normal_force` sums the normal contact forces on a pad geom (newtons).
A later issue replaces the shading with calibrated sensor profiles; the interface stays.
"""

from __future__ import annotations

import cv2
import mujoco
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Image = NDArray[np.uint8]

# Which geom groups rays may hit: everything except `sim.scene.GRIPPER_GROUP` (1).
DEFAULT_RAY_GROUPS = (1, 0, 1, 1, 1, 1)
# MuJoCo 3.5 added a `normal` output argument to mj_multiRay (3.9, 4.0 have it; 3.4 not).
_RAY_HAS_NORMAL = "normal" in (mujoco.mj_multiRay.__doc__ or "")


class TactilePad:
    """Depth of objects into a virtual gel layer on one pad, sampled on a size x size grid."""

    def __init__(
        self,
        model: mujoco.MjModel,
        site: str,
        half_extent: tuple[float, float],
        size: int,
        gel_thickness: float,
        standoff: float = 0.02,
        ray_groups: tuple[int, ...] = DEFAULT_RAY_GROUPS,
    ) -> None:
        if size <= 0 or gel_thickness <= 0 or standoff <= 0:
            raise ValueError("size, gel_thickness and standoff must be positive")
        self.site_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
        if self.site_id < 0:
            raise ValueError(f"no site named {site!r} in the model")
        self.name, self.size, self.gel_thickness, self.standoff = (
            site,
            size,
            gel_thickness,
            standoff,
        )
        hx, hy = half_extent
        self.pixel_pitch = (2 * hx / size, 2 * hy / size)  # metres per column, per row
        cols = -hx + (np.arange(size) + 0.5) * self.pixel_pitch[0]
        rows = -hy + (np.arange(size) + 0.5) * self.pixel_pitch[1]
        u, v = np.meshgrid(cols, rows)  # (T, T) each; rows index image rows
        # Ray directions in the site frame, scaled so that ray parameter 1 lands on the face.
        self._local_rays = np.stack([u, v, np.full_like(u, standoff)], axis=-1).reshape(-1, 3)
        self._groups = np.asarray(ray_groups, dtype=np.uint8)
        self._cutoff = float(np.sqrt(hx**2 + hy**2 + standoff**2) + 2 * gel_thickness)
        n = size * size
        self._geomid = np.zeros(n, dtype=np.int32)
        self._dist = np.zeros(n, dtype=np.float64)

    def indentation(self, model: mujoco.MjModel, data: mujoco.MjData) -> FloatArray:
        """(T, T) gel indentation in metres, in [0, gel_thickness]; needs up-to-date kinematics."""
        rot = data.site_xmat[self.site_id].reshape(3, 3)  # columns: site axes in the world
        origin = data.site_xpos[self.site_id] - self.standoff * rot[:, 2]
        rays = self._local_rays @ rot.T  # (T*T, 3) world directions
        mujoco.mj_multiRay(*self._ray_args(model, data, origin, rays))
        gap = (self._dist - 1.0) * self.standoff  # distance in front of the face along its normal
        depth = np.where(self._dist >= 0, self.gel_thickness - gap, 0.0)
        return np.clip(depth, 0.0, self.gel_thickness).reshape(self.size, self.size)

    def _ray_args(
        self, model: mujoco.MjModel, data: mujoco.MjData, origin: FloatArray, rays: FloatArray
    ) -> tuple[object, ...]:
        """mj_multiRay arguments; MuJoCo >= 3.5 takes a `normal` output (None: not wanted)."""
        head = (
            model,
            data,
            origin,
            rays.reshape(-1),
            self._groups,
            1,
            -1,
            self._geomid,
            self._dist,
        )
        tail = (rays.shape[0], self._cutoff)
        return (*head, None, *tail) if _RAY_HAS_NORMAL else (*head, *tail)


class GelShader:
    """Indentation map (T, T) metres -> GelSight-like RGB image (T, T, 3) uint8."""

    def __init__(
        self,
        size: int,
        pixel_pitch: float,
        gel_thickness: float,
        light_elevation_deg: float = 35.0,
        light_gain: float = 170.0,
        depth_gain: float = 30.0,
        blur_px: float = 0.8,
    ) -> None:
        self.size, self.pixel_pitch, self.gel_thickness = size, pixel_pitch, gel_thickness
        self.light_gain, self.depth_gain, self.blur_px = light_gain, depth_gain, blur_px
        # R, G, B lights at azimuths 90, 210, 330 degrees, `light_elevation_deg` above the gel.
        azimuth = np.deg2rad([90.0, 210.0, 330.0])
        elevation = np.deg2rad(light_elevation_deg)
        self._lights = np.stack(
            [
                np.cos(elevation) * np.cos(azimuth),
                np.cos(elevation) * np.sin(azimuth),
                np.full(3, np.sin(elevation)),
            ],
            axis=-1,
        )  # (3 lights, xyz), light k lights channel k
        self._background = self._make_background()
        self.reference: Image = np.clip(np.rint(self._background), 0, 255).astype(np.uint8)

    def _make_background(self) -> FloatArray:
        """Smooth no-contact image: each LED brighter on its own side, a slight vignette."""
        t = (np.arange(self.size) + 0.5) / self.size * 2 - 1  # [-1, 1]
        x, y = np.meshgrid(t, -t)  # image right = +x, image up = +y
        base = np.array([118.0, 126.0, 140.0])
        tilt = 18.0 * (x[..., None] * self._lights[:, 0] + y[..., None] * self._lights[:, 1])
        vignette = -14.0 * (x**2 + y**2)[..., None]
        background: FloatArray = base + tilt + vignette
        return background

    def shade(self, depth: FloatArray) -> Image:
        """RGB tactile image of indentation `depth` (T, T) in metres."""
        if not np.any(depth > 0):
            return self.reference.copy()
        if self.blur_px > 0:
            depth = np.asarray(cv2.GaussianBlur(depth, (0, 0), self.blur_px), dtype=np.float64)
        # Surface height is -depth (the gel is pushed in); normals from its gradient.
        d_row, d_col = np.gradient(depth, self.pixel_pitch)
        # Image rows run down, so d/dy (up) = -d/drow; height h = -depth.
        hx, hy = -d_col, d_row
        inv = 1.0 / np.sqrt(hx**2 + hy**2 + 1.0)
        normals = np.stack([-hx * inv, -hy * inv, inv], axis=-1)  # (T, T, 3)
        lambert = normals @ self._lights.T - self._lights[:, 2]  # (T, T, 3): 0 on flat gel
        darken = (self.depth_gain / self.gel_thickness) * depth[..., None]
        image = self._background + self.light_gain * lambert - darken
        out: Image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        return out


def pad_normal_force(model: mujoco.MjModel, data: mujoco.MjData, geom_id: int) -> float:
    """Sum of the normal forces (N) of all active contacts that involve geom `geom_id`."""
    if data.ncon == 0:
        return 0.0
    contacts = data.contact
    hits = np.flatnonzero((contacts.geom1 == geom_id) | (contacts.geom2 == geom_id))
    total, wrench = 0.0, np.zeros(6)
    for i in hits:
        mujoco.mj_contactForce(model, data, int(i), wrench)
        total += float(wrench[0])
    return total
