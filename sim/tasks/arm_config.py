"""What every arm task is built from: its settings (`ArmTaskConfig`) and its MJCF scene.

The scene: a table whose top is the plane z = 0, the arm of `drivers/assets/wx250s_tactile.xml`
(its base is the world origin) with two tactile pads and the `wrist` camera, the fixed `scene`
camera, two lights, and the task's own defaults, bodies and extra sections. `arm_scene_xml`
fills the template; the arm file is included, not copied, so MuJoCo loads it from the assets
given to `MjModel.from_xml_string`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.kinematics import ARM_MJCF
from sim.scene import look_at_xyaxes
from sim.sensor_unit import MAX_SPREAD
from sim.tactile import profile
from sim.tasks import check_control_settings

Vec3 = tuple[float, float, float]
SCENE_CAMERA = "scene"


class ArmTaskConfig(BaseModel):
    """Settings every arm task shares. Lengths in metres, angles in radians."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # observations
    image_size: int = Field(default=84, ge=16, le=480)  # camera image side, pixels
    cameras: tuple[Literal["scene", "wrist"], ...] = ("scene", "wrist")
    depth_cameras: tuple[Literal["scene", "wrist"], ...] = ()
    tactile_profile: str = "gelsight_mini"  # a key of sim.tactile.PROFILES
    tactile_size: tuple[int, int] | None = (60, 80)  # (H, W) pixels; None: sensor native
    tactile_markers: bool | None = None  # None: the profile's default
    tactile_noise: bool = True  # per-pixel sensor noise, drawn from the episode seed
    # sensor units (sim.sensor_unit): 0 = the profile's nominal unit on both pads; N = each
    # episode's gripper is one of N units (a pair of pads each) of the pool `tactile_unit_seed`
    tactile_units: int = Field(default=0, ge=0, le=1_000_000)
    tactile_unit_seed: int = Field(default=0, ge=0)  # another seed: another lab's units
    tactile_unit_spread: float = Field(default=1.0, ge=0.0, le=MAX_SPREAD)
    render_height: int = Field(default=240, ge=16, le=960)  # render() frame
    render_width: int = Field(default=320, ge=16, le=1280)
    # control
    action_mode: Literal["abs_pose", "delta_pose"] = "abs_pose"
    control_hz: float = Field(default=10.0, gt=0.0, le=100.0)
    physics_dt: float = Field(default=0.002, gt=0.0, le=0.005)
    max_step_m: float = Field(default=0.02, gt=0.0, le=0.1)  # TCP translation per step
    max_rot_step_rad: float = Field(default=0.25, gt=0.0, le=1.0)  # TCP rotation per step
    workspace_low: Vec3 = (0.15, -0.25, 0.016)  # TCP >= 16 mm: fingertips above the table
    workspace_high: Vec3 = (0.45, 0.25, 0.30)
    # episode
    max_steps: int = Field(default=100, ge=1, le=10_000)
    settle_s: float = Field(default=0.2, ge=0.0, le=2.0)
    randomize: bool = True  # domain randomisation, see sim.tasks.randomize

    @model_validator(mode="after")
    def _consistent(self) -> ArmTaskConfig:
        profile(self.tactile_profile)  # ValueError naming the profiles there are
        if not set(self.depth_cameras) <= set(self.cameras):
            raise ValueError(f"depth_cameras {self.depth_cameras} must be among {self.cameras}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras {self.cameras} lists a camera twice")
        check_control_settings(
            self.workspace_low, self.workspace_high, self.control_hz, self.physics_dt
        )
        return self

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return round(1.0 / (self.control_hz * self.physics_dt))


# impratio 100 (MuJoCo's ratio of frictional to normal constraint stiffness; 10 before): its
# soft friction lets a grasped part creep under any sustained torque, far below the friction
# limit (pad friction 1.5 vs 3 changed nothing). A 9 N press on the rim turned a grasped
# switch3 6.8 mrad at 10 and 1.6 mrad at 100 (tests/sim/test_tactile_insertion.py measures it).
_SCENE_TEMPLATE = """\
<mujoco model="vitac_{name}">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{dt}" integrator="implicitfast" cone="elliptic" impratio="100"/>
  <size memory="{memory}"/>
  <visual>
    <quality shadowsize="0" offsamples="0"/>
    <global offwidth="{offwidth}" offheight="{offheight}"/>
    <headlight ambient="0.25 0.25 0.25" diffuse="0.2 0.2 0.2" specular="0 0 0"/>
  </visual>
  <default>
    <geom solref="0.01 1" solimp="0.95 0.99 0.001"/>
{defaults}
  </default>
  <include file="{arm_file}"/>
  <worldbody>
    <light name="key" pos="0.3 -0.4 1.2" dir="0 0.3 -1" directional="true" castshadow="false"
           diffuse="0.45 0.45 0.45"/>
    <light name="fill" pos="-0.3 0.4 1.0" dir="0.3 -0.3 -1" directional="true"
           castshadow="false" diffuse="0.12 0.12 0.12"/>
    <geom name="table" type="plane" size="0.8 0.8 0.02" pos="0.3 0 0" rgba="0.62 0.6 0.55 1"
          friction="0.8 0.005 0.0001"/>
    <camera name="{camera}" pos="{cam_pos}" xyaxes="{cam_xyaxes}" fovy="{fovy}"/>
{bodies}
  </worldbody>
{extra}
</mujoco>
"""


def arm_scene_xml(
    config: ArmTaskConfig,
    name: str,
    camera_pos: Vec3,
    camera_target: Vec3,
    camera_fovy: float,
    defaults: str = "",
    bodies: str = "",
    extra: str = "",
) -> str:
    """The full MJCF of an arm task's scene `vitac_<name>`.

    The scene camera sits at `camera_pos` looking at `camera_target` with a vertical field of
    view of `camera_fovy` degrees; `defaults` (default classes), `bodies` (inside the
    worldbody) and `extra` (top-level sections) are the task's own MJCF.
    """
    return _SCENE_TEMPLATE.format(
        name=name,
        dt=f"{config.physics_dt:.6g}",
        memory="20M",
        offwidth=max(640, config.render_width, config.image_size),
        offheight=max(480, config.render_height, config.image_size),
        arm_file=ARM_MJCF.name,
        camera=SCENE_CAMERA,
        cam_pos=_v(camera_pos),
        cam_xyaxes=_v(look_at_xyaxes(camera_pos, camera_target)),
        fovy=f"{camera_fovy:.6g}",
        defaults=defaults,
        bodies=bodies,
        extra=extra,
    )


def _v(values: tuple[float, ...]) -> str:
    return " ".join(f"{v:.6g}" for v in values)
