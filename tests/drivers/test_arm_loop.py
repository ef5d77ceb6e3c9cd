"""The control loop: interpolation of waypoints, chunk seams without jumps, tool poses through
inverse kinematics, and the emulated wx250s followed at 100 Hz until its adapter is pulled."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from drivers.arm_loop import ControlLoop, TickState, Waypoints
from drivers.base import DeviceError
from drivers.dynamixel.arm import DynamixelArm
from drivers.dynamixel.arm_spec import ARMS, default_calibration
from drivers.dynamixel.bus import DynamixelBus
from drivers.dynamixel.emulator import EmulatedBus, arm_servos
from drivers.dynamixel.pty_server import PtyServer
from drivers.dynamixel.tables import RAD_PER_PULSE
from drivers.kinematics import ArmKinematics
from drivers.rotations import matrix_from_axis_angle, rotation_error
from drivers.safety import SafetyLimits, SafetySupervisor

KIN = ArmKinematics()
HOME = np.array([0.0, -0.4, 0.6, 0.0, 0.5, 0.0])


def limits(**changes: float) -> SafetyLimits:
    centre = KIN.fk(HOME)[0]
    box = {"workspace_low": tuple(centre - 0.3), "workspace_high": tuple(centre + 0.3)}
    return SafetyLimits(tuple(KIN.limits[:, 0]), tuple(KIN.limits[:, 1]), **box, **changes)  # type: ignore[arg-type]


class FakeArm:
    """Where it is told, at once; remembers every command."""

    def __init__(self, q: np.ndarray) -> None:
        self.q, self.sent, self.torque_on = q.copy(), [q.copy()], True

    def joints(self) -> np.ndarray:
        return self.q.copy()

    def command(self, q: np.ndarray) -> None:
        self.q = np.asarray(q, float).copy()
        self.sent.append(self.q)

    def torque(self, on: bool) -> None:
        self.torque_on = on


def supervisor(arm_q: np.ndarray, **changes: float) -> SafetySupervisor:
    return SafetySupervisor(limits(**changes), lambda q: KIN.fk(q)[0], arm_q)


def test_waypoints_interpolate_and_hold_at_both_ends() -> None:
    r0, r1 = np.eye(3), matrix_from_axis_angle([0, 0, 1.0])
    w = Waypoints(np.array([1.0, 2.0]), np.array([[0.0, 0, 0], [1.0, 2, 3]]), np.stack([r0, r1]))
    value, rot = w.sample(1.25)
    assert np.allclose(value, [0.25, 0.5, 0.75]) and rot is not None
    assert np.linalg.norm(rotation_error(rot, r0)) == pytest.approx(0.25)
    assert np.allclose(w.sample(0.0)[0], 0.0) and np.allclose(w.sample(9.0)[0], [1, 2, 3])


def test_a_new_chunk_mid_motion_continues_from_where_the_command_is() -> None:
    arm = FakeArm(HOME)
    with ControlLoop(arm, supervisor(HOME, max_joint_speed=50.0, max_tcp_speed=50.0)) as loop:
        now = time.monotonic()
        loop.send_joints([now + 0.4], [HOME + 0.3])
        time.sleep(0.2)
        now = time.monotonic()  # the next chunk points elsewhere, from its own first time
        loop.send_joints([now + 0.1, now + 0.3], [HOME - 0.2, HOME - 0.2])
        time.sleep(0.45)
    loop.check()
    steps = np.abs(np.diff(np.array(arm.sent), axis=0)).max()
    assert steps < 0.5 / 0.1 * 0.011 * 1.5  # the fastest planned speed x a tick, no jump
    assert np.allclose(arm.q, HOME - 0.2)
    stats = loop.stats()
    assert stats.ticks >= 55 and stats.lateness_ms[1] < 10.0


def test_tool_poses_are_reached_through_inverse_kinematics() -> None:
    arm = FakeArm(HOME)
    position, rotation = KIN.fk(HOME)
    target = position + np.array([0.03, -0.02, 0.02])
    with ControlLoop(arm, supervisor(HOME), kinematics=KIN) as loop:
        loop.send_poses([time.monotonic() + 0.3], [target], [rotation])
        time.sleep(0.5)
    loop.check()
    reached, turned = KIN.fk(arm.q)
    assert np.linalg.norm(reached - target) < 1e-4
    assert np.linalg.norm(rotation_error(turned, rotation)) < 1e-3
    assert loop.stats().unreachable == 0
    arm = FakeArm(HOME)
    with ControlLoop(arm, supervisor(HOME), kinematics=KIN) as loop:  # 2 m away: out of reach
        loop.send_poses([time.monotonic() + 0.1], [position + np.array([2.0, 0, 0])], [rotation])
        time.sleep(0.3)
    assert loop.stats().unreachable > 10


class FakeGripperArm(FakeArm):
    """A FakeArm whose gripper closes at once; records the thread of every bus call."""

    def __init__(self, q: np.ndarray) -> None:
        super().__init__(q)
        self.closed, self.grips, self.threads = 0.0, [], set()

    def joints(self) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        return super().joints()

    def grip(self, closed: float) -> None:
        self.threads.add(threading.current_thread().name)
        self.closed = closed
        self.grips.append(closed)

    def gripper_closed(self) -> float:
        return self.closed


def test_hold_stops_the_plan_and_the_gripper_goes_through_the_loop() -> None:
    arm = FakeGripperArm(HOME)
    ticks: list[TickState] = []
    sup = supervisor(HOME, max_joint_speed=50.0, max_tcp_speed=50.0)
    with ControlLoop(arm, sup, gripper=arm, on_tick=ticks.append) as loop:
        loop.send_joints([time.monotonic() + 1.0], [HOME + 0.5])
        loop.grip(0.7)
        time.sleep(0.2)
        loop.hold()
        held = arm.q.copy()
        time.sleep(0.2)
    loop.check()
    assert 0.05 < held[0] - HOME[0] < 0.2  # moving when held...
    assert np.allclose(arm.q, held, atol=0.5 / 1.0 * 0.011)  # ...then still, not at the goal
    assert arm.grips == [0.7] and arm.threads == {"arm-loop"}  # one send, from the loop only
    assert len(ticks) >= 30 and ticks[-1].gripper_closed == 0.7
    assert np.array_equal(ticks[-1].command, arm.q)  # what the arm was sent
    with pytest.raises(ValueError, match="no gripper"):
        ControlLoop(FakeArm(HOME), sup).grip(1.0)


def test_an_estop_turns_torque_off_and_ends_the_loop() -> None:
    arm = FakeArm(HOME)
    sup = supervisor(HOME)
    with ControlLoop(arm, sup) as loop:
        time.sleep(0.05)
        sup.estop()
        time.sleep(0.05)
        assert not arm.torque_on and not loop._thread.is_alive()


def test_the_emulated_arm_follows_until_its_adapter_is_pulled() -> None:
    layout = ARMS["wx250s"]
    server = PtyServer(EmulatedBus(arm_servos(layout.servos()))).start()
    with DynamixelBus(server.path) as bus:
        arm = DynamixelArm(bus, layout, default_calibration("wx250s"), KIN.limits)
        arm.connect()
        arm.configure()
        start = arm.joints()
        arm.torque(True)
        loop = ControlLoop(arm, supervisor(start)).start()
        goal = start + np.array([0.2, -0.1, 0.1, 0.0, 0.1, 0.0])
        loop.send_joints([time.monotonic() + 0.5], [goal])
        deadline = time.monotonic() + 5.0  # 0.5 s planned; slack for a loaded machine
        while np.max(np.abs(arm.joints() - goal)) > RAD_PER_PULSE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert np.max(np.abs(arm.joints() - goal)) <= RAD_PER_PULSE
        server.disconnect()
        time.sleep(0.2)
        with pytest.raises(DeviceError, match="stopped answering"):
            loop.check()
        loop.stop()
    stats = loop.stats()
    assert stats.ticks + stats.missed >= 45  # 100 Hz for at least the planned 0.5 s
