"""Control tables of the DYNAMIXEL X-series servos vitac drives (ROBOTIS e-manual facts):
address, size, access, initial value and unit of each field, per model.

The X series shares one layout: EEPROM below address 64 (written only with torque off), RAM
from 64. Models differ in their model number, their current sensing (the XL430 has none: no
Goal Current and no current-based modes, Present Load where the others have Present Current)
and their initial limits. Units convert raw register values to SI in `to_si` / `from_si`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import IntEnum

EEPROM_END = 64  # fields below are EEPROM: writable only while torque is off
PULSES_PER_REV = 4096
RAD_PER_PULSE = 2 * math.pi / PULSES_PER_REV  # 0.088 degrees
RAD_S_PER_VELOCITY = 0.229 * 2 * math.pi / 60  # velocity unit: 0.229 rev/min
RAD_S2_PER_ACCELERATION = 214.577 * 2 * math.pi / 3600  # profile acceleration: 214.577 rev/min^2


class DriveMode(IntEnum):
    """Drive Mode (address 10) bits."""

    REVERSE = 0x01  # goal and present position inverted (a mirrored servo)
    TIME_BASED_PROFILE = 0x04


class OperatingMode(IntEnum):
    CURRENT = 0
    VELOCITY = 1
    POSITION = 3
    EXTENDED_POSITION = 4
    CURRENT_BASED_POSITION = 5
    PWM = 16


class HardwareError(IntEnum):
    """Hardware Error Status (address 70) bits."""

    INPUT_VOLTAGE = 0
    OVERHEATING = 2
    MOTOR_ENCODER = 3
    ELECTRICAL_SHOCK = 4
    OVERLOAD = 5


@dataclass(frozen=True)
class Field:
    address: int
    size: int  # bytes: 1, 2 or 4
    writable: bool
    initial: int = 0
    signed: bool = False  # two's complement (velocities, currents, homing offset)
    unit: float = 1.0  # SI per raw count (rad, rad/s, A, V, degC, ...)

    @property
    def eeprom(self) -> bool:
        return self.address < EEPROM_END

    def encode(self, value: int) -> bytes:
        return value.to_bytes(self.size, "little", signed=self.signed)

    def decode(self, raw: bytes) -> int:
        return int.from_bytes(raw, "little", signed=self.signed)

    def to_si(self, raw: int) -> float:
        return raw * self.unit

    def from_si(self, value: float) -> int:
        return round(value / self.unit)


def _x_series() -> dict[str, Field]:
    rw, r = True, False
    return {
        "model_number": Field(0, 2, r),
        "model_information": Field(2, 4, r),
        "firmware_version": Field(6, 1, r, 45),
        "id": Field(7, 1, rw, 1),
        "baud_rate": Field(8, 1, rw, 1),
        "return_delay_time": Field(9, 1, rw, 250, unit=2e-6),
        "drive_mode": Field(10, 1, rw, 0),
        "operating_mode": Field(11, 1, rw, OperatingMode.POSITION),
        "secondary_id": Field(12, 1, rw, 255),
        "protocol_type": Field(13, 1, rw, 2),
        "homing_offset": Field(20, 4, rw, 0, signed=True, unit=RAD_PER_PULSE),
        "moving_threshold": Field(24, 4, rw, 10, unit=RAD_S_PER_VELOCITY),
        "temperature_limit": Field(31, 1, rw, 80),
        "max_voltage_limit": Field(32, 2, rw, 160, unit=0.1),
        "min_voltage_limit": Field(34, 2, rw, 95, unit=0.1),
        "pwm_limit": Field(36, 2, rw, 885),
        "current_limit": Field(38, 2, rw, 1193, unit=2.69e-3),
        "velocity_limit": Field(44, 4, rw, 200, unit=RAD_S_PER_VELOCITY),
        "max_position_limit": Field(48, 4, rw, 4095, unit=RAD_PER_PULSE),
        "min_position_limit": Field(52, 4, rw, 0, unit=RAD_PER_PULSE),
        "shutdown": Field(63, 1, rw, 52),
        "torque_enable": Field(64, 1, rw, 0),
        "led": Field(65, 1, rw, 0),
        "status_return_level": Field(68, 1, rw, 2),
        "registered_instruction": Field(69, 1, r),
        "hardware_error_status": Field(70, 1, r),
        "velocity_i_gain": Field(76, 2, rw, 1920),
        "velocity_p_gain": Field(78, 2, rw, 100),
        "position_d_gain": Field(80, 2, rw, 0),
        "position_i_gain": Field(82, 2, rw, 0),
        "position_p_gain": Field(84, 2, rw, 800),
        "bus_watchdog": Field(98, 1, rw, 0),
        "goal_pwm": Field(100, 2, rw, 0, signed=True),
        "goal_current": Field(102, 2, rw, 0, signed=True, unit=2.69e-3),
        "goal_velocity": Field(104, 4, rw, 0, signed=True, unit=RAD_S_PER_VELOCITY),
        "profile_acceleration": Field(108, 4, rw, 0, unit=RAD_S2_PER_ACCELERATION),
        "profile_velocity": Field(112, 4, rw, 0, unit=RAD_S_PER_VELOCITY),
        "goal_position": Field(116, 4, rw, 0, signed=True, unit=RAD_PER_PULSE),
        "realtime_tick": Field(120, 2, r, unit=1e-3),
        "moving": Field(122, 1, r),
        "moving_status": Field(123, 1, r),
        "present_pwm": Field(124, 2, r, signed=True),
        "present_current": Field(126, 2, r, signed=True, unit=2.69e-3),
        "present_velocity": Field(128, 4, r, signed=True, unit=RAD_S_PER_VELOCITY),
        "present_position": Field(132, 4, r, signed=True, unit=RAD_PER_PULSE),
        "velocity_trajectory": Field(136, 4, r, signed=True, unit=RAD_S_PER_VELOCITY),
        "position_trajectory": Field(140, 4, r, signed=True, unit=RAD_PER_PULSE),
        "present_input_voltage": Field(144, 2, r, unit=0.1),
        "present_temperature": Field(146, 1, r),
    }


ALL_MODES = tuple(OperatingMode)


X_SERIES = _x_series()  # where every X-series model keeps each field (initial values differ)


@dataclass(frozen=True)
class Model:
    name: str
    number: int  # what Model Number (address 0) reads
    fields: dict[str, Field]
    operating_modes: tuple[OperatingMode, ...] = ALL_MODES

    @property
    def has_current(self) -> bool:
        return "goal_current" in self.fields

    def field(self, name: str) -> Field:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"{self.name} has no field {name!r}") from None

    @property
    def size(self) -> int:
        """Bytes of the table (the end of its last field)."""
        return max(f.address + f.size for f in self.fields.values())


def _model(
    name: str,
    number: int,
    changes: dict[str, Field | None],
    modes: tuple[OperatingMode, ...] = ALL_MODES,
) -> Model:
    fields = _x_series()
    fields["model_number"] = replace(fields["model_number"], initial=number)
    for key, value in changes.items():
        if value is None:
            del fields[key]
        else:
            fields[key] = value
    return Model(name, number, fields, modes)


def _scaled(name: str, **changes: float | int) -> Field:
    return replace(_x_series()[name], **changes)  # type: ignore[arg-type]


# initial values as the e-manual's current pages give them; some changed between versions
# (Velocity Limit above all): a driver reads limits from the servo, never from here
MODELS: dict[str, Model] = {
    "xl330-m288": _model("xl330-m288", 1200, {
        "current_limit": _scaled("current_limit", initial=1750, unit=1e-3),
        "goal_current": _scaled("goal_current", unit=1e-3),
        "present_current": _scaled("present_current", unit=1e-3),
        "velocity_limit": _scaled("velocity_limit", initial=445),
        "max_voltage_limit": _scaled("max_voltage_limit", initial=70),
        "min_voltage_limit": _scaled("min_voltage_limit", initial=35),
        "temperature_limit": _scaled("temperature_limit", initial=70),
        "shutdown": _scaled("shutdown", initial=53),
        "velocity_i_gain": _scaled("velocity_i_gain", initial=1600),
        "velocity_p_gain": _scaled("velocity_p_gain", initial=180),
        "position_p_gain": _scaled("position_p_gain", initial=400),
    }),
    "xl430-w250": _model("xl430-w250", 1060, {
        "current_limit": None, "goal_current": None, "present_current": None,
        "present_load": Field(126, 2, False, signed=True, unit=1e-3),  # 0.1 % of max torque
        "temperature_limit": _scaled("temperature_limit", initial=72),
        "max_voltage_limit": _scaled("max_voltage_limit", initial=140),
        "min_voltage_limit": _scaled("min_voltage_limit", initial=60),
        "velocity_limit": _scaled("velocity_limit", initial=265),
        "velocity_i_gain": _scaled("velocity_i_gain", initial=1000),
        "position_d_gain": _scaled("position_d_gain", initial=4000),
        "position_p_gain": _scaled("position_p_gain", initial=640),
    }, modes=(OperatingMode.VELOCITY, OperatingMode.POSITION, OperatingMode.EXTENDED_POSITION,
              OperatingMode.PWM)),
    "xm430-w350": _model("xm430-w350", 1020, {}),
    "xm540-w270": _model("xm540-w270", 1120, {
        "current_limit": _scaled("current_limit", initial=2047),
        "velocity_limit": _scaled("velocity_limit", initial=128),
    }),
}  # fmt: skip
MODEL_BY_NUMBER = {m.number: m for m in MODELS.values()}


def model(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown servo model {name!r}; known: {sorted(MODELS)}") from None
