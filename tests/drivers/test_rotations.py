"""Rotation conventions: round trips, the 6D layout, world-frame deltas, degenerate input."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from drivers.rotations import (
    axis_angle_from_matrix,
    matrix_from_axis_angle,
    matrix_from_quat,
    matrix_from_rot6d,
    quat_from_matrix,
    quat_from_yaw,
    rot6d_from_matrix,
    rotation_error,
)


@pytest.fixture
def rotations() -> np.ndarray:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(200, 3))
    vecs *= rng.uniform(0, np.pi, (200, 1)) / np.linalg.norm(vecs, axis=1, keepdims=True)
    return matrix_from_axis_angle(vecs)  # (200, 3, 3)


def test_matrices_are_proper_rotations(rotations: np.ndarray) -> None:
    eye = rotations @ np.swapaxes(rotations, -1, -2)
    np.testing.assert_allclose(eye, np.broadcast_to(np.eye(3), eye.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-12)


def test_round_trips(rotations: np.ndarray) -> None:
    np.testing.assert_allclose(
        matrix_from_rot6d(rot6d_from_matrix(rotations)), rotations, atol=1e-12
    )
    np.testing.assert_allclose(matrix_from_quat(quat_from_matrix(rotations)), rotations, atol=1e-12)
    back = matrix_from_axis_angle(axis_angle_from_matrix(rotations))
    np.testing.assert_allclose(back, rotations, atol=1e-9)


def test_quaternions_match_mujoco(rotations: np.ndarray) -> None:
    ours = quat_from_matrix(rotations)
    for rot, q in zip(rotations[:20], ours[:20], strict=True):
        ref = np.zeros(4)
        mujoco.mju_mat2Quat(ref, rot.reshape(-1))
        ref = ref if ref[0] >= 0 else -ref
        np.testing.assert_allclose(q, ref, atol=1e-12)


def test_rot6d_is_the_first_two_columns() -> None:
    rot = matrix_from_axis_angle(np.array([0.3, -0.2, 1.1]))
    np.testing.assert_array_equal(rot6d_from_matrix(rot), [*rot[:, 0], *rot[:, 1]])


def test_rot6d_decoding_orthonormalises_noisy_input(rotations: np.ndarray) -> None:
    noisy = rot6d_from_matrix(rotations) + np.random.default_rng(1).normal(0, 0.01, (200, 6))
    decoded = matrix_from_rot6d(2.0 * noisy)  # scale does not matter
    assert np.abs(decoded - rotations).max() < 0.05
    np.testing.assert_allclose(np.linalg.det(decoded), 1.0, atol=1e-12)


def test_degenerate_rot6d_is_an_error() -> None:
    with pytest.raises(ValueError, match="parallel"):
        matrix_from_rot6d([1, 0, 0, 2, 0, 0])
    with pytest.raises(ValueError, match="6 components"):
        matrix_from_rot6d([1, 0, 0, 0, 1])


def test_half_turn_and_identity_axis_angles() -> None:
    np.testing.assert_allclose(axis_angle_from_matrix(np.eye(3)), 0.0, atol=1e-12)
    half = axis_angle_from_matrix(np.diag([1.0, -1.0, -1.0]))
    np.testing.assert_allclose(np.abs(half), [np.pi, 0, 0], atol=1e-12)


def test_rotation_error_is_the_world_frame_delta(rotations: np.ndarray) -> None:
    current, target = rotations[:100], rotations[100:]
    delta = rotation_error(target, current)
    np.testing.assert_allclose(matrix_from_axis_angle(delta) @ current, target, atol=1e-9)


def test_single_matrix_fast_path_agrees_with_the_batched_path(rotations: np.ndarray) -> None:
    near_half_turns = matrix_from_axis_angle(np.array([[0, 0, np.pi - 1e-4], [1e-9, 0, 0]]))
    for rot in [*rotations[:50], *near_half_turns]:
        single = axis_angle_from_matrix(rot)
        batched = axis_angle_from_matrix(rot[None])[0]
        np.testing.assert_allclose(single, batched, atol=1e-9)


def test_quat_from_yaw_is_a_turn_about_z() -> None:
    for yaw in (0.0, 0.4, -2.5):
        expected = matrix_from_axis_angle(np.array([0.0, 0.0, yaw]))
        np.testing.assert_allclose(matrix_from_quat(quat_from_yaw(yaw)), expected, atol=1e-12)


def test_slerp_turns_at_constant_speed_along_the_shortest_arc() -> None:
    from drivers.rotations import matrix_from_axis_angle, rotation_error, slerp

    start = matrix_from_axis_angle([0.3, -0.2, 0.1])
    end = start @ matrix_from_axis_angle([0.0, 0.0, 1.2])
    assert np.allclose(slerp(start, end, 0.0), start) and np.allclose(slerp(start, end, 1.0), end)
    for f in (0.25, 0.5, 0.9):
        turned = np.linalg.norm(rotation_error(slerp(start, end, f), start))
        assert turned == pytest.approx(1.2 * f, abs=1e-9)
