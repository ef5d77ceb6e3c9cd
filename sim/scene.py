"""MJCF for the peg-insertion rig: table, square socket, gantry gripper with tactile pads, peg.

The model is generated from `PegInsertionScene`, a frozen set of geometric and physical
parameters, so a task can vary the clearance or the peg without editing XML by hand.

Frames and conventions (metres, world frame; the world origin is where an arm's base would be):
- The table top is the plane z = 0. The socket is a mocap body on the table whose four box
  walls surround a square hole of side `peg_side + 2 * clearance`; the env moves it each episode.
- The hand moves on three slide joints whose values are its world position (each joint's `ref`
  equals the hand's home coordinate), driven by gravity-compensated position actuators.
- Two fingers slide along +y / -y; each finger joint's value is the distance of its pad's inner
  face from the hand's centre line, so the opening between the pads is the sum of the two.
- Each pad carries a site at the centre of its inner face: z points out of the gel towards the
  object, y points down (image rows), x completes the frame (image columns). `sim.tactile` reads it.
- Gripper geoms are in geom group 1 (`GRIPPER_GROUP`); tactile rays skip that group.
"""

from __future__ import annotations

from dataclasses import dataclass

HAND_JOINTS = ("hand_x", "hand_y", "hand_z")
FINGER_JOINTS = ("finger_left", "finger_right")
HAND_ACTUATORS = ("act_x", "act_y", "act_z")
FINGER_ACTUATORS = ("act_finger_left", "act_finger_right")
PADS = ("left_pad", "right_pad")  # geom and site names, one per fingertip sensor
SCENE_CAMERA = "scene"
GRIPPER_GROUP = 1

_TEMPLATE = """\
<mujoco model="vitac_peg_insertion">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{dt}" integrator="implicitfast" cone="elliptic" impratio="{impratio}"/>
  <visual>
    <quality shadowsize="0" offsamples="{offsamples}"/>
    <global offwidth="{offwidth}" offheight="{offheight}"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
  </visual>
  <default>
    <geom solref="0.01 1" solimp="0.95 0.99 0.001"/>
    <default class="gripper">
      <geom group="{gripper_group}" rgba="0.25 0.25 0.28 1" friction="1 0.005 0.0001"/>
    </default>
    <default class="pad">
      <geom group="{gripper_group}" rgba="0.08 0.55 0.45 1" friction="{pad_friction} 0.01 0.0001"
            solref="{pad_solref} 1" solimp="0.9 0.97 0.002" priority="1"/>
    </default>
    <default class="wall">
      <geom type="box" rgba="0.9 0.4 0.1 1" friction="0.4 0.005 0.0001"/>
    </default>
  </default>
  <worldbody>
    <light pos="{cx} -0.3 1.2" dir="0 0.25 -1" directional="true" castshadow="false"
           diffuse="0.6 0.6 0.6"/>
    <geom name="table" type="plane" size="0.6 0.6 0.02" pos="{cx} 0 0" rgba="0.78 0.78 0.72 1"/>
    <camera name="{camera}" pos="{cam_pos}" xyaxes="{cam_xyaxes}" fovy="{fovy}"/>
    <body name="socket" mocap="true" pos="{cx} 0 0">
      <geom name="wall_px" class="wall" pos="{wall_off} 0 {wall_hz}"
            size="{wall_ht} {wall_hl} {wall_hz}"/>
      <geom name="wall_nx" class="wall" pos="-{wall_off} 0 {wall_hz}"
            size="{wall_ht} {wall_hl} {wall_hz}"/>
      <geom name="wall_py" class="wall" pos="0 {wall_off} {wall_hz}"
            size="{hole} {wall_ht} {wall_hz}"/>
      <geom name="wall_ny" class="wall" pos="0 -{wall_off} {wall_hz}"
            size="{hole} {wall_ht} {wall_hz}"/>
    </body>
    <body name="hand" pos="{home}" gravcomp="1">
      <joint name="hand_x" type="slide" axis="1 0 0" ref="{home_x}" range="{range_x}" damping="5"/>
      <joint name="hand_y" type="slide" axis="0 1 0" ref="{home_y}" range="{range_y}" damping="5"/>
      <joint name="hand_z" type="slide" axis="0 0 1" ref="{home_z}" range="{range_z}" damping="5"/>
      <geom name="palm" class="gripper" type="box" size="0.02 0.045 0.01" mass="{hand_mass}"/>
      <body name="left_finger" pos="0 {grasp_half} 0" gravcomp="1">
        <joint name="finger_left" type="slide" axis="0 1 0" ref="{grasp_half}"
               range="0 {finger_max}" damping="2"/>
        <geom name="left_link" class="gripper" type="box" mass="0.03"
              pos="0 {link_y} {link_z}" size="{pad_hx} 0.003 {link_hz}"/>
        <geom name="left_pad" class="pad" type="box" mass="0.01"
              pos="0 {pad_hy} {pad_z}" size="{pad_hx} {pad_hy} {pad_hz}"/>
        <site name="left_pad" group="3" pos="0 0 {pad_z}" xyaxes="-1 0 0 0 0 -1" size="0.002"/>
      </body>
      <body name="right_finger" pos="0 -{grasp_half} 0" gravcomp="1">
        <joint name="finger_right" type="slide" axis="0 -1 0" ref="{grasp_half}"
               range="0 {finger_max}" damping="2"/>
        <geom name="right_link" class="gripper" type="box" mass="0.03"
              pos="0 -{link_y} {link_z}" size="{pad_hx} 0.003 {link_hz}"/>
        <geom name="right_pad" class="pad" type="box" mass="0.01"
              pos="0 -{pad_hy} {pad_z}" size="{pad_hx} {pad_hy} {pad_hz}"/>
        <site name="right_pad" group="3" pos="0 0 {pad_z}" xyaxes="1 0 0 0 0 -1" size="0.002"/>
      </body>
    </body>
    <body name="peg" pos="{peg_pos}">
      <freejoint name="peg"/>
      <geom name="peg" type="box" size="{peg_half} {peg_half} {peg_half_len}" mass="{peg_mass}"
            rgba="0.15 0.35 0.95 1" friction="0.6 0.005 0.0001"/>
    </body>
  </worldbody>
  <contact>
    <exclude body1="left_finger" body2="right_finger"/>
  </contact>
  <actuator>
    <position name="act_x" joint="hand_x" kp="{kp_hand}" dampratio="1" ctrlrange="{range_x}"
              forcerange="-{hand_force} {hand_force}"/>
    <position name="act_y" joint="hand_y" kp="{kp_hand}" dampratio="1" ctrlrange="{range_y}"
              forcerange="-{hand_force} {hand_force}"/>
    <position name="act_z" joint="hand_z" kp="{kp_hand}" dampratio="1" ctrlrange="{range_z}"
              forcerange="-{hand_force} {hand_force}"/>
    <position name="act_finger_left" joint="finger_left" kp="{kp_finger}" dampratio="1"
              ctrlrange="0 {finger_max}" forcerange="-{finger_force} {finger_force}"/>
    <position name="act_finger_right" joint="finger_right" kp="{kp_finger}" dampratio="1"
              ctrlrange="0 {finger_max}" forcerange="-{finger_force} {finger_force}"/>
  </actuator>
</mujoco>
"""


@dataclass(frozen=True)
class PegInsertionScene:
    """Parameters of the generated MJCF. Lengths in metres, masses in kg, forces in newtons."""

    clearance: float = 0.004  # gap between peg and hole on each side
    peg_side: float = 0.02
    peg_length: float = 0.06
    peg_mass: float = 0.05
    socket_height: float = 0.03
    socket_wall: float = 0.01  # wall thickness
    home: tuple[float, float, float] = (0.35, 0.0, 0.19)  # hand position at reset
    joint_low: tuple[float, float, float] = (0.18, -0.17, 0.08)  # hand slide joint limits
    joint_high: tuple[float, float, float] = (0.52, 0.17, 0.32)
    pad_half: tuple[float, float] = (0.012, 0.012)  # pad face half extents: along x, along z
    pad_thickness: float = 0.004
    pad_drop: float = 0.06  # pad centre below the hand origin
    peg_below_pad: float = 0.02  # grasped peg centre below the pad centre (before offsets)
    pad_friction: float = 1.5
    pad_solref: float = 0.01  # contact time constant of the pads (s): larger is softer
    hand_mass: float = 0.5
    kp_hand: float = 3000.0  # N/m
    hand_force: float = 15.0  # actuator force limit per axis
    kp_finger: float = 1000.0  # N/m
    finger_force: float = 20.0
    finger_max: float = 0.035  # largest distance of a pad face from the centre line
    timestep: float = 0.002
    impratio: float = 10.0
    camera_pos: tuple[float, float, float] = (0.59, -0.15, 0.29)
    camera_target: tuple[float, float, float] = (0.35, 0.0, 0.085)
    camera_fovy: float = 45.0
    offscreen_samples: int = 4  # MSAA samples for offscreen rendering
    offscreen_size: tuple[int, int] = (640, 480)  # largest offscreen (width, height)

    @property
    def hole_half(self) -> float:
        return self.peg_side / 2 + self.clearance

    @property
    def grasp_half(self) -> float:
        """Finger joint value at which the pads touch a centred peg."""
        return self.peg_side / 2

    def peg_home(self, offset: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple[float, ...]:
        """World position of the peg centre grasped at home, shifted by `offset`."""
        hx, hy, hz = self.home
        return (
            hx + offset[0],
            hy + offset[1],
            hz - self.pad_drop - self.peg_below_pad + offset[2],
        )

    def to_xml(self) -> str:
        """The MJCF text of the scene."""
        pad_hx, pad_hz = self.pad_half
        pad_hy = self.pad_thickness / 2
        link_top, link_bottom = -0.01, -self.pad_drop - pad_hz  # from the palm to the pad bottom
        wall_hl = self.hole_half + self.socket_wall
        return _TEMPLATE.format(
            dt=_f(self.timestep),
            impratio=_f(self.impratio),
            offsamples=self.offscreen_samples,
            offwidth=self.offscreen_size[0],
            offheight=self.offscreen_size[1],
            gripper_group=GRIPPER_GROUP,
            pad_friction=_f(self.pad_friction),
            pad_solref=_f(self.pad_solref),
            cx=_f(self.home[0]),
            camera=SCENE_CAMERA,
            cam_pos=_v(self.camera_pos),
            cam_xyaxes=_v(look_at_xyaxes(self.camera_pos, self.camera_target)),
            fovy=_f(self.camera_fovy),
            wall_off=_f(self.hole_half + self.socket_wall / 2),
            wall_ht=_f(self.socket_wall / 2),
            wall_hl=_f(wall_hl),
            wall_hz=_f(self.socket_height / 2),
            hole=_f(self.hole_half),
            home=_v(self.home),
            home_x=_f(self.home[0]),
            home_y=_f(self.home[1]),
            home_z=_f(self.home[2]),
            range_x=_v((self.joint_low[0], self.joint_high[0])),
            range_y=_v((self.joint_low[1], self.joint_high[1])),
            range_z=_v((self.joint_low[2], self.joint_high[2])),
            hand_mass=_f(self.hand_mass),
            grasp_half=_f(self.grasp_half),
            finger_max=_f(self.finger_max),
            link_y=_f(self.pad_thickness + 0.003),
            link_z=_f((link_top + link_bottom) / 2),
            link_hz=_f((link_top - link_bottom) / 2),
            pad_hx=_f(pad_hx),
            pad_hy=_f(pad_hy),
            pad_hz=_f(pad_hz),
            pad_z=_f(-self.pad_drop),
            peg_pos=_v(self.peg_home()),
            peg_half=_f(self.peg_side / 2),
            peg_half_len=_f(self.peg_length / 2),
            peg_mass=_f(self.peg_mass),
            kp_hand=_f(self.kp_hand),
            hand_force=_f(self.hand_force),
            kp_finger=_f(self.kp_finger),
            finger_force=_f(self.finger_force),
        )


def look_at_xyaxes(
    pos: tuple[float, float, float], target: tuple[float, float, float]
) -> tuple[float, ...]:
    """MJCF `xyaxes` of a camera at `pos` looking at `target` with world +z up in the image."""
    forward = [t - p for p, t in zip(pos, target, strict=True)]
    norm = sum(c * c for c in forward) ** 0.5
    f = [c / norm for c in forward]
    # camera x = forward x up, camera y = x cross forward (MuJoCo cameras look along -z)
    x = [f[1], -f[0], 0.0]
    xn = sum(c * c for c in x) ** 0.5
    x = [c / xn for c in x]
    y = [x[1] * f[2] - x[2] * f[1], x[2] * f[0] - x[0] * f[2], x[0] * f[1] - x[1] * f[0]]
    return (*x, *y)


def _f(value: float) -> str:
    return f"{value:.6g}"


def _v(values: tuple[float, ...]) -> str:
    return " ".join(_f(v) for v in values)
