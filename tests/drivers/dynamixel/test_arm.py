"""The wx250s driver against an emulated arm over a real pyserial port: model checks, set-up,
joint commands and readings in angles, the mirrored shoulder and elbow, the gripper, and
calibration files."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from drivers.base import DeviceError
from drivers.dynamixel.arm import DynamixelArm
from drivers.dynamixel.arm_spec import (
    ARMS,
    Calibration,
    JointCalibration,
    ServoJoint,
    default_calibration,
    load_calibration,
)
from drivers.dynamixel.bus import DynamixelBus
from drivers.dynamixel.emulator import EmulatedBus, ServoState, arm_servos
from drivers.dynamixel.pty_server import PtyServer
from drivers.dynamixel.tables import MODELS, RAD_PER_PULSE, model
from drivers.gripper import Gripper
from drivers.kinematics import ARM_JOINTS, ArmKinematics

LAYOUT = ARMS["wx250s"]
LIMITS = ArmKinematics().limits


def serve(servos: list[ServoState]) -> PtyServer:
    return PtyServer(EmulatedBus(servos))


@pytest.fixture
def arm() -> Iterator[tuple[PtyServer, DynamixelArm]]:
    with serve(arm_servos(LAYOUT.servos())) as server, DynamixelBus(server.path) as bus:
        yield server, DynamixelArm(bus, LAYOUT, default_calibration("wx250s"), LIMITS)


def test_the_layout_is_the_kinematic_descriptions_joints() -> None:
    assert list(LAYOUT.joints) == list(ARM_JOINTS)
    assert set(LAYOUT.servos().values()) <= set(MODELS) and len(LAYOUT.servos()) == 9


def test_configured_the_arm_goes_where_it_is_told(arm: tuple[PtyServer, DynamixelArm]) -> None:
    server, robot = arm
    assert set(robot.connect()) == set(range(1, 10))
    robot.configure()
    robot.torque(True)
    target = np.array([0.3, -0.5, 0.4, 0.2, 0.6, -0.3])
    robot.command(target)
    deadline = time.monotonic() + 3.0
    while np.max(np.abs(robot.joints() - target)) > RAD_PER_PULSE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert np.max(np.abs(robot.joints() - target)) <= RAD_PER_PULSE
    servos = server.bus.servos
    for master, shadow in ((2, 3), (4, 5)):  # the mirrored pair moved together, reversed
        assert servos[shadow].get("goal_position") == servos[master].get("goal_position")
        assert (
            servos[shadow].get("drive_mode") == 1 and servos[shadow].get("secondary_id") == master
        )
    shoulder = sorted(robot.calibration.to_pulses("shoulder", a) for a in LIMITS[1])
    assert (servos[2].get("min_position_limit"), servos[2].get("max_position_limit")) == tuple(
        shoulder
    )


def test_the_gripper_closes_in_position_mode_with_a_force_bound(
    arm: tuple[PtyServer, DynamixelArm],
) -> None:
    server, robot = arm
    robot.configure()
    gripper = server.bus.servos[9]
    assert gripper.get("operating_mode") == 3 and gripper.get("pwm_limit") == 350  # an XL430
    robot.torque(True)
    robot.grip(1.0)
    time.sleep(1.0)
    assert robot.gripper_closed() == pytest.approx(1.0, abs=0.01)
    assert isinstance(robot, Gripper)  # what the loop and policies drive


def test_a_gripper_that_senses_current_grips_in_current_based_position_mode() -> None:
    layout = LAYOUT.model_copy(update={"gripper": ServoJoint(id=9, model="xm430-w350")})
    with serve(arm_servos(layout.servos())) as server, DynamixelBus(server.path) as bus:
        robot = DynamixelArm(bus, layout, default_calibration("wx250s"), LIMITS)
        robot.configure()
        gripper = server.bus.servos[9]
        assert gripper.get("operating_mode") == 5  # current-based position
        assert gripper.get("goal_current") == round(0.3 / 2.69e-3)  # the grip-force bound, A


def test_a_missing_or_wrong_servo_is_named(tmp_path: Path) -> None:
    servos = {id: name for id, name in LAYOUT.servos().items() if id != 5}
    with serve(arm_servos(servos)) as server, DynamixelBus(server.path) as bus:
        robot = DynamixelArm(bus, LAYOUT, default_calibration("wx250s"), LIMITS)
        with pytest.raises(DeviceError, match=r"servo 5 \(elbow, mirrored\) does not answer"):
            robot.connect()
    wrong = {**LAYOUT.servos(), 8: "xm430-w350"}
    with serve(arm_servos(wrong)) as server, DynamixelBus(server.path) as bus:
        robot = DynamixelArm(bus, LAYOUT, default_calibration("wx250s"), LIMITS)
        wrong_model = r"servo 8 \(wrist_rotate\) is model 1020 \(xm430-w350\); the wx250s has"
        with pytest.raises(DeviceError, match=wrong_model + r" a xl430-w250 \(1060\) there"):
            robot.connect()


def test_calibration_maps_angles_both_ways() -> None:
    joints = {j: JointCalibration() for j in ARM_JOINTS} | {
        "elbow": JointCalibration(direction=-1, offset=37)
    }
    cal = Calibration(arm="wx250s", joints=joints, gripper=default_calibration("wx250s").gripper)
    assert cal.to_pulses("elbow", 0.0) == 2048 + 37
    assert cal.to_pulses("elbow", 100 * RAD_PER_PULSE) == 2048 + 37 - 100
    for angle in (-1.2, 0.0, 0.7):
        assert cal.to_angle("elbow", cal.to_pulses("elbow", angle)) == pytest.approx(
            angle, abs=RAD_PER_PULSE / 2
        )


def test_a_bad_calibration_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "arm.json"
    default_calibration("wx250s").save(path)
    assert load_calibration(path) == default_calibration("wx250s")
    with pytest.raises(DeviceError, match="no calibration file; make one with vitac arm"):
        load_calibration(tmp_path / "missing.json")
    path.write_text("{")
    with pytest.raises(DeviceError, match="not a calibration file"):
        load_calibration(path)
    data = default_calibration("wx250s").model_dump()
    data["joints"]["elbow"]["direction"] = 2
    Path(path).write_text(json.dumps(data))
    with pytest.raises(
        DeviceError, match=r"joints\.elbow: Value error, direction 2: must be 1 or -1"
    ):
        load_calibration(path)
    del data["joints"]["elbow"]
    Path(path).write_text(json.dumps(data))
    with pytest.raises(DeviceError, match=r"the wx250s has .* in that order"):
        load_calibration(path)
    with pytest.raises(DeviceError, match="not a calibration file"):
        load_calibration(tmp_path)
    assert model("xl430-w250").has_current is False
