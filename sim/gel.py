"""The gel of a GelSight-style pad: a thin elastic layer on a rigid window (`GelLayer`).

Why the gel is modelled here and not in MuJoCo's contact: MuJoCo resolves contacts with soft
constraints whose force for a given penetration scales with the effective mass of the bodies in
contact. A 10 mm sphere held 0.8 mm into a fixed pad pushes back 0.29 / 2.9 / 29 N at
probe masses 0.04 / 0.4 / 4 kg with `solref="0.01 1"`, and the "direct" form (negative `solref`,
stiffness and damping) is per unit of constraint-space mass too: 0.058 / 0.58 / 5.8 N with
`solref="-2000 -10"` (tests/sim/test_gel.py measures both). So the penetration is not the
gel's indentation. The rigid-body solver
gives the force a pad transmits (what the grip, gravity and the contacts balance), and the gel
law below turns that force and the object's shape into an indentation, independently of any
body's mass.

Model (thin layer, small strains, rigid indenter; Johnson, "Contact Mechanics", 1985, ch. 5 on
the elastic foundation):
- Normal: the layer is an elastic foundation, pressure p = k_n * delta at each point of the
  face indented by delta. The object's surface is pressed in as a rigid body: delta(x, y) =
  max(0, s(x, y) + c + g . r), with s the object's surface behind the undeformed face, the
  offset c chosen so that the pressure integrates to the pad's normal force and the tilt g
  (given the contacts' centre of pressure) so that its centroid lies there: an off-centre load
  tilts the object in the gel.
- k_n is calibrated so that a 10 mm sphere (R = 5 mm) pressed 0.5 mm carries the Hertz force
  F = 4/3 E* sqrt(R) d^1.5 of a GelSight-class silicone, E = 0.3 MPa and nu = 0.49
  (E* = E / (1 - nu^2) = 0.39 MPa, inside the few-tenths-of-a-MPa range given for such gels;
  not measured on a real gel here): 0.42 N. The foundation gives F = k_n pi d^2 (R - d/3)
  for a sphere, so it is 0.72x Hertz at 0.25 mm and 1.37x at 1 mm; unlike Hertz it scales
  with contact area, which is what keeps a flat face gripped at 10 N from sinking through a
  2 mm gel. For comparison, E / h for a 2 mm layer is 1.5e8 N/m^3, 1.4x the calibrated k_n.
- Shear and torsion: under a tangential force F_t and a torque T about the pad normal, the
  contact patch moves rigidly, u = F_t / (k_t A) and theta = T / (k_t J), with k_t = G / h
  (G = E / (2 (1 + nu))) and the patch's area A and polar moment J taken over the contact grown
  by one layer thickness on every side (a thin layer spreads shear around a small contact).
  MuJoCo's friction cone caps F_t at mu N, so the markers stop at the stick limit and the
  object slides past them: slip.
- The surface's in-plane displacement field (what the markers show) is that rigid patch motion,
  weighted by the contact mask blurred over `spread` (1 inside the patch, fading outside it),
  plus an outward bulge around the indentation (the nearly incompressible gel is pushed aside).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# Calibration point: a 10 mm sphere pressed 0.5 mm follows Hertz for this silicone.
REFERENCE_RADIUS_M = 0.005
REFERENCE_DEPTH_M = 0.0005


def hertz_force(modulus_pa: float, poisson: float, radius_m: float, depth_m: float) -> float:
    """Hertz force (N): rigid sphere of `radius_m` pressed `depth_m` into an elastic half-space."""
    effective = modulus_pa / (1.0 - poisson**2)
    return float(4.0 / 3.0 * effective * math.sqrt(radius_m) * depth_m**1.5)


def sphere_cap_volume(radius_m: float, depth_m: float) -> float:
    """Volume (m^3) of the cap a sphere of `radius_m` sinks `depth_m` below a plane."""
    return math.pi * depth_m**2 * (radius_m - depth_m / 3.0)


@dataclass(frozen=True)
class GelLayer:
    """A thin elastomer layer: Young's modulus (Pa), Poisson's ratio, thickness (m)."""

    modulus_pa: float
    poisson: float
    thickness_m: float

    @property
    def normal_stiffness(self) -> float:
        """k_n (N/m^3): foundation pressure per metre of indentation, Hertz-calibrated."""
        force = hertz_force(self.modulus_pa, self.poisson, REFERENCE_RADIUS_M, REFERENCE_DEPTH_M)
        return force / sphere_cap_volume(REFERENCE_RADIUS_M, REFERENCE_DEPTH_M)

    @property
    def shear_stiffness(self) -> float:
        """k_t = G / h (N/m^3): shear traction per metre of tangential displacement."""
        shear_modulus = self.modulus_pa / (2.0 * (1.0 + self.poisson))
        return shear_modulus / self.thickness_m

    def indentation(
        self,
        surface: F32,
        force_n: float,
        cell_m: tuple[float, float],
        centre_m: F64 | None = None,
    ) -> F32:
        """(gh, gw) indentation (m) that carries `force_n` for the object surface `surface`.

        `surface` (gh, gw): how far the object's surface lies behind the undeformed face (m;
        negative in front of it, -inf where nothing is in reach); cell_m: (row, column) pitch.
        The object is pressed in rigidly: delta = max(0, surface + c + g . r), with c such that
        k_n * cell_area * sum(delta) = force_n and, when `centre_m` (2,) is given (the centre of
        pressure, metres from the grid's top-left corner, x and y), the tilt g (at most
        `MAX_TILT`) that puts the pressure's centroid there: an off-centre load tilts the object
        in the gel. Then clipped to the layer's thickness (a press that bottoms out the gel
        carries more force than the foundation law gives). No force: no indentation.
        """
        out = np.zeros(surface.shape, dtype=np.float32)
        seen = np.isfinite(surface)
        if force_n <= 0.0 or not seen.any():
            return out
        heights = surface[seen].astype(np.float64)
        volume = force_n / (self.normal_stiffness * cell_m[0] * cell_m[1])  # sum of delta
        offset = _water_line(heights, volume)
        if centre_m is not None:
            rows, cols = np.nonzero(seen)
            r = np.stack([(cols + 0.5) * cell_m[1], (rows + 0.5) * cell_m[0]], axis=1)
            heights, offset = _tilted(heights, volume, offset, r - np.asarray(centre_m))
        depth = np.zeros(surface.shape, dtype=np.float64)
        depth[seen] = heights + offset
        np.clip(depth, 0.0, self.thickness_m, out=depth)
        out[...] = depth
        return out

    def patch_motion(
        self, depth: F32, cell_m: tuple[float, float], shear_n: F64, torque_nm: float
    ) -> tuple[F64, float]:
        """Rigid motion of the contact patch: (shift (2,) m along image x and y, rotation rad).

        depth: (gh, gw) indentation; cell_m: (row, column) pitch of the grid; shear_n: (2,)
        tangential force on the gel along image x and y (N); torque_nm: torque about the pad
        normal at the contact's centre of pressure (N m).
        """
        pitch_y, pitch_x = cell_m
        area = float(np.count_nonzero(depth)) * pitch_x * pitch_y
        if area <= 0.0:
            return np.zeros(2), 0.0
        radius = math.sqrt(area / math.pi) + self.thickness_m  # grown by one layer thickness
        stiffness = self.shear_stiffness
        shift = np.asarray(shear_n, dtype=np.float64) / (stiffness * math.pi * radius**2)
        polar = math.pi / 2.0 * radius**4  # J of a disc
        return shift, float(torque_nm) / (stiffness * polar)

    def displacement(
        self,
        depth: F32,
        cell_m: tuple[float, float],
        shear_n: F64,
        torque_nm: float,
        centre_m: F64,
        spread_m: float,
        bulge: float,
    ) -> F32:
        """(gh, gw, 2) in-plane displacement (m, image x and y) of the gel surface; see above.

        centre_m: (2,) the centre of pressure, metres from the grid's top-left corner (x, y):
        the patch turns about it.
        """
        pitch_y, pitch_x = cell_m
        shift, angle = self.patch_motion(depth, cell_m, shear_n, torque_nm)
        centre = np.asarray(centre_m, dtype=np.float64)
        spread = (spread_m / pitch_x, spread_m / pitch_y)
        weight = blur_cells((depth > 0).astype(np.float32), *spread)
        weight *= 1.0 / max(float(weight.max()), 1e-6)  # 1 where the object holds the gel
        rows, cols = np.indices(depth.shape, dtype=np.float32)
        dx = (cols + 0.5) * pitch_x - centre[0]  # (gh, gw) metres from the patch centre
        dy = (rows + 0.5) * pitch_y - centre[1]
        bulge_x, bulge_y = slopes(blur_cells(depth, *spread), pitch_x, pitch_y)
        push = -bulge * spread_m  # outward: down the slope of the blurred dent
        out = np.empty((*depth.shape, 2), dtype=np.float32)
        out[..., 0] = weight * (shift[0] - angle * dy) + push * bulge_x
        out[..., 1] = weight * (shift[1] + angle * dx) + push * bulge_y
        return out


def blur_cells(grid: F32, sigma_x: float, sigma_y: float) -> F32:
    """Gaussian blur of a grid, sigmas in cells, edges extended (the gel goes on beyond view)."""
    if max(sigma_x, sigma_y) < 0.2:
        return grid
    out = cv2.GaussianBlur(
        grid, (0, 0), sigmaX=sigma_x, sigmaY=sigma_y, borderType=cv2.BORDER_REPLICATE
    )
    return np.asarray(out, dtype=np.float32)


def slopes(grid: F32, pitch_x: float, pitch_y: float) -> tuple[F32, F32]:
    """(d/dx, d/dy) of a grid of heights in metres: dimensionless slopes (3x3 Sobel)."""
    gx = cv2.Sobel(grid, cv2.CV_32F, 1, 0, ksize=3, scale=1.0 / (8.0 * pitch_x))
    gy = cv2.Sobel(grid, cv2.CV_32F, 0, 1, ksize=3, scale=1.0 / (8.0 * pitch_y))
    return np.asarray(gx, dtype=np.float32), np.asarray(gy, dtype=np.float32)


MAX_TILT = 0.15  # rad: the steepest tilt the gel law gives an object under an off-centre load
_TILT_ITERATIONS = 6  # contact-set updates; they settle in two or three


def _water_line(heights: F64, volume: float, guess: NDArray[np.bool_] | None = None) -> float:
    """Offset c with sum(max(0, heights + c)) = volume (> 0): the press of a rigid object.

    With `guess` (which cells are in contact, e.g. from a nearby solution) a few O(n) updates
    usually find it; otherwise, or if they do not settle, the cells are sorted.
    """
    if guess is not None and guess.any():
        active = guess
        for _ in range(4):
            offset = (volume - float(heights[active].sum())) / int(active.sum())
            now = heights + offset > 0.0
            if np.array_equal(now, active):
                return offset
            if not now.any():
                break
            active = now
    ordered = np.sort(heights)[::-1]  # deepest first
    # With the n deepest cells in contact, c = (volume - sum of their heights) / n; the right n
    # is the largest one whose own height is above the water line -c.
    offsets = (volume - np.cumsum(ordered)) / np.arange(1, ordered.size + 1)
    count = int(np.flatnonzero(ordered + offsets > 0.0)[-1]) + 1
    return float(offsets[count - 1])


def _tilted(heights: F64, volume: float, offset: float, r: F64) -> tuple[F64, float]:
    """(heights + g . r, c): the tilt g and offset c that centre the pressure on r = 0.

    heights (n,), r (n, 2) metres from the target centre. Solves the 3 x 3 moment equations on
    the cells in contact, updates which cells are in contact, and repeats; a tilt steeper than
    MAX_TILT is scaled back to it (the centre then lies beyond what the object can reach).
    """
    x, y = r[:, 0], r[:, 1]
    products = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y, heights, heights * x])
    products = np.vstack([products, heights * y])  # (9, n): what the moment sums are made of
    tilt = np.zeros(2)
    active = heights + offset > 0.0
    for _ in range(_TILT_ITERATIONS):
        n, sx, sy, sxx, sxy, syy, sh, shx, shy = products @ active.astype(np.float64)
        moments = np.array([[n, sx, sy], [sx, sxx, sxy], [sy, sxy, syy]])
        rhs = np.array([volume - sh, -shx, -shy])
        try:
            tilt = np.linalg.solve(moments, rhs)[1:]
        except np.linalg.LinAlgError:  # a line contact cannot be tilted about its own axis
            tilt = np.linalg.lstsq(moments, rhs, rcond=None)[0][1:]
        steep = float(np.linalg.norm(tilt))
        if steep > MAX_TILT:
            tilt *= MAX_TILT / steep
        tilted = heights + r @ tilt
        offset = _water_line(tilted, volume, active)
        now = tilted + offset > 0.0
        if np.array_equal(now, active):
            break
        active = now
    return heights + r @ tilt, offset
