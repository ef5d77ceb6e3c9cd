"""`PegInsertionConfig`: every knob of the peg-insertion task, validated at construction.

Lengths are metres unless the field name says `_mm`. Unknown keys and out-of-range values raise
pydantic's `ValidationError`, which names the field and the allowed range.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.scene import PegInsertionScene
from sim.tactile_profile import PROFILES, TactileProfile, profile
from sim.tasks import check_control_settings

Vec3 = tuple[float, float, float]


class PegInsertionConfig(BaseModel):
    """Observation sizes, episode layout and physics of `vitac/PegInsertion-v0`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # observations
    image_size: int = Field(default=64, ge=16, le=480)  # scene camera image side, pixels
    tactile_size: int = Field(default=32, ge=8, le=256)  # tactile image side, pixels
    tactile_profile: str = "gelsight_mini"  # a name in sim.tactile_profile.PROFILES
    tactile_noise: bool = False  # the profile's sensor noise, drawn from the env's np_random
    render_height: int = Field(default=240, ge=16, le=480)  # render() frame, pixels
    render_width: int = Field(default=320, ge=16, le=640)
    # episode layout, randomised per episode from the reset seed
    clearance_mm: float = Field(default=4.0, gt=0.0, le=10.0)  # peg-hole gap on each side
    socket_range_m: float = Field(default=0.05, ge=0.0, le=0.08)  # socket xy: home +- this
    grasp_offset_m: float = Field(default=0.003, ge=0.0, le=0.006)  # peg offset in the grasp
    max_steps: int = Field(default=60, ge=1, le=10_000)  # control steps before truncation
    success_depth_m: float = Field(default=0.015, gt=0.0, le=0.025)  # peg bottom below rim
    # control
    control_hz: float = Field(default=10.0, gt=0.0, le=100.0)
    max_step_m: float = Field(default=0.015, gt=0.0, le=0.05)  # hand target change per step
    workspace_low: Vec3 = (0.20, -0.15, 0.108)
    workspace_high: Vec3 = (0.50, 0.15, 0.30)
    max_width_m: float = Field(default=0.06, gt=0.0, le=0.07)  # largest gripper opening
    # physics (not randomised)
    physics_dt: float = Field(default=0.002, gt=0.0, le=0.01)
    settle_s: float = Field(default=0.2, ge=0.0, le=2.0)  # physics time to settle the grasp
    peg_mass_kg: float = Field(default=0.05, gt=0.0, le=0.5)
    pad_friction: float = Field(default=1.5, gt=0.0, le=3.0)
    gel_thickness_mm: float | None = Field(default=None, gt=0.0, le=5.0)  # None: the profile's

    @field_validator("tactile_profile")
    @classmethod
    def _known_profile(cls, name: str) -> str:
        profile(name)  # ValueError naming the profiles there are
        return name

    @model_validator(mode="after")
    def _consistent(self) -> PegInsertionConfig:
        check_control_settings(
            self.workspace_low, self.workspace_high, self.control_hz, self.physics_dt
        )
        home = PegInsertionScene().home
        for axis in range(3):
            if not self.workspace_low[axis] <= home[axis] <= self.workspace_high[axis]:
                raise ValueError(f"the workspace must contain the home position {home}")
        return self

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return round(1.0 / (self.control_hz * self.physics_dt))

    def tactile_profile_model(self) -> TactileProfile:
        """The tactile profile, with `gel_thickness_mm` applied when it is set."""
        base = PROFILES[self.tactile_profile]
        if self.gel_thickness_mm is None:
            return base
        return base.model_copy(update={"gel_thickness_m": self.gel_thickness_mm / 1000.0})

    def scene(self) -> PegInsertionScene:
        """The MJCF parameters these settings imply."""
        margin = 0.02  # joint limits lie just outside the workspace the actions are clipped to
        low = (
            self.workspace_low[0] - margin,
            self.workspace_low[1] - margin,
            self.workspace_low[2] - margin,
        )
        high = (
            self.workspace_high[0] + margin,
            self.workspace_high[1] + margin,
            self.workspace_high[2] + margin,
        )
        return PegInsertionScene(
            clearance=self.clearance_mm / 1000.0,
            peg_mass=self.peg_mass_kg,
            pad_friction=self.pad_friction,
            timestep=self.physics_dt,
            joint_low=low,
            joint_high=high,
            finger_max=self.max_width_m / 2 + 0.005,
            offscreen_size=(max(640, self.render_width), max(480, self.render_height)),
        )
