"""`GelLayer`: the foundation law's calibration, rigid indenter, force balance, patch motion."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from sim.gel import GelLayer, hertz_force, sphere_cap_volume

GEL = GelLayer(modulus_pa=3e5, poisson=0.49, thickness_m=0.002)
PITCH = 5e-5  # m per grid cell
CELL = PITCH * PITCH


def sphere_surface(radius: float, top: float = 0.0, n: int = 301) -> np.ndarray:
    """(n, n) how far a sphere's surface lies behind the face; its lowest point `top` behind it."""
    coords = (np.arange(n) - (n - 1) / 2) * PITCH
    r2 = coords[None, :] ** 2 + coords[:, None] ** 2
    height = np.where(r2 < radius**2, radius - np.sqrt(np.maximum(radius**2 - r2, 0)), np.inf)
    return (top - height).astype(np.float32)  # -inf beyond the sphere's silhouette


def test_a_10_mm_sphere_follows_hertz_at_the_calibration_point() -> None:
    force = hertz_force(3e5, 0.49, 0.005, 0.0005)
    assert force == pytest.approx(0.4161, abs=1e-3)  # 4/3 E* sqrt(R) d^1.5, E* = 0.395 MPa
    depth = GEL.indentation(sphere_surface(0.005), force, (PITCH, PITCH))
    assert depth.max() == pytest.approx(0.0005, rel=0.01)
    # away from the calibration point the foundation law departs from Hertz as d^2 vs d^1.5
    quarter = GEL.normal_stiffness * sphere_cap_volume(0.005, 0.00025)
    assert quarter / hertz_force(3e5, 0.49, 0.005, 0.00025) == pytest.approx(
        math.sqrt(0.5), rel=0.02
    )


def test_the_object_is_pressed_in_rigidly_and_carries_the_force() -> None:
    surface = sphere_surface(0.004, top=-0.0003)  # 0.3 mm in front of the face: no penetration
    depth = GEL.indentation(surface, 1.0, (PITCH, PITCH))
    touching = depth > 0
    offsets = (depth - surface)[touching]  # one rigid offset under the whole contact
    assert offsets.max() - offsets.min() < 1e-7
    assert GEL.normal_stiffness * CELL * depth.sum() == pytest.approx(1.0, rel=1e-4)
    harder = GEL.indentation(surface, 2.0, (PITCH, PITCH))
    assert harder.max() > depth.max() and (harder > 0).sum() > touching.sum()


def test_no_force_or_nothing_in_reach_gives_no_indentation_and_the_gel_bottoms_out() -> None:
    surface = sphere_surface(0.004)
    assert not GEL.indentation(surface, 0.0, (PITCH, PITCH)).any()
    assert not GEL.indentation(np.full((8, 8), -np.inf, np.float32), 5.0, (PITCH, PITCH)).any()
    assert GEL.indentation(surface, 50.0, (PITCH, PITCH)).max() == pytest.approx(GEL.thickness_m)


def test_patch_shifts_with_shear_and_turns_with_torque() -> None:
    depth = np.zeros((101, 101), np.float32)
    depth[30:71, 40:81] = 0.0004  # a 2 x 2 mm flat patch centred at cell (50, 60)
    shift, angle = GEL.patch_motion(depth, (PITCH, PITCH), np.array([0.5, -0.2]), 0.0)
    radius = math.sqrt(41 * 41 * CELL / math.pi) + GEL.thickness_m
    np.testing.assert_allclose(
        shift, np.array([0.5, -0.2]) / (GEL.shear_stiffness * math.pi * radius**2)
    )
    assert angle == 0.0
    _, angle = GEL.patch_motion(depth, (PITCH, PITCH), np.zeros(2), -0.002)
    assert angle == pytest.approx(-0.002 / (GEL.shear_stiffness * math.pi / 2 * radius**4))
    centre = np.array([60.5, 50.5]) * PITCH  # the patch's centre (x, y), metres
    field = GEL.displacement(depth, (PITCH, PITCH), np.zeros(2), -0.002, centre, 0.0001, bulge=0.0)
    # inside the patch the surface turns rigidly: u = angle * (-dy, dx) about the centre
    turn = abs(angle) * 15 * PITCH  # displacement 15 cells from the centre
    np.testing.assert_allclose(field[50, 75], angle * np.array([0.0, 15 * PITCH]), atol=0.05 * turn)
    np.testing.assert_allclose(field[35, 60], angle * np.array([15 * PITCH, 0.0]), atol=0.05 * turn)
    assert np.abs(field[:, :5]).max() < 0.02 * np.abs(field).max()  # fades far from the patch


def test_an_off_centre_load_tilts_the_object_in_the_gel() -> None:
    flat = np.zeros((101, 101), np.float32)  # a flat face touching the whole grid
    cells = (np.arange(101) + 0.5) * PITCH
    middle = cells[50]
    for target in ((middle, middle), (middle + 0.0003, middle), (middle, middle - 0.00025)):
        depth = GEL.indentation(flat, 2.0, (PITCH, PITCH), np.array(target))
        weight = depth.astype(np.float64)
        centroid = np.array([(weight.sum(0) * cells).sum(), (weight.sum(1) * cells).sum()])
        np.testing.assert_allclose(centroid / weight.sum(), target, atol=0.02 * PITCH)
        assert GEL.normal_stiffness * CELL * weight.sum() == pytest.approx(2.0, rel=1e-4)
    # the object tilts towards the load: deeper on the side of the centre of pressure
    assert depth[5, 50] > depth[95, 50] and depth[50, 5] == pytest.approx(depth[50, 95], rel=1e-3)
    # a sphere pressed where it touches is not tilted
    surface = sphere_surface(0.004)
    centre = np.array([150.5, 150.5]) * PITCH
    np.testing.assert_allclose(
        GEL.indentation(surface, 1.0, (PITCH, PITCH), centre),
        GEL.indentation(surface, 1.0, (PITCH, PITCH)),
        atol=1e-7,
    )


@pytest.mark.parametrize(
    ("solref", "forces"),
    [("0.01 1", (0.29, 2.9, 29.0)), ("-2000 -10", (0.058, 0.58, 5.8))],
)
def test_mujocos_own_contact_force_scales_with_the_pressing_mass(
    solref: str, forces: tuple[float, float, float]
) -> None:
    """Why the gel law exists (the figures docs/sim.md quotes): a 10 mm sphere held 0.8 mm
    into a pad pushes back in proportion to its mass, in both of MuJoCo's solref forms."""
    measured = []
    for mass in (0.04, 0.4, 4.0):
        xml = f"""<mujoco><option timestep="0.002" gravity="0 0 0"/><worldbody>
          <geom type="box" size="0.02 0.02 0.002" pos="0 0 -0.002" solref="{solref}"
                solimp="0.9 0.97 0.002" priority="1"/>
          <body pos="0 0 0.005"><joint type="slide" axis="0 0 1"/>
            <geom type="sphere" size="0.005" mass="{mass}"/></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        data.qpos[0] = -0.0008
        mujoco.mj_forward(model, data)
        wrench = np.zeros(6)
        mujoco.mj_contactForce(model, data, 0, wrench)
        measured.append(float(wrench[0]))
    np.testing.assert_allclose(measured, forces, rtol=0.02)
