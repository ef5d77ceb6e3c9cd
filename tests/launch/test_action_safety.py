"""The supervisor on a task's actions: sound actions pass untouched, a jump is cut to the speed
limit (arm and gantry), and actions it cannot supervise are refused."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.kinematics import ArmKinematics
from drivers.poses import POSES
from drivers.rotations import rot6d_from_matrix
from drivers.spec import FieldSpec
from launch.action_safety import plan_safety
from launch.run_plan import SafetySection
from sim import LiftConfig, PegInsertionConfig

PERIOD = 0.1
GANTRY = FieldSpec(shape=(4,), dtype="float32", sensor="gantry")
ARM = FieldSpec(shape=(10,), dtype="float32", sensor="abs_pose")
HAND = {"proprio.ee_pos": FieldSpec(shape=(3,), dtype="float32")}
JOINTS = {"proprio.joints": FieldSpec(shape=(6,), dtype="float32")}


def test_gantry_actions_pass_untouched_until_they_jump() -> None:
    plan = plan_safety(GANTRY, HAND, PegInsertionConfig(), SafetySection(max_tcp_speed=0.1))
    here = np.array([0.35, 0.0, 0.2])
    guard = plan.start(PERIOD, here)
    small = np.array([0.355, 0.0, 0.2, 0.01], np.float32)  # 5 mm: under 0.1 m/s x 0.1 s
    assert guard.step(small, here, 0.0) == (small, ())
    far = np.array([0.455, 0.0, 0.2, 0.01], np.float32)
    sent, clips = guard.step(far, here, 0.1)
    assert clips and np.linalg.norm(sent[:3] - small[:3]) <= 0.01 + 1e-6
    assert sent[3] == far[3]  # the width passes
    assert guard.counts.get("tcp_speed", 0) + guard.counts.get("joint_speed", 0) >= 1


def test_arm_actions_are_supervised_on_the_arms_joints() -> None:
    kin = ArmKinematics()
    q = np.array(POSES["home"])
    pos, rot = kin.fk(q)
    plan = plan_safety(ARM, JOINTS, LiftConfig(), SafetySection())
    guard = plan.start(PERIOD, q)
    still = np.array([*pos, *rot6d_from_matrix(rot), 0.02], np.float32)
    assert guard.step(still, q, 0.0)[1] == ()
    jump = still.copy()
    jump[2] -= 0.2  # 20 cm down in one tick
    sent, clips = guard.step(jump, q, 0.1)
    assert clips
    assert np.linalg.norm(sent[:3] - pos) <= 0.3 * PERIOD + 1e-6  # the default 0.3 m/s
    assert sent[9] == pytest.approx(0.02)


def test_delta_actions_are_refused_with_the_fix_named() -> None:
    with pytest.raises(ValueError, match="action_mode = 'abs_pose'"):
        plan_safety(FieldSpec(shape=(7,), dtype="float32", sensor="delta_pose"), JOINTS,
                    LiftConfig(), SafetySection())  # fmt: skip


def test_limits_that_contradict_each_other_or_unmeasured_joints_are_refused_at_once() -> None:
    box = SafetySection(workspace_low=(0.4, 0.0, 0.1), workspace_high=(0.3, 0.1, 0.2))
    with pytest.raises(ValueError, match="workspace box"):
        plan_safety(GANTRY, HAND, PegInsertionConfig(), box)
    with pytest.raises(ValueError, match=r"proprio\.joints"):
        plan_safety(ARM, HAND, LiftConfig(), SafetySection())


def test_an_unreachable_target_is_sent_as_the_pose_the_supervisor_checked() -> None:
    kin = ArmKinematics()
    q = np.array(POSES["home"])
    pos, rot = kin.fk(q)
    guard = plan_safety(ARM, JOINTS, LiftConfig(), SafetySection()).start(PERIOD, q)
    far = np.array([*pos, *rot6d_from_matrix(rot), 0.02], np.float32)
    far[0] += 2.0  # two metres out: no joints reach it
    sent, _ = guard.step(far, q, 0.0)
    reached, _ = kin.fk(guard.supervisor.last)
    np.testing.assert_allclose(sent[:3], reached, atol=1e-6)
