"""Which servo drives which joint, and an arm's calibration.

`ARMS` names the servo layouts vitac knows. The wx250s layout is Interbotix's WidowX-250 6DOF
(their motor configuration and Trossen's servo table): nine servos at 1 Mbps, the shoulder
and elbow each driven by two XM430-W350s (the second mounted mirrored: Drive Mode reverse,
Secondary ID = the first's id, so it carries out the first's commands without replying).
Joint limits are not here: they come from the arm's one kinematic description
(drivers/kinematics.py), which the sim twin shares.

A `Calibration` (JSON, one per physical arm) maps each joint's angle to its servo's pulses:

    pulses = CENTRE + direction x angle / RAD_PER_PULSE + offset

so angle 0 is the pose the arm was calibrated in. The gripper's calibration holds the pulses
at which its fingers are fully open and closed.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drivers.base import DeviceError
from drivers.dynamixel.tables import PULSES_PER_REV, RAD_PER_PULSE

CENTRE = PULSES_PER_REV // 2


class ServoJoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=0, le=252)
    model: str
    shadow: int | None = Field(None, ge=0, le=252, description="a mirrored second servo")


class ArmLayout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    baudrate: int
    joints: dict[str, ServoJoint]  # in ARM_JOINTS order
    gripper: ServoJoint

    def servos(self) -> dict[int, str]:
        """Every servo id -> model name, shadows included."""
        out = {}
        for j in [*self.joints.values(), self.gripper]:
            out[j.id] = j.model
            if j.shadow is not None:
                out[j.shadow] = j.model
        return out


XM430, XL430 = "xm430-w350", "xl430-w250"
ARMS = {
    "wx250s": ArmLayout(
        name="wx250s",
        baudrate=1_000_000,
        joints={
            "waist": ServoJoint(id=1, model=XM430),
            "shoulder": ServoJoint(id=2, model=XM430, shadow=3),
            "elbow": ServoJoint(id=4, model=XM430, shadow=5),
            "forearm_roll": ServoJoint(id=6, model=XM430),
            "wrist_angle": ServoJoint(id=7, model=XM430),
            "wrist_rotate": ServoJoint(id=8, model=XL430),
        },
        gripper=ServoJoint(id=9, model=XL430),
    ),
}


class JointCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: int = Field(1, description="+1, or -1 where the servo turns against the joint")
    offset: int = Field(0, ge=-PULSES_PER_REV, le=PULSES_PER_REV, description="pulses")

    @model_validator(mode="after")
    def _sign(self) -> JointCalibration:
        if self.direction not in (1, -1):
            raise ValueError(f"direction {self.direction}: must be 1 or -1")
        return self


class GripperCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    open: int = Field(ge=0, lt=PULSES_PER_REV, description="pulses, fingers fully open")
    closed: int = Field(ge=0, lt=PULSES_PER_REV, description="pulses, fingers together")

    @model_validator(mode="after")
    def _apart(self) -> GripperCalibration:
        if self.open == self.closed:
            raise ValueError("gripper open and closed must differ")
        return self


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    arm: str
    joints: dict[str, JointCalibration]
    gripper: GripperCalibration

    @model_validator(mode="after")
    def _complete(self) -> Calibration:
        if self.arm not in ARMS:
            raise ValueError(f"arm {self.arm!r}: known arms are {sorted(ARMS)}")
        if list(self.joints) != list(ARMS[self.arm].joints):
            raise ValueError(f"joints {list(self.joints)}: the {self.arm} has "
                             f"{list(ARMS[self.arm].joints)}, in that order")  # fmt: skip
        return self

    def to_pulses(self, joint: str, angle: float) -> int:
        c = self.joints[joint]
        return round(CENTRE + c.direction * angle / RAD_PER_PULSE + c.offset)

    def to_angle(self, joint: str, pulses: int) -> float:
        c = self.joints[joint]
        return c.direction * (pulses - CENTRE - c.offset) * RAD_PER_PULSE

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1) + "\n")


def load_calibration(path: Path) -> Calibration:
    """A calibration file, or one DeviceError line naming what is wrong with it."""
    try:
        return Calibration.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        raise DeviceError(
            f"{path}: no calibration file; make one with vitac arm calibrate"
        ) from None
    except (json.JSONDecodeError, IsADirectoryError, UnicodeDecodeError) as err:
        raise DeviceError(f"{path}: not a calibration file ({err})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise DeviceError(f"{path}: {where}: {first['msg']}") from None


def default_calibration(arm: str) -> Calibration:
    """Angle 0 at each servo's centre, every servo turning with its joint; the gripper's
    range a quarter turn (a starting point: `vitac arm calibrate` measures a real arm)."""
    joints = {name: JointCalibration() for name in ARMS[arm].joints}
    gripper = GripperCalibration(open=CENTRE + 512, closed=CENTRE - 512)
    return Calibration(arm=arm, joints=joints, gripper=gripper)
