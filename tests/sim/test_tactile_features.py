"""Image-only tactile features: marker tracking against the gel's own displacement, edges."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim.tactile import TactileSensor
from sim.tactile_features import imprint_edges, marker_positions, rest_markers, rigid_motion
from sim.tactile_gallery import SQUARE, press, rig_xml
from sim.tasks.tactile_insertion import TactileInsertionEnv


def test_rigid_motion_recovers_a_shift_and_a_turn() -> None:
    points = np.random.default_rng(0).uniform(0, 60, (30, 2))
    centre, angle, shift = points.mean(axis=0), 0.03, np.array([0.7, -0.4])
    c, s = np.cos(angle), np.sin(angle)
    moved = (points - centre) @ np.array([[c, s], [-s, c]]) + centre + shift
    motion = rigid_motion(points, moved)
    np.testing.assert_allclose(motion.shift, shift, atol=1e-9)
    assert motion.turn == pytest.approx(angle, rel=1e-3)


def test_tracked_markers_follow_the_gels_displacement() -> None:
    """Dots tracked in the images move as the sensor's displacement field says, sub-pixel."""
    model = mujoco.MjModel.from_xml_string(rig_xml(SQUARE))
    data = mujoco.MjData(model)
    sensor = TactileSensor(model, "pad", "pad", "gelsight_mini", image_size=(60, 80))
    before = press(sensor, model, data, 3.0)
    after = press(sensor, model, data, 3.0, push_n=(2.0, 0.0), torque_nm=0.006)
    rest = rest_markers(sensor.profile, (60, 80))
    start = marker_positions(before.image, rest)
    moved = marker_positions(after.image, start)
    assert np.abs(start - rest).max() < 0.6  # found every dot near its place
    # the field on the depth grid, sampled at each dot (grid cells span the same area)
    assert after.displacement is not None and before.displacement is not None
    field = (after.displacement - before.displacement) / np.array(sensor.pixel_pitch_m[::-1])
    gh, gw = field.shape[:2]
    cells = np.clip((start * (gw / 80, gh / 60)).astype(int), 0, (gw - 1, gh - 1))
    expected = field[cells[:, 1], cells[:, 0]]  # (n, 2) pixels
    moving = np.linalg.norm(expected, axis=1) > 0.3
    assert moving.sum() >= 6
    error = np.linalg.norm(moved[moving] - start[moving] - expected[moving], axis=1)
    assert np.median(error) < 0.25, error
    motion = rigid_motion(start[moving], moved[moving])
    assert motion.shift[0] > 0.3 and motion.turn > 0.005  # pushed along +x, twisted +z


def test_imprint_edges_give_the_parts_place_in_the_grasp() -> None:
    env = TactileInsertionEnv()
    profile = env.sensors[0].profile
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        state = env.privileged_state()
        along = (state["tcp_rot"].T @ (state["part_pos"] - state["tcp_pos"]))[0]  # TCP x
        pitch = profile.sensing_area_m[1] / 80
        seen = []
        for key, sign in (("tactile.left", 1), ("tactile.right", -1)):
            left, right = imprint_edges(obs[key], profile)
            assert (right - left) * pitch == pytest.approx(env.variant.housing[0], abs=0.0015)
            seen.append(sign * ((left + right) / 2 - 39.5) * pitch)
        assert np.mean(seen) == pytest.approx(along, abs=0.0005)
    env.close()
