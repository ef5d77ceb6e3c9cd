"""[rig]: the real devices `vitac run` drives instead of the sim twin (launch/real_rig.py).

    [rig.arm]                                  # a Dynamixel Protocol 2.0 arm (the wx250s)
    port = "/dev/serial/by-id/usb-FTDI_USB__-__Serial_Converter_FT6Z5XYZ-if00-port0"
    calibration = "arms/left.json"             # written by `vitac arm calibrate`
    [rig.cameras.scene]                        # a device, by any name
    type = "realsense"
    serial = "123456789012"                    # or recording = "scene.db3"
    colour = "rgb.scene"                       # the observation each stream becomes
    [rig.cameras.left_pad]
    type = "tactile"
    sensor = "gelsight_mini"
    device = "serial:2BKR8XYZ"
    key = "tactile.left"

Each camera stream becomes the observation key it names, in the layout the task's twin
gives that key (the policy was trained on it): images centre-cropped to the twin's aspect
and resized, depth in millimetres. The arm gives the proprioception the twin has
(`proprio.joints`, `proprio.ee_pose`, `proprio.ee_command`, `proprio.gripper`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.tactile_profiles import SENSORS


class ArmSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["dynamixel"] = "dynamixel"
    port: str = Field(description="the USB-serial adapter, best by /dev/serial/by-id/")
    calibration: Path = Field(description="the arm's calibration file (`vitac arm calibrate`)")
    baud: int | None = Field(None, gt=0, description="bps; None: the arm layout's")
    rate_hz: float = Field(100.0, gt=0, le=1000, description="the arm's control loop rate")
    reply_timeout_ms: float = Field(
        20.0, gt=0, le=1000, description="how long a servo's reply may take before a retry "
        "(a real bus replies within a millisecond; an emulator on a busy machine may not)",
    )  # fmt: skip


class RealSenseSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["realsense"]
    serial: str | None = Field(None, description="None: the only RealSense plugged in")
    recording: Path | None = Field(None, description="a .db3 recording played instead")
    colour: str | None = Field("rgb.scene", description="observation key of the colour images")
    depth: str | None = Field(None, description="observation key of the depth images")
    width: int = Field(640, gt=0)
    height: int = Field(480, gt=0)
    fps: int = Field(30, gt=0)

    @model_validator(mode="after")
    def _one_source_some_stream(self) -> RealSenseSection:
        if self.serial is not None and self.recording is not None:
            raise ValueError("give serial (a live camera) or recording, not both")
        if self.colour is None and self.depth is None:
            raise ValueError("name the observation of colour, depth or both")
        return self

    def observations(self) -> list[str]:
        return [k for k in (self.colour, self.depth) if k is not None]


class TactileSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["tactile"]
    sensor: str = Field(description=f"one of {sorted(SENSORS)}")
    device: str | int = Field(description="serial:<text>, a /dev/v4l/by-id path, /dev/videoN")
    key: str = Field(description="the observation its images become, e.g. tactile.left")
    exposure: float | None = Field(None, description="fixed exposure, V4L2 units (100 us)")
    white_balance_k: int | None = Field(None, ge=2000, le=10000)

    @field_validator("sensor")
    @classmethod
    def _known_sensor(cls, value: str) -> str:
        if value not in SENSORS:
            raise ValueError(f"unknown tactile sensor {value!r}; known: {sorted(SENSORS)}")
        return value

    def observations(self) -> list[str]:
        return [self.key]


CameraSection = Annotated[RealSenseSection | TactileSection, Field(discriminator="type")]


class RigSection(BaseModel):
    """See the module docstring."""

    model_config = ConfigDict(extra="forbid")

    arm: ArmSection
    cameras: dict[str, CameraSection] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_device_per_key(self) -> RigSection:
        seen: dict[str, str] = {}
        for name, camera in self.cameras.items():
            for key in camera.observations():
                if key in seen:
                    raise ValueError(f"cameras {seen[key]!r} and {name!r} both give {key!r}")
                seen[key] = name
        return self

    def camera_keys(self) -> dict[str, str]:
        """Observation key -> the name of the camera that gives it."""
        return {key: name for name, c in self.cameras.items() for key in c.observations()}
