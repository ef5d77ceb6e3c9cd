"""Optics of a GelSight-style pad: reference frame, shading under three lights, marker motion.

`GelOptics` turns a coarse grid of gel indentation (metres, from `sim.tactile`'s ray casts)
into an RGB image at the output size. The model, per frame:

1. Gel surface. The indentation grid is low-passed by a Gaussian of `gel_blur_m` (the membrane
   cannot follow arbitrarily sharp edges) and differentiated: h_x = dh/dx, h_y = dh/dy, with h
   the indentation (the membrane moves away from the object, towards the camera).
2. Shading. Each light k (azimuth a_k in the image plane, elevation e_k above the gel, colour
   c_k) lights the membrane's inner side by Lambert's law; relative to the flat gel the change is
       delta_k = (-h_x cos e cos a_k - h_y cos e sin a_k + sin e) / sqrt(1 + h_x^2 + h_y^2) - sin e,
   so a flank facing light k brightens in c_k and the opposite flank darkens. The image is
   reference + light_gain * sum_k c_k delta_k - depth_darkening * h / gel_thickness.
   That expression is linear in (h_x/N, h_y/N, 1/N - 1, h), so it is evaluated on the grid and
   then upsampled bilinearly to the output pixels (the gel is a low-pass filter anyway), and only
   inside the bounding box of the grid cells that change anything; every other pixel is the
   reference frame, bit for bit.
3. Markers (optional): dark dots on a regular grid, multiplied into the image and warped with
   `cv2.remap` by the gel surface's in-plane displacement field, which `sim.gel` computes from
   the contact's shear force and torque (the patch moves and turns rigidly, the motion fades
   outside it) plus an outward bulge around indentations.
4. Reference frame: the membrane colour, one soft glow per LED on its own side, a vignette, and
   the markers at rest. `randomize` perturbs LED brightness, colour balance, glow positions,
   vignette and offsets for domain randomisation.
5. Noise (optional): Gaussian per pixel and channel, `noise_std` grey levels, rounded to whole
   grey levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist

import cv2
import numpy as np
from numpy.typing import NDArray

from sim.gel import blur_cells, slopes
from sim.tactile_profile import TactileProfile

F32 = NDArray[np.float32]
Image = NDArray[np.uint8]
_NOISE_LEVELS = 4096  # entries of the noise table (quantiles of a normal distribution)


@dataclass(frozen=True)
class _Background:
    """Parameters of the reference frame; `GelOptics.randomize` perturbs them."""

    base_rgb: NDArray[np.float64]  # (3,) grey levels at the centre
    glow: NDArray[np.float64]  # (3,) peak glow of each LED, grey levels
    led_xy: NDArray[np.float64]  # (3, 2) LED positions, units of the half diagonal
    vignette: float
    offset_rgb: NDArray[np.float64]  # (3,) grey levels added everywhere


class GelOptics:
    """Reference frame and rendering of one profile at one output size and depth grid."""

    def __init__(
        self,
        profile: TactileProfile,
        image_size: tuple[int, int],
        grid: tuple[int, int],
        markers: bool,
    ) -> None:
        self.profile = profile
        self.height, self.width = image_size
        self.grid = grid
        self.markers = markers
        area_h, area_w = profile.sensing_area_m
        gh, gw = grid
        self.pixel_pitch_m = (area_h / self.height, area_w / self.width)  # (rows, columns)
        self.grid_pitch_m = (area_h / gh, area_w / gw)
        self._feature_to_rgb = shading_matrix(profile)  # (4, 3)
        px, py = np.meshgrid(
            np.arange(self.width, dtype=np.float32), np.arange(self.height, dtype=np.float32)
        )
        self._pixel_x, self._pixel_y = px, py  # (H, W) each: identity maps for the marker warp
        # Pixel centres in metres from the sensing-area centre, in half-diagonal units.
        half_diag = 0.5 * math.hypot(area_h, area_w)
        xs = ((np.arange(self.width) + 0.5) / self.width - 0.5) * area_w / half_diag
        ys = ((np.arange(self.height) + 0.5) / self.height - 0.5) * area_h / half_diag
        self._xy = np.stack(np.meshgrid(xs, ys), axis=-1)  # (H, W, 2)
        self._marker_mask = self._markers() if markers else None  # (H, W) in (0, 1]
        self._default = self._default_background(profile)
        self._noise_table: NDArray[np.int16] | None = None  # made on the first noisy frame
        self._background: F32 = np.zeros((self.height, self.width, 3), np.float32)
        self.reference: Image = np.zeros((self.height, self.width, 3), np.uint8)
        self.reset()

    # ------------------------------------------------------------------ reference frame
    def reset(self) -> None:
        """Back to the profile's own reference frame."""
        self._set_background(self._default)

    def randomize(self, rng: np.random.Generator, strength: float = 1.0) -> None:
        """Perturbed reference: LED brightness, colour balance, glow position, vignette, offset."""
        if not math.isfinite(strength) or strength < 0:
            raise ValueError(f"strength must be a finite number >= 0, got {strength}")
        d, s = self._default, strength
        brightness = 1.0 + 0.08 * s * rng.standard_normal()
        balance = 1.0 + 0.05 * s * rng.standard_normal(3)
        glow = d.glow * np.clip(1.0 + 0.25 * s * rng.standard_normal(3), 0.2, 2.0)
        led_xy = d.led_xy + 0.1 * s * rng.standard_normal((3, 2))
        vignette = d.vignette * max(0.0, 1.0 + 0.3 * s * rng.standard_normal())
        offset = d.offset_rgb + 3.0 * s * rng.standard_normal(3)
        self._set_background(
            replace(
                d,
                base_rgb=d.base_rgb * brightness * balance,
                glow=glow,
                led_xy=led_xy,
                vignette=min(vignette, 0.9),
                offset_rgb=offset,
            )
        )

    def _default_background(self, p: TactileProfile) -> _Background:
        azimuth = np.deg2rad(p.light_azimuth_deg)
        return _Background(
            base_rgb=np.asarray(p.background_rgb, dtype=np.float64),
            glow=np.full(3, p.led_glow),
            led_xy=np.stack([np.cos(azimuth), np.sin(azimuth)], axis=-1),
            vignette=p.vignette,
            offset_rgb=np.zeros(3),
        )

    def _set_background(self, b: _Background) -> None:
        colours = np.asarray(self.profile.light_rgb, dtype=np.float64)  # (3 lights, RGB)
        r2 = (self._xy**2).sum(axis=-1)  # (H, W)
        image = b.base_rgb * (1.0 - b.vignette * r2)[..., None] + b.offset_rgb
        width2 = 2.0 * self.profile.led_glow_width**2
        for k in range(3):
            dist2 = ((self._xy - b.led_xy[k]) ** 2).sum(axis=-1)
            image = image + (b.glow[k] * np.exp(-dist2 / width2))[..., None] * colours[k]
        self._background = np.clip(image, 0.0, 255.0).astype(np.float32)
        layer = self._background
        if self._marker_mask is not None:
            layer = layer * self._marker_mask[..., None]
        self.reference = _to_uint8(layer.copy())
        self.reference.flags.writeable = False  # shared by every no-contact read: copy to edit

    def _markers(self) -> F32:
        """(H, W) transmission of the marker layer at rest: 1 - darkness inside a dot.

        Drawn at a resolution fine enough to resolve the dots (pixel <= radius / 3), then
        area-averaged down, so every dot has the same weight in small images.
        """
        p = self.profile
        rows, cols = p.marker_grid
        area_h, area_w = p.sensing_area_m
        fine = max(1, math.ceil(3.0 * max(self.pixel_pitch_m) / p.marker_radius_m))
        h, w = self.height * fine, self.width * fine
        pitch_y, pitch_x = area_h / h, area_w / w
        y = (np.arange(h) + 0.5) * pitch_y  # metres from the top edge
        x = (np.arange(w) + 0.5) * pitch_x
        step_y, step_x = area_h / rows, area_w / cols
        # distance to the nearest dot centre, dots at ((i + 0.5) * step)
        dy = (y - (np.clip(np.floor(y / step_y), 0, rows - 1) + 0.5) * step_y)[:, None]
        dx = (x - (np.clip(np.floor(x / step_x), 0, cols - 1) + 0.5) * step_x)[None, :]
        dist = np.sqrt(dx**2 + dy**2)  # (h, w) metres
        edge = max(pitch_x, pitch_y, p.gel_blur_m)  # soft edge: the gel blurs the print a little
        cover = np.clip((p.marker_radius_m - dist) / edge + 0.5, 0.0, 1.0)
        layer = np.asarray(1.0 - p.marker_darkness * cover, dtype=np.float32)
        if fine == 1:
            return layer
        small = cv2.resize(layer, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return np.asarray(small, dtype=np.float32)

    # ------------------------------------------------------------------ per frame
    def render(self, depth: F32, displacement: F32) -> Image:
        """Image of indentation grid `depth` (gh, gw) metres, markers moved by `displacement`.

        `displacement` (gh, gw, 2): the gel surface's in-plane motion along image x and y, metres.

        Only pixels within reach of the contact (4 sigma of the gel blur, and of the marker
        spread with markers on) are shaded; all others are the reference frame, bit for bit.
        """
        p = self.profile
        pitch_y, pitch_x = self.grid_pitch_m
        blur = (p.gel_blur_m / pitch_x, p.gel_blur_m / pitch_y)  # sigmas in cells (x, y)
        spread = (p.shear_spread_m / pitch_x, p.shear_spread_m / pitch_y)
        image = self.reference.copy()
        rows, cols = np.flatnonzero(depth.any(axis=1)), np.flatnonzero(depth.any(axis=0))
        if rows.size == 0:
            return image
        reach = (spread if self.markers else blur, blur)
        margin = 2 + math.ceil(4.0 * max(*reach[0], *reach[1]))  # cells
        r0, r1 = _pixel_span(rows[0] - margin, rows[-1] + margin, self.grid[0], self.height)
        c0, c1 = _pixel_span(cols[0] - margin, cols[-1] + margin, self.grid[1], self.width)

        gel = blur_cells(depth, *blur)
        hx, hy = slopes(gel, pitch_x, pitch_y)
        inv = 1.0 / np.sqrt(1.0 + hx * hx + hy * hy)
        features = np.stack([hx * inv, hy * inv, inv - 1.0, gel], axis=-1)  # (gh, gw, 4)
        delta = (features @ self._feature_to_rgb).astype(np.float32)  # (gh, gw, 3)
        # Upsampling the whole grid with cv2.resize is cheaper than remapping just the region.
        size = (self.width, self.height)
        up = cv2.resize(delta, size, interpolation=cv2.INTER_LINEAR)  # (H, W, 3)
        region = self._background[r0:r1, c0:c1] + up[r0:r1, c0:c1]  # float32 grey levels
        if self._marker_mask is not None:
            pitch = np.array(self.pixel_pitch_m[::-1], np.float32)  # (x, y) metres per pixel
            pixels = (displacement / pitch).astype(np.float32)  # (gh, gw, 2)
            move = cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)[r0:r1, c0:c1]
            move_x, move_y = move[..., 0], move[..., 1]
            layer = cv2.remap(
                self._marker_mask,
                self._pixel_x[r0:r1, c0:c1] - move_x,  # backward warp: where the dot now
                self._pixel_y[r0:r1, c0:c1] - move_y,  # seen at each pixel sat at rest
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            region = np.asarray(
                cv2.multiply(region, cv2.cvtColor(layer, cv2.COLOR_GRAY2RGB)), dtype=np.float32
            )
        image[r0:r1, c0:c1] = _to_uint8(region)
        return image

    def add_noise(self, image: Image, rng: np.random.Generator) -> Image:
        """`image` plus Gaussian noise of `noise_std` grey levels drawn from `rng`.

        The noise comes in whole grey levels from an inverse-CDF table indexed by random
        integers (about twice as fast as drawing normal floats), truncated at +-3.4 sigma.
        """
        if self._noise_table is None:
            spread = NormalDist(0.0, self.profile.noise_std)
            quantiles = (np.arange(_NOISE_LEVELS) + 0.5) / _NOISE_LEVELS
            self._noise_table = np.rint([spread.inv_cdf(q) for q in quantiles]).astype(np.int16)
        index = rng.integers(0, _NOISE_LEVELS, size=image.shape, dtype=np.uint16)
        noisy = image.astype(np.int16)
        noisy += self._noise_table[index]
        np.clip(noisy, 0, 255, out=noisy)
        return noisy.astype(np.uint8)


def shading_matrix(p: TactileProfile) -> F32:
    """(4, 3): features (h_x/N, h_y/N, 1/N - 1, h) -> change of RGB in grey levels."""
    azimuth = np.deg2rad(p.light_azimuth_deg)
    elevation = np.deg2rad(p.light_elevation_deg)
    colours = np.asarray(p.light_rgb, dtype=np.float64)  # (3 lights, RGB)
    lx, ly = np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth)
    matrix = np.stack(
        [
            -p.light_gain * lx @ colours,
            -p.light_gain * ly @ colours,
            p.light_gain * np.sin(elevation) * colours.sum(axis=0),
            np.full(3, -p.depth_darkening / p.gel_thickness_m),
        ]
    )
    return matrix.astype(np.float32)


def _pixel_span(first: int, last: int, n_grid: int, n_pixels: int) -> tuple[int, int]:
    """Pixel range [start, stop) whose bilinear samples touch grid cells [first, last]."""
    scale = n_pixels / n_grid
    start = math.floor((first - 1 + 0.5) * scale - 0.5)
    stop = math.ceil((last + 1 + 0.5) * scale - 0.5) + 1
    return max(0, start), min(n_pixels, stop)


def _to_uint8(image: F32) -> Image:
    """Round to nearest and saturate to uint8 (negative values to 0)."""
    _, positive = cv2.threshold(image, 0.0, 0.0, cv2.THRESH_TOZERO)
    return np.asarray(cv2.convertScaleAbs(positive), dtype=np.uint8)
