"""Image-only tactile features: marker tracking against the gel's own displacement, edges."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim.tactile import TactileSensor
from sim.tactile_features import (
    PRESS_FEATURES,
    imprint_centre,
    imprint_edges,
    marker_positions,
    press_features,
    rest_markers,
    rigid_motion,
)
from sim.tactile_gallery import SQUARE, press, rig_xml
from sim.tasks.tactile_insertion import TactileInsertionEnv
from sim.touch_expert import TouchInsertionExpert


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


@pytest.mark.parametrize("part", ["switch3", "usb12", "vga17"])
def test_imprint_centre_or_none_when_the_face_is_wider_than_the_view(part: str) -> None:
    env = TactileInsertionEnv({"part": part})
    profile = env.sensors[0].profile
    pitch = profile.sensing_area_m[1] / 80
    face = env.variant.housing[0] / pitch
    found = 0
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        state = env.privileged_state()
        along = (state["tcp_rot"].T @ (state["part_pos"] - state["tcp_pos"]))[0]  # TCP x
        column = imprint_centre(obs["tactile.left"], profile, face)
        edges_out = abs(along) + env.variant.housing[0] / 2 > profile.sensing_area_m[1] / 2
        both_out = env.variant.housing[0] / 2 - abs(along) > profile.sensing_area_m[1] / 2
        if both_out:
            assert column is None, (seed, along)
            continue
        if column is None:  # an edge at the border of the view may be missed
            assert edges_out, (seed, along)
            continue
        found += 1
        assert (column - 39.5) * pitch == pytest.approx(along, abs=0.0006), seed
    assert found >= 3
    env.close()


def test_press_features_see_a_press_and_not_the_approach() -> None:
    env = TactileInsertionEnv()
    profile = env.sensors[0].profile
    expert = TouchInsertionExpert(env, read=False)
    obs, _ = env.reset(seed=100001)
    expert.reset(100001)
    frames = [obs]
    while expert.corrections == 0:  # run until the part sits on the rim
        obs, *_ = env.step(expert.act(frames[-1]))
        frames.append(obs)
    pressed, approach = frames[-2], frames[3]  # the frame the expert felt the rim in; mid-air
    features = {
        name: dict(zip(PRESS_FEATURES, press_features(frames[0][k], f[k], profile), strict=True))
        for name, f in (("pressed", pressed), ("approach", approach))
        for k in ("tactile.left",)
    }
    assert abs(features["pressed"]["shift_y"]) > 0.2, features  # dragged along the rows
    assert abs(features["approach"]["shift_y"]) < 0.05, features
    assert features["pressed"]["change"] > 3 * features["approach"]["change"], features
    env.close()
