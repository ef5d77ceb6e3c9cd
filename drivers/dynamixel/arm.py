"""A serial-bus arm: the servos of an `ArmLayout` on one `DynamixelBus`, in joint angles.

`connect` checks that every servo answers and is the model the layout says; `configure`
writes what the arm needs before torque (fast replies, position mode, the joint limits of
the shared kinematic description as the servos' own position limits, the mirrored shadow
servos, the gripper's mode); `joints` reads every joint in one fast sync read; `command` sends
every joint's goal in one sync write (the shadows follow their masters on the bus).

The gripper runs in current-based position mode where its servo senses current (the goal
current bounds the grip force); an XL430 has no current sensing, so it runs in position mode
with its PWM limit bounding the force instead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drivers.base import DeviceError
from drivers.dynamixel.arm_spec import ArmLayout, Calibration, ServoJoint
from drivers.dynamixel.bus import DynamixelBus
from drivers.dynamixel.tables import (
    MODEL_BY_NUMBER,
    MODELS,
    PULSES_PER_REV,
    DriveMode,
    Model,
    OperatingMode,
)

F64 = NDArray[np.float64]
PROFILE_VELOCITY = 131  # 30 rev/min, pi rad/s: the joints' rated speed (Interbotix's setting)
GRIPPER_PWM = 350  # of 885: the grip-force bound of a gripper without current sensing
GRIPPER_CURRENT = 0.3  # A: the grip-force bound of a gripper with current sensing


class DynamixelArm:
    def __init__(
        self,
        bus: DynamixelBus,
        layout: ArmLayout,
        calibration: Calibration,
        limits: ArrayLike,
    ) -> None:
        """`limits`: (J, 2) joint limits in radians from the arm's kinematic description."""
        if calibration.arm != layout.name:
            raise DeviceError(f"calibration for {calibration.arm!r}, arm is {layout.name!r}")
        self.bus, self.layout, self.calibration = bus, layout, calibration
        self.limits = np.asarray(limits, dtype=np.float64)
        self.names = list(layout.joints)
        self.ids = [j.id for j in layout.joints.values()]

    def field(self, servo: ServoJoint, name: str) -> tuple[int, int]:
        """(address, size) of a field of `servo`'s model."""
        f = MODELS[servo.model].field(name)
        return f.address, f.size

    # --- set-up ----------------------------------------------------------------------------

    def connect(self) -> dict[int, tuple[str, int]]:
        """Check every servo: id -> (model, firmware). DeviceError naming a missing one or one
        of the wrong model."""
        found = {}
        for id, name in self.layout.servos().items():
            what = self._describe(id)
            try:
                number, firmware = self.bus.ping(id)
            except DeviceError:
                raise DeviceError(
                    f"{self.bus.port}: {what} does not answer at {self.bus.baudrate} bps; check "
                    f"its cable and power (the {self.layout.name} runs at {self.layout.baudrate})"
                ) from None
            if number != MODELS[name].number:
                actual = MODEL_BY_NUMBER.get(number)
                raise DeviceError(
                    f"{self.bus.port}: {what} is model {number} "
                    f"({actual.name if actual else 'unknown'}); the {self.layout.name} has a "
                    f"{name} ({MODELS[name].number}) there"
                )
            found[id] = (name, firmware)
        return found

    def configure(self) -> None:
        """Torque off, then every EEPROM setting the arm needs (safe to repeat)."""
        self.torque(False)
        for k, (joint, servo) in enumerate(self.layout.joints.items()):
            pulses = sorted(self.calibration.to_pulses(joint, a) for a in self.limits[k])
            low, high = max(0, pulses[0]), min(PULSES_PER_REV - 1, pulses[1])
            for id in [servo.id] + ([servo.shadow] if servo.shadow is not None else []):
                self._write(servo, id, "return_delay_time", 0)
                self._write(servo, id, "operating_mode", OperatingMode.POSITION)
                self._write(servo, id, "min_position_limit", low)
                self._write(servo, id, "max_position_limit", high)
            if servo.shadow is not None:  # mirrored: reversed, and it obeys the master's id
                self._write(servo, servo.shadow, "drive_mode", DriveMode.REVERSE)
                self._write(servo, servo.shadow, "secondary_id", servo.id)
            self._write(servo, servo.id, "profile_velocity", PROFILE_VELOCITY)
        g = self.layout.gripper
        self._write(g, g.id, "return_delay_time", 0)
        if self.gripper_model.has_current:
            self._write(g, g.id, "operating_mode", OperatingMode.CURRENT_BASED_POSITION)
            current = self.gripper_model.field("goal_current").from_si(GRIPPER_CURRENT)
            self._write(g, g.id, "goal_current", current)
        else:
            self._write(g, g.id, "operating_mode", OperatingMode.POSITION)
            self._write(g, g.id, "pwm_limit", GRIPPER_PWM)

    @property
    def gripper_model(self) -> Model:
        return MODELS[self.layout.gripper.model]

    def torque(self, on: bool) -> None:
        """Torque on or off on every servo at once."""
        ids = list(self.layout.servos())
        address, _ = self.field(self.layout.gripper, "torque_enable")
        self.bus.sync_write(address, 1, {id: bytes([int(on)]) for id in ids})

    # --- motion ----------------------------------------------------------------------------

    def joints(self) -> F64:
        """(J,) measured joint angles, rad."""
        address, size = self.field(self.layout.joints[self.names[0]], "present_position")
        raw = self.bus.fast_sync_read(self.ids, address, size)
        return np.array([self.calibration.to_angle(name, _i32(raw[id]))
                         for name, id in zip(self.names, self.ids, strict=True)])  # fmt: skip

    def command(self, q: ArrayLike) -> None:
        """Every joint's goal (J,) rad, in one packet; the supervisor has checked them."""
        q = np.asarray(q, dtype=np.float64)
        goals = {}
        for name, id, angle in zip(self.names, self.ids, q, strict=True):
            pulses = self.calibration.to_pulses(name, float(angle))
            goals[id] = min(max(pulses, 0), PULSES_PER_REV - 1).to_bytes(4, "little", signed=True)
        address, size = self.field(self.layout.joints[self.names[0]], "goal_position")
        self.bus.sync_write(address, size, goals)

    def grip(self, closed: float) -> None:
        """Gripper from 0 (open) to 1 (closed, or as far as the object lets it)."""
        g, c = self.layout.gripper, self.calibration.gripper
        target = round(c.open + min(max(closed, 0.0), 1.0) * (c.closed - c.open))
        self._write(g, g.id, "goal_position", target)

    def gripper_closed(self) -> float:
        """The gripper's measured closure, 0 (open) to 1 (closed)."""
        g, c = self.layout.gripper, self.calibration.gripper
        address, size = self.field(g, "present_position")
        pulses = _i32(self.bus.read(g.id, address, size))
        return (pulses - c.open) / (c.closed - c.open)

    def _write(self, servo: ServoJoint, id: int, name: str, value: int) -> None:
        f = MODELS[servo.model].field(name)
        self.bus.write(id, f.address, f.encode(int(value)))

    def _describe(self, id: int) -> str:
        for name, j in [*self.layout.joints.items(), ("gripper", self.layout.gripper)]:
            if id == j.id:
                return f"servo {id} ({name})"
            if id == j.shadow:
                return f"servo {id} ({name}, mirrored)"
        return f"servo {id}"


def _i32(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True)
