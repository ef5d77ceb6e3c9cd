"""The arm's one kinematic description: published limits, FK = MuJoCo, Jacobian, IK."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from drivers.kinematics import (
    ARM_JOINTS,
    ARM_MJCF,
    MAX_OPENING_M,
    ArmKinematics,
    top_down_rotation,
)
from drivers.rotations import rotation_error

# WidowX-250-6DOF (wx250s) joint ranges in whole degrees, as Trossen's specification sheet
# gives them (an independent source: the MJCF's radians must round to these)
PUBLISHED_LIMITS_DEG = {
    "waist": (-180, 180),
    "shoulder": (-108, 114),
    "elbow": (-123, 92),
    "forearm_roll": (-180, 180),
    "wrist_angle": (-100, 123),
    "wrist_rotate": (-180, 180),
}


@pytest.fixture(scope="module")
def kin() -> ArmKinematics:
    return ArmKinematics()


def test_the_arm_file_compiles_and_holds_still_without_warnings() -> None:
    model = mujoco.MjModel.from_xml_path(str(ARM_MJCF))
    data = mujoco.MjData(model)
    for _ in range(1000):
        mujoco.mj_step(model, data)
    assert [int(w.number) for w in data.warning] == [0] * len(data.warning)
    assert np.abs(data.qpos).max() < 1e-3  # gravity-compensated servos hold q = 0


def test_joint_limits_are_the_published_ones(kin: ArmKinematics) -> None:
    for name, limits in zip(ARM_JOINTS, kin.limits, strict=True):
        np.testing.assert_allclose(np.degrees(limits), PUBLISHED_LIMITS_DEG[name], atol=0.01)
    model = kin.model
    for name in ARM_JOINTS:  # the servo's command range is the joint's range
        act = model.actuator(name)
        np.testing.assert_allclose(act.ctrlrange, model.joint(name).range)


def test_reach_matches_the_arm_class(kin: ArmKinematics) -> None:
    """Stretched out horizontally the TCP is ~0.65 m from the base axis (WidowX 250: 650 mm)."""
    pos, _ = kin.fk(np.array([0.0, np.pi / 2, -np.pi / 2, 0.0, 0.0, 0.0]))
    assert 0.6 < float(np.hypot(pos[0], pos[1])) < 0.7
    assert 2 * kin.model.joint("left_finger").range[1] == pytest.approx(MAX_OPENING_M)


def test_fk_and_jacobian(kin: ArmKinematics) -> None:
    q = np.array([0.3, -0.4, 0.5, 0.2, 1.2, -0.7])
    pos, rot = kin.fk(q)
    jac = kin.jacobian(q)
    eps = 1e-6
    for i in range(6):
        dq = np.zeros(6)
        dq[i] = eps
        p1, r1 = kin.fk(q + dq)
        p0, r0 = kin.fk(q - dq)
        np.testing.assert_allclose((p1 - p0) / (2 * eps), jac[:3, i], atol=1e-6)
        np.testing.assert_allclose(rotation_error(r1, r0) / (2 * eps), jac[3:, i], atol=1e-6)
    assert np.allclose(rot @ rot.T, np.eye(3))
    assert pos.shape == (3,)


def test_ik_reaches_poses_in_the_workspace(kin: ArmKinematics) -> None:
    rng = np.random.default_rng(0)
    seed = np.array([0.0, -0.5, 0.6, 0.0, 1.47, 0.0])
    for _ in range(40):
        target = np.array([rng.uniform(0.2, 0.4), rng.uniform(-0.15, 0.15), rng.uniform(0.02, 0.2)])
        rot = top_down_rotation(rng.uniform(-1.5, 1.5))
        result = kin.ik(target, rot, seed)
        assert result.converged(), (target, result)
        pos, reached = kin.fk(result.q)
        np.testing.assert_allclose(pos, target, atol=1e-4)
        assert np.all(result.q >= kin.limits[:, 0]) and np.all(result.q <= kin.limits[:, 1])
        assert float(np.linalg.norm(rotation_error(rot, reached))) < 1e-3


def test_ik_of_an_unreachable_target_stays_in_limits(kin: ArmKinematics) -> None:
    result = kin.ik(np.array([1.5, 0.0, 0.2]), top_down_rotation(0.0), np.zeros(6))
    assert not result.converged()
    assert result.position_error > 0.5
    assert np.all(result.q >= kin.limits[:, 0]) and np.all(result.q <= kin.limits[:, 1])


def test_top_down_rotation_points_down_and_closes_along_yaw() -> None:
    for yaw in (0.0, 0.7, -1.2):
        rot = top_down_rotation(yaw)
        np.testing.assert_allclose(rot[:, 2], [0, 0, -1], atol=1e-12)
        np.testing.assert_allclose(rot[:, 1], [-np.sin(yaw), np.cos(yaw), 0], atol=1e-12)
        assert np.linalg.det(rot) == pytest.approx(1.0)


def test_missing_names_are_clear_errors() -> None:
    model = mujoco.MjModel.from_xml_string("<mujoco><worldbody/></mujoco>")
    with pytest.raises(ValueError, match="no joint named 'waist'"):
        ArmKinematics(model)
