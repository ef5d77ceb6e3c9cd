"""`TactileSensor`: exact reference without contact, contact geometry, markers, noise, errors."""

from __future__ import annotations

import itertools
import math

import cv2
import mujoco
import numpy as np
import pytest
from pydantic import ValidationError

from sim.gel import hertz_force
from sim.tactile import (
    PROFILES,
    TactileProfile,
    TactileReading,
    TactileSensor,
    pad_normal_force,
    profile,
)
from sim.tactile_gallery import SQUARE, press, rig_xml

SPHERE_R = 0.004
SPHERE = f'<geom type="sphere" size="{SPHERE_R}" pos="0 0 {SPHERE_R}"/>'
# A 40 mm bar of square section lying on one edge, the edge along the site's x (image columns).
EDGE = '<geom type="box" size="0.02 0.004 0.004" pos="0 0 0.005657" quat="0.92388 0.382683 0 0"/>'


def rig(probe: str, mass: float = 0.4) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """The gallery's press rig: a fixed pad (face z = 0, site `pad`) and a probe above it."""
    model = mujoco.MjModel.from_xml_string(rig_xml(probe, mass))
    return model, mujoco.MjData(model)


def hold(
    sensor: TactileSensor,
    model: mujoco.MjModel,
    data: mujoco.MjData,
    gap: float,
    rng: np.random.Generator | None = None,
) -> TactileReading:
    """Probe's lowest point held `gap` in front of the face (no contact); read."""
    mujoco.mj_resetData(model, data)
    data.qpos[2] = gap
    mujoco.mj_forward(model, data)
    return sensor.read(model, data, rng)


def sphere_depth(force: float, radius: float = SPHERE_R) -> float:
    """Indentation at which the gel's foundation law carries `force` under a sphere."""
    k = PROFILES["gelsight_mini"].gel.normal_stiffness * math.pi
    roots = np.roots([-k / 3, k * radius, 0.0, -force])  # k pi d^2 (R - d/3) = force
    return float(min(r.real for r in roots if abs(r.imag) < 1e-12 and 0 < r.real < radius))


@pytest.fixture(scope="module")
def sphere() -> tuple[mujoco.MjModel, mujoco.MjData]:
    return rig(SPHERE)


def sensor_for(
    model: mujoco.MjModel, name: str = "gelsight_mini", **kwargs: object
) -> TactileSensor:
    return TactileSensor(model, "pad", "pad", name, **kwargs)  # type: ignore[arg-type]


def pixel_of(sensor: TactileSensor, x: float, y: float) -> tuple[float, float]:
    """(row, col) of site-frame point (x, y) metres, pixel centres at integers."""
    area_h, area_w = sensor.profile.sensing_area_m
    pitch_r, pitch_c = sensor.pixel_pitch_m
    return (y + area_h / 2) / pitch_r - 0.5, (x + area_w / 2) / pitch_c - 0.5


def mask_moments(sensor: TactileSensor, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (row, col) in pixels and the 2x2 covariance (x, y) in metres of a mask."""
    rows, cols = np.nonzero(mask)
    pitch_r, pitch_c = sensor.pixel_pitch_m
    xy = np.stack([cols * pitch_c, rows * pitch_r])
    return np.array([rows.mean(), cols.mean()]), np.cov(xy)


@pytest.mark.parametrize("name", sorted(PROFILES))
@pytest.mark.parametrize("markers", [False, True])
def test_no_contact_gives_exactly_the_reference(
    sphere: tuple[mujoco.MjModel, mujoco.MjData], name: str, markers: bool
) -> None:
    model, data = sphere
    sensor = sensor_for(model, name, markers=markers)
    for gap in (0.02, 0.0002):
        reading = hold(sensor, model, data, gap)
        np.testing.assert_array_equal(reading.image, sensor.reference)
        assert reading.image is not sensor.reference  # a copy: callers may keep or modify it
        assert reading.depth.shape == sensor.image_size and not reading.depth.any()
        assert reading.normal_force == 0.0 and not reading.shear_force.any()
    assert sensor.reference.shape == (*PROFILES[name].image_size, 3)


def test_markers_are_in_the_reference_at_rest(sphere: tuple[mujoco.MjModel, mujoco.MjData]) -> None:
    model, _ = sphere
    plain = sensor_for(model, markers=False).reference.astype(int)
    dotted = sensor_for(model, markers=True).reference.astype(int)
    dark = (plain - dotted).max(axis=-1) > 40  # (H, W) marker pixels
    rows, cols = PROFILES["gelsight_mini"].marker_grid
    assert 0.01 < dark.mean() < 0.2
    count, _ = cv2.connectedComponents(dark.astype(np.uint8))
    assert count - 1 == rows * cols  # one blob per dot (label 0 is the background)


def test_harder_press_gives_deeper_and_larger_contact(
    sphere: tuple[mujoco.MjModel, mujoco.MjData],
) -> None:
    model, data = sphere
    sensor = sensor_for(model)
    areas, changed, depths = [], [], []
    for force in (0.1, 0.3, 0.6, 1.0, 1.5):
        reading = press(sensor, model, data, force)
        assert reading.normal_force == pytest.approx(force, rel=1e-3)  # at rest: it balances
        areas.append(int((reading.depth > 0).sum()))
        changed.append(int(np.any(reading.image != sensor.reference, axis=-1).sum()))
        depths.append(float(reading.depth.max()))
        # the gel's law, not the simulator's penetration, sets the depth
        assert depths[-1] == pytest.approx(sphere_depth(force), rel=0.05)
    assert areas[0] > 0 and all(b > a for a, b in itertools.pairwise(areas)), areas
    assert all(b > a for a, b in itertools.pairwise(changed)), changed
    assert all(b > a > 0 for a, b in itertools.pairwise(depths)), depths


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_sphere_contact_is_round_and_centred_on_the_sphere(
    sphere: tuple[mujoco.MjModel, mujoco.MjData], name: str
) -> None:
    model, data = sphere
    sensor = sensor_for(model, name)
    x, y = 0.003, -0.002
    reading = press(sensor, model, data, 1.0, xy_m=(x, y))
    depth = float(reading.depth.max())
    centre, cov = mask_moments(sensor, reading.depth > 0)
    np.testing.assert_allclose(centre, pixel_of(sensor, x, y), atol=1.5)
    major, minor = np.sqrt(np.linalg.eigvalsh(cov))[::-1]
    assert major / minor < 1.1
    # contact radius of a sphere pressed `depth` into a flat face: sqrt(2 R d - d^2)
    radius = math.sqrt((reading.depth > 0).sum() * np.prod(sensor.pixel_pitch_m) / math.pi)
    assert radius == pytest.approx(math.sqrt(2 * SPHERE_R * depth - depth**2), rel=0.12)
    assert depth == pytest.approx(sphere_depth(1.0), rel=0.05)
    # the image changes around the contact and nowhere far from it
    changed = np.any(reading.image != sensor.reference, axis=-1)
    np.testing.assert_allclose(mask_moments(sensor, changed)[0], centre, atol=3.0)
    row, col = pixel_of(sensor, x, y)
    far = 4 * radius / min(sensor.pixel_pitch_m)
    rr, cc = np.mgrid[: sensor.image_size[0], : sensor.image_size[1]]
    assert not changed[np.hypot(rr - row, cc - col) > far].any()


def test_edge_contact_is_elongated_along_the_edge() -> None:
    model, data = rig(EDGE)
    sensor = sensor_for(model)
    reading = press(sensor, model, data, 2.0)
    _, cov = mask_moments(sensor, reading.depth > 0)
    values, vectors = np.linalg.eigh(cov)
    assert math.sqrt(values[1] / values[0]) > 4.0
    assert abs(vectors[0, 1]) > 0.99  # the long axis is x: along the image columns


def test_depth_is_clipped_to_the_gel(sphere: tuple[mujoco.MjModel, mujoco.MjData]) -> None:
    model, data = sphere
    sensor = sensor_for(model, "digit")
    gel = sensor.profile.gel_thickness_m
    reading = press(sensor, model, data, 8.0)  # the foundation law alone would say more
    assert reading.depth.dtype == np.float32
    assert sphere_depth(8.0) > 1.2 * gel
    assert reading.depth.min() >= 0.0 and reading.depth.max() == pytest.approx(gel)


def test_normal_force_is_positive_in_contact_and_matches_the_pad_sum(
    sphere: tuple[mujoco.MjModel, mujoco.MjData],
) -> None:
    model, data = sphere
    sensor = sensor_for(model)
    reading = press(sensor, model, data, 1.0)
    pad = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "pad")
    assert reading.normal_force > 0.1
    assert reading.normal_force == pytest.approx(pad_normal_force(model, data, pad))
    assert np.abs(reading.shear_force).max() < 1e-6 * reading.normal_force + 1e-9


@pytest.mark.parametrize("push", [(1.5, 0.0), (0.0, 1.5), (-1.0, -1.0)])
def test_markers_move_with_the_shear_force(
    sphere: tuple[mujoco.MjModel, mujoco.MjData], push: tuple[float, float]
) -> None:
    model, data = sphere
    dotted, plain = sensor_for(model, markers=True), sensor_for(model, markers=False)

    def dots(push: tuple[float, float]) -> tuple[np.ndarray, TactileReading]:
        """(n, 2) centroids (x, y) in pixels of the marker dots, and the reading."""
        reading = press(dotted, model, data, 2.0, push_n=push)
        shaded = press(plain, model, data, 2.0, push_n=push).image.astype(float).sum(-1)
        dark = reading.image.astype(float).sum(-1) < 0.6 * shaded  # (H, W) marker pixels
        _, _, _, centroids = cv2.connectedComponentsWithStats(dark.astype(np.uint8))
        return np.asarray(centroids[1:], dtype=float), reading

    rest, _ = dots((0.0, 0.0))
    moved, reading = dots(push)
    # the pad feels the probe's push (static friction holds it)
    tolerance = 0.05 * float(np.linalg.norm(push))
    np.testing.assert_allclose(reading.shear_force, np.asarray(push), atol=tolerance)
    row, col = pixel_of(dotted, 0.0, 0.0)
    inside = rest[np.hypot(rest[:, 0] - col, rest[:, 1] - row) < 40]  # dots on the contact
    far = rest[np.hypot(rest[:, 0] - col, rest[:, 1] - row) > 120]
    assert len(inside) >= 3

    def shift_of(points: np.ndarray) -> np.ndarray:
        """Mean (x, y) pixel shift of `points` to their nearest dot after the push."""
        nearest = np.linalg.norm(points[:, None] - moved[None], axis=-1).argmin(axis=1)
        return np.asarray((moved[nearest] - points).mean(axis=0))

    shift = shift_of(inside)
    direction = np.asarray(push) / np.linalg.norm(push)
    assert shift @ direction > 2.0, shift
    assert abs(shift @ np.array([-direction[1], direction[0]])) < 0.3 * (shift @ direction)
    assert np.abs(shift_of(far)).max() < 0.1  # dots far from the contact stay put


def test_noise_is_seeded_and_only_with_an_rng(sphere: tuple[mujoco.MjModel, mujoco.MjData]) -> None:
    model, data = sphere
    sensor = sensor_for(model, "digit")
    a = hold(sensor, model, data, 0.01, rng=np.random.default_rng(5)).image
    b = hold(sensor, model, data, 0.01, rng=np.random.default_rng(5)).image
    c = hold(sensor, model, data, 0.01, rng=np.random.default_rng(6)).image
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    noise = a.astype(float) - sensor.reference
    assert noise.std() == pytest.approx(sensor.profile.noise_std, rel=0.15)
    assert abs(noise.mean()) < 0.1
    np.testing.assert_array_equal(hold(sensor, model, data, 0.01).image, sensor.reference)
    quiet = sensor_for(model, "digit", noise=False)
    reading = hold(quiet, model, data, 0.01, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(reading.image, quiet.reference)


def test_reference_randomisation_is_seeded_and_resettable(
    sphere: tuple[mujoco.MjModel, mujoco.MjData],
) -> None:
    model, data = sphere
    first, second = sensor_for(model), sensor_for(model)
    default = first.reference.copy()
    first.randomize_reference(np.random.default_rng(1))
    second.randomize_reference(np.random.default_rng(1))
    np.testing.assert_array_equal(first.reference, second.reference)
    assert np.abs(first.reference.astype(int) - default).mean() > 1.0
    second.randomize_reference(np.random.default_rng(2))
    assert not np.array_equal(first.reference, second.reference)
    np.testing.assert_array_equal(hold(first, model, data, 0.01).image, first.reference)
    first.randomize_reference(np.random.default_rng(3), strength=0.0)
    np.testing.assert_array_equal(first.reference, default)
    second.reset_reference()
    np.testing.assert_array_equal(second.reference, default)
    with pytest.raises(ValueError, match="strength"):
        first.randomize_reference(np.random.default_rng(0), strength=-1.0)


def test_reference_is_smooth_and_not_flat(sphere: tuple[mujoco.MjModel, mujoco.MjData]) -> None:
    for name in PROFILES:
        reference = sensor_for(sphere[0], name, markers=False).reference.astype(int)
        assert np.abs(np.diff(reference, axis=0)).max() <= 3
        assert np.abs(np.diff(reference, axis=1)).max() <= 3
        assert reference.std() > 3.0 and 60 < reference.mean() < 200


@pytest.mark.parametrize(("name", "shape"), [("gelsight_mini", (240, 320)), ("digit", (320, 240))])
def test_native_and_custom_image_sizes(
    sphere: tuple[mujoco.MjModel, mujoco.MjData], name: str, shape: tuple[int, int]
) -> None:
    model, data = sphere
    assert PROFILES[name].image_size == shape
    for size in (None, (32, 32), (64, 48)):
        sensor = sensor_for(model, name, image_size=size)
        reading = press(sensor, model, data, 1.0)
        expected = shape if size is None else size
        assert reading.image.shape == (*expected, 3) and reading.image.dtype == np.uint8
        assert reading.depth.shape == expected
        changed = np.any(reading.image != sensor.reference, axis=-1)
        centre, _ = mask_moments(sensor, changed)
        np.testing.assert_allclose(centre, pixel_of(sensor, 0.0, 0.0), atol=0.05 * max(expected))


def test_bad_names_and_sizes_are_refused(sphere: tuple[mujoco.MjModel, mujoco.MjData]) -> None:
    model, _ = sphere
    with pytest.raises(ValueError, match=r"unknown tactile profile 'gelsight'.*digit"):
        profile("gelsight")
    with pytest.raises(ValueError, match="unknown tactile profile"):
        sensor_for(model, "nope")
    for size in ((0, 32), (32,), (32.5, 32), (32, 10_000), (True, 32)):
        with pytest.raises(ValueError, match="image_size must be"):
            sensor_for(model, image_size=size)
    with pytest.raises(ValueError, match="depth_grid must be"):
        sensor_for(model, depth_grid=(0, 4))
    with pytest.raises(ValueError, match="no site named 'nope'"):
        TactileSensor(model, "nope", "pad", "digit")
    with pytest.raises(ValueError, match="no geom named 'nope'"):
        TactileSensor(model, "pad", "nope", "digit")


def test_profiles_are_frozen_and_strict() -> None:
    mini = profile("gelsight_mini")
    assert mini.frame_budget_ms == pytest.approx(40.0)
    assert profile("digit").frame_budget_ms == pytest.approx(1000 / 60)
    assert mini.markers and not profile("digit").markers
    area_h, area_w = mini.sensing_area_m
    assert area_h == pytest.approx(0.0152, abs=1e-4) and area_w == pytest.approx(0.0203, abs=1e-4)
    with pytest.raises(ValidationError):
        mini.gel_thickness_m = 0.001  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        TactileProfile.model_validate({**mini.model_dump(), "colour": 1})
    with pytest.raises(ValidationError, match="gel_thickness_m"):
        TactileProfile.model_validate({**mini.model_dump(), "gel_thickness_m": -1.0})


def test_force_at_a_given_depth_does_not_depend_on_the_pressing_mass() -> None:
    """A 10 mm sphere of 0.04, 0.4 and 4 kg pressed to 0.5 mm: the same force, the gel's.

    Each probe is pressed with a sweep of forces; the force at 0.5 mm is read off its measured
    depth-force curve. MuJoCo's own contact pushes back 100x harder on the 4 kg probe than on
    the 40 g one at the same penetration; the gel law (Hertz-calibrated at exactly this press)
    must not.
    """
    radius, target = 0.005, 0.0005
    sweep = (0.2, 0.3, 0.4, 0.5, 0.6)  # N
    forces = []
    for mass in (0.04, 0.4, 4.0):
        model, data = rig(f'<geom type="sphere" size="{radius}" pos="0 0 {radius}"/>', mass)
        sensor = sensor_for(model)
        readings = [press(sensor, model, data, force) for force in sweep]
        depths = [float(r.depth.max()) for r in readings]
        assert all(b > a for a, b in itertools.pairwise(depths)), depths
        assert depths[0] < target < depths[-1]
        forces.append(float(np.interp(target, depths, [r.normal_force for r in readings])))
    assert max(forces) / min(forces) < 1.1, forces
    hertz = hertz_force(3e5, 0.49, radius, target)  # the calibration point of sim.gel
    np.testing.assert_allclose(forces, hertz, rtol=0.1)


@pytest.mark.parametrize("torque", [0.006, -0.006])
def test_markers_turn_with_a_torsional_contact(torque: float) -> None:
    model, data = rig(SQUARE)
    dotted, plain = sensor_for(model, markers=True), sensor_for(model, markers=False)

    def dots(torque: float) -> tuple[np.ndarray, TactileReading]:
        """(n, 2) centroids (x, y) in pixels of the marker dots, and the reading."""
        reading = press(dotted, model, data, 3.0, torque_nm=torque)
        shaded = press(plain, model, data, 3.0, torque_nm=torque).image.astype(float).sum(-1)
        dark = reading.image.astype(float).sum(-1) < 0.6 * shaded  # (H, W) marker pixels
        _, _, _, centroids = cv2.connectedComponentsWithStats(dark.astype(np.uint8))
        return np.asarray(centroids[1:], dtype=float), reading

    rest, _ = dots(0.0)
    moved, reading = dots(torque)
    assert reading.torque == pytest.approx(torque, rel=0.1)  # friction holds the twist
    assert not reading.slip and np.abs(reading.shear_force).max() < 0.05
    row, col = pixel_of(dotted, 0.0, 0.0)
    offsets = rest - (col, row)  # (n, 2) from the square's centre, pixels (x, y)
    distance = np.hypot(*offsets.T)
    inside = (distance > 3.0) & (distance < 0.0035 / dotted.pixel_pitch_m[1])  # under the square
    assert inside.sum() >= 4
    nearest = np.linalg.norm(rest[inside, None] - moved[None], axis=-1).argmin(axis=1)
    shift = moved[nearest] - rest[inside]  # (k, 2) pixels
    r = offsets[inside]
    turn = (r[:, 0] * shift[:, 1] - r[:, 1] * shift[:, 0]) / np.hypot(*r.T) ** 2  # rad per dot
    radial = (r * shift).sum(axis=1) / np.hypot(*r.T)
    assert np.sign(turn).tolist() == [np.sign(torque)] * len(turn), turn
    assert abs(turn.mean()) > 0.02  # about 0.04 rad for this gel and torque
    assert np.abs(radial).max() < 0.5 * np.abs(turn * np.hypot(*r.T)).mean()


def test_slip_when_the_push_exceeds_friction() -> None:
    model, data = rig(SQUARE)
    sensor = sensor_for(model, markers=True)
    mu, normal = 1.5, 2.0  # the pad's friction; the press
    held = press(sensor, model, data, normal, push_n=(2.0, 0.0))
    assert not held.slip and held.shear_force[0] == pytest.approx(2.0, rel=0.05)
    press(sensor, model, data, normal, push_n=(4.0, 0.0), settle_s=0.1)
    sliding = []
    for _ in range(40):  # the square slides over the gel (MuJoCo's sliding contact chatters)
        mujoco.mj_step(model, data)
        reading = sensor.read(model, data)
        if reading.normal_force > 0:
            sliding.append(reading)
    assert len(sliding) > 20 and data.qvel[0] > 1e-3
    assert all(r.slip for r in sliding)
    for reading in sliding:
        assert reading.shear_force[0] == pytest.approx(mu * reading.normal_force, rel=0.05)
        # the gel stops at the stick limit: the markers move as far as friction lets them
        assert held.displacement is not None and reading.displacement is not None
        ratio = np.abs(reading.displacement).max() / np.abs(held.displacement).max()
        assert ratio == pytest.approx(reading.shear_force[0] / held.shear_force[0], rel=0.2)
