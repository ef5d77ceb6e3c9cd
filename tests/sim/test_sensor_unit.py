"""Sensor units: the nominal unit changes nothing, draws stay in range and are reproducible,
and a unit's gel, lights and camera mount change what a press looks like (not its physics
beyond the gel's stiffness)."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from sim.sensor_unit import MAX_SPREAD, SensorUnit, draw_unit, pool_unit
from sim.tactile import PROFILES, TactileSensor
from sim.tactile_gallery import SPHERE, press, rig_xml


@pytest.fixture(scope="module")
def rig() -> tuple[mujoco.MjModel, mujoco.MjData]:
    model = mujoco.MjModel.from_xml_string(rig_xml(SPHERE, 0.4))
    return model, mujoco.MjData(model)


def sensor_of(model: mujoco.MjModel) -> TactileSensor:
    return TactileSensor(model, "pad", "pad", "gelsight_mini", markers=False)


def changed(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(H, W) pixels a press changed by more than 12 levels in any channel."""
    return np.abs(image.astype(int) - reference.astype(int)).max(axis=-1) > 12


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([rows.mean(), cols.mean()])


def test_the_nominal_unit_changes_nothing() -> None:
    unit = SensorUnit()
    base = PROFILES["gelsight_mini"]
    assert unit.nominal and unit.apply(base) is base and unit.mount((60, 80)) is None
    assert draw_unit(np.random.default_rng(0), 0.0) == unit  # spread 0: every draw nominal


def test_draws_stay_within_their_ranges_and_scale_with_the_spread() -> None:
    rng = np.random.default_rng(1)
    units = [draw_unit(rng, 1.0) for _ in range(400)]
    modulus = np.array([u.modulus_scale for u in units])
    turn = np.array([u.turn_deg for u in units])
    shift = np.array([u.shift for u in units])
    assert 0.5 <= modulus.min() < 0.6 and 1.8 < modulus.max() <= 2.0  # log-uniform x0.5..2
    assert abs(float(np.log2(modulus).mean())) < 0.1
    assert -4.0 <= turn.min() < -3.5 and 3.5 < turn.max() <= 4.0
    assert np.abs(shift).max() <= 0.03
    for u in units:
        assert 1 / 1.3 - 1e-9 <= u.gain_scale <= 1.3 + 1e-9
        assert 0.75 <= u.marker_scale <= 1.25 and abs(u.elevation_deg) <= 5.0
    wide = draw_unit(np.random.default_rng(1), 2.0)
    narrow = draw_unit(np.random.default_rng(1), 1.0)
    # the same uniform draws, twice the deviation: log-ranges in the exponent
    assert math.log(wide.modulus_scale) == pytest.approx(2 * math.log(narrow.modulus_scale))
    assert wide.turn_deg == pytest.approx(2 * narrow.turn_deg)


def test_a_pool_is_reproducible_and_its_units_do_not_depend_on_its_size() -> None:
    assert pool_unit(0, 3, 1.0) == pool_unit(0, 3, 1.0)
    left, right = pool_unit(0, 3, 1.0)
    assert left != right  # two pads: two units
    assert pool_unit(0, 3, 1.0) != pool_unit(0, 4, 1.0)
    assert pool_unit(0, 3, 1.0) != pool_unit(1, 3, 1.0)  # another lab's pool
    assert len(pool_unit(0, 3, 1.0, pads=3)) == 3
    assert pool_unit(0, 3, 1.0, pads=3)[:2] == (left, right)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: draw_unit(np.random.default_rng(0), -0.1),
        lambda: draw_unit(np.random.default_rng(0), MAX_SPREAD + 0.1),
        lambda: draw_unit(np.random.default_rng(0), math.nan),
        lambda: pool_unit(-1, 0, 1.0),
        lambda: pool_unit(0, -1, 1.0),
        lambda: SensorUnit(modulus_scale=0.0),
        lambda: SensorUnit(gain_scale=-1.0),
        lambda: SensorUnit(turn_deg=math.inf),
    ],
)
def test_bad_units_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]


def test_the_mount_turns_and_shifts_about_the_image_centre() -> None:
    matrix = SensorUnit(turn_deg=90.0, shift=(0.1, 0.0)).mount((60, 80))
    assert matrix is not None
    centre = np.array([79 / 2, 59 / 2, 1.0])  # (x, y, 1)
    np.testing.assert_allclose(matrix @ centre, [79 / 2, 59 / 2 + 6.0], atol=1e-9)
    corner = matrix @ np.array([79 / 2 + 10, 59 / 2, 1.0])  # 10 px right of the centre
    # counter-clockwise in the image (y down): right of the centre goes up
    np.testing.assert_allclose(corner, [79 / 2, 59 / 2 + 6.0 - 10], atol=1e-9)


def test_back_to_the_nominal_unit_renders_bit_for_bit_as_before(
    rig: tuple[mujoco.MjModel, mujoco.MjData],
) -> None:
    model, data = rig
    sensor = sensor_of(model)
    before = press(sensor, model, data, 0.8, rng=np.random.default_rng(3)).image
    reference = sensor.reference.copy()
    sensor.set_unit(pool_unit(0, 0, 1.0)[0])
    assert not np.array_equal(sensor.reference, reference)
    sensor.set_unit(SensorUnit())
    np.testing.assert_array_equal(sensor.reference, reference)
    np.testing.assert_array_equal(
        press(sensor, model, data, 0.8, rng=np.random.default_rng(3)).image, before
    )


def test_a_unit_without_contact_reads_its_own_warped_reference(
    rig: tuple[mujoco.MjModel, mujoco.MjData],
) -> None:
    model, data = rig
    sensor = sensor_of(model)
    nominal = sensor.reference.copy()
    sensor.set_unit(SensorUnit(turn_deg=3.0, shift=(0.02, -0.02)))
    mujoco.mj_resetData(model, data)
    data.qpos[2] = 0.02  # far in front of the pad
    mujoco.mj_forward(model, data)
    np.testing.assert_array_equal(sensor.read(model, data).image, sensor.reference)
    assert not np.array_equal(sensor.reference, nominal)  # the camera sits elsewhere
    with pytest.raises(ValueError):
        sensor.reference[0, 0, 0] = 1  # shared by every no-contact read: read-only


def test_a_stiffer_gel_is_pressed_less_deep(rig: tuple[mujoco.MjModel, mujoco.MjData]) -> None:
    model, data = rig
    sensor = sensor_of(model)
    depths = []
    for scale in (0.5, 1.0, 2.0):
        sensor.set_unit(SensorUnit(modulus_scale=scale))
        depths.append(float(press(sensor, model, data, 0.8).depth.max()))
    assert depths[0] > depths[1] * 1.2 and depths[1] > depths[2] * 1.2, depths


def test_the_light_gain_scales_the_change_a_press_makes(
    rig: tuple[mujoco.MjModel, mujoco.MjData],
) -> None:
    model, data = rig
    sensor = sensor_of(model)
    change = []
    for gain in (0.77, 1.3):
        sensor.set_unit(SensorUnit(gain_scale=gain))
        image = press(sensor, model, data, 0.8).image.astype(float)
        change.append(float(np.abs(image - sensor.reference.astype(float)).sum()))
    assert change[1] > change[0] * 1.3, change


def test_a_turned_camera_moves_the_press_in_the_image(
    rig: tuple[mujoco.MjModel, mujoco.MjData],
) -> None:
    model, data = rig
    sensor = sensor_of(model)
    xy = (0.004, 0.0)  # right of the pad's centre
    spots = {}
    for turn in (0.0, 20.0):
        sensor.set_unit(SensorUnit(turn_deg=turn))
        reading = press(sensor, model, data, 0.8, xy_m=xy)
        spots[turn] = centroid(changed(reading.image, sensor.reference))
    h, w = sensor.image_size
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    before, after = spots[0.0] - centre, spots[20.0] - centre
    angle = math.degrees(math.atan2(-after[0], after[1]) - math.atan2(-before[0], before[1]))
    assert angle == pytest.approx(20.0, abs=4.0)  # counter-clockwise, as the mount says
    assert np.linalg.norm(after) == pytest.approx(np.linalg.norm(before), rel=0.1)


def test_a_units_reference_is_randomised_and_reset_through_its_mount(
    rig: tuple[mujoco.MjModel, mujoco.MjData],
) -> None:
    model, _ = rig
    sensor = sensor_of(model)
    sensor.set_unit(SensorUnit(turn_deg=3.0))
    own = sensor.reference.copy()
    sensor.randomize_reference(np.random.default_rng(0))
    assert np.abs(sensor.reference.astype(int) - own.astype(int)).mean() > 1.0
    sensor.reset_reference()
    np.testing.assert_array_equal(sensor.reference, own)
