"""`vitac/TactileInsertion-v0`: insert a grasped pin part into its socket with 0.4 mm clearance.

The flagship task: after the T3 paper's electronics insertion (a 3-pin switch, a 12-pin USB-like
and a 17-pin VGA-like part). The part starts in the gripper, which hovers above the table; the
socket stands at a random position and yaw. The socket's pose as the cameras would estimate it
(`socket_estimate_xy`, in `privileged_state`) is off by up to `socket_error_mm` (uniform in a
disk); at 84x84 the scene camera sees about 5 mm per pixel, so vision cannot resolve that
error, and with a clearance of a few tenths of a millimetre the part jams on the rim unless the
robot feels the contact and corrects. Success: the housing is `success_depth_mm` into the
cavity, which needs the pins in their slots, within the time limit, with the part still in
the grasp (both pads touching it).

Geometry (socket frame: origin on the table under the cavity centre, z up; part frame: origin at
the housing centre, x along the pin rows, y across them, z up). The housing is a box grasped on
its +-y faces; its pins hang below it in rows along x. The socket is a block with a cavity of
the housing's footprint plus `clearance` on every side, `cavity_depth` deep, whose floor has one
slot per pin row (pin width plus the clearance on each side); everything is built from boxes,
which MuJoCo collides exactly and fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import mujoco
import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from drivers.kinematics import named_id, top_down_rotation
from drivers.rotations import quat_from_matrix, quat_from_yaw
from drivers.spec import FieldSpec
from sim.tasks.arm_config import ArmTaskConfig, Vec3
from sim.tasks.arm_env import ArmTaskEnv

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class PartVariant:
    """A grasped part: housing box and pin rows. Metres."""

    housing: tuple[float, float, float]  # full size x (along rows), y (grasped), z (height)
    pins_per_row: tuple[int, ...]
    pin_pitch: float  # along x, within a row
    row_pitch: float  # along y, between rows
    pin_width: float  # square pins
    pin_length: float  # below the housing

    @property
    def pin_count(self) -> int:
        return sum(self.pins_per_row)

    def pin_positions(self) -> list[tuple[float, float]]:
        """(x, y) of every pin centre in the part frame."""
        rows = len(self.pins_per_row)
        out = []
        for r, n in enumerate(self.pins_per_row):
            y = (r - (rows - 1) / 2) * self.row_pitch
            out += [((i - (n - 1) / 2) * self.pin_pitch, y) for i in range(n)]
        return out

    def row_offsets(self) -> list[float]:
        rows = len(self.pins_per_row)
        return [(r - (rows - 1) / 2) * self.row_pitch for r in range(rows)]


PARTS: dict[str, PartVariant] = {
    # 3 pins in one row (a toggle switch)
    "switch3": PartVariant((0.012, 0.008, 0.030), (3,), 0.0035, 0.0, 0.0012, 0.004),
    # 12 pins in two rows of 6 (a USB-like receptacle)
    "usb12": PartVariant((0.016, 0.010, 0.030), (6, 6), 0.002, 0.004, 0.0008, 0.004),
    # 17 pins in three rows, 6 + 6 + 5 (a VGA-like connector)
    "vga17": PartVariant((0.022, 0.012, 0.030), (6, 6, 5), 0.003, 0.0035, 0.0008, 0.004),
}


class TactileInsertionConfig(ArmTaskConfig):
    """Settings of `vitac/TactileInsertion-v0` (besides the rig's, see `ArmTaskConfig`)."""

    part: Literal["switch3", "usb12", "vga17"] = "switch3"
    clearance_mm: float = Field(default=0.4, gt=0.0, le=5.0)  # part-socket gap on each side
    socket_error_mm: float = Field(default=2.5, ge=0.0, le=10.0)  # estimate error radius
    socket_range_m: float = Field(default=0.05, ge=0.0, le=0.1)  # socket xy: centre +- this
    socket_yaw_range_rad: float = Field(default=0.3, ge=0.0, le=1.5)
    grasp_offset_mm: float = Field(default=2.0, ge=0.0, le=4.0)  # part offset in the grasp
    success_depth_mm: float = Field(default=6.0, gt=4.0, le=7.5)  # housing bottom below rim
    max_steps: int = Field(default=100, ge=1, le=10_000)


class TactileInsertionEnv(ArmTaskEnv):
    """Insert the grasped part into the socket; see the module docstring."""

    config_cls: ClassVar[type[ArmTaskConfig]] = TactileInsertionConfig
    name: ClassVar[str] = "tactile_insertion"
    randomized_geoms: ClassVar[tuple[str, ...]] = ("housing", "socket_base")
    randomized_bodies: ClassVar[tuple[str, ...]] = ("part",)
    camera_target: ClassVar[tuple[float, float, float]] = (0.3, 0.0, 0.03)

    socket_centre: ClassVar[tuple[float, float]] = (0.3, 0.0)
    socket_height: ClassVar[float] = 0.02  # rim above the table
    cavity_depth: ClassVar[float] = 0.008
    socket_wall: ClassVar[float] = 0.008
    part_mass: ClassVar[float] = 0.03  # kg, pins included
    min_inertia: ClassVar[float] = 1e-5  # kg m^2, per principal axis (see task_xml)
    part_below_tcp: ClassVar[float] = 0.008  # housing centre below the TCP along the approach
    hover_m: ClassVar[float] = 0.03  # housing bottom above the rim at the start
    # The wrist camera on this rig (gripper link frame: x along the approach, z to the camera's
    # side): behind the fingers, looking 20 degrees away from them, so that the fingertips,
    # the part and whatever lies under them are out of its view.
    wrist_mount: ClassVar[tuple[Vec3, Vec3]] = ((0.03, 0.0, 0.05), (0.94, 0.0, 0.342))

    config: TactileInsertionConfig

    def __init__(
        self,
        config: TactileInsertionConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(config, render_mode)
        m = self.model
        self._part_qpos = m.jnt_qposadr[named_id(m, mujoco.mjtObj.mjOBJ_JOINT, "part")]
        self._part_body = named_id(m, mujoco.mjtObj.mjOBJ_BODY, "part")
        self._socket_mocap = m.body_mocapid[named_id(m, mujoco.mjtObj.mjOBJ_BODY, "socket")]
        self._part_geoms = {g for g in range(m.ngeom) if m.geom_bodyid[g] == self._part_body}
        socket_body = named_id(m, mujoco.mjtObj.mjOBJ_BODY, "socket")
        self._socket_geoms = {g for g in range(m.ngeom) if m.geom_bodyid[g] == socket_body}
        self._socket_xy = np.array(self.socket_centre)
        self._socket_yaw = 0.0
        self._estimate_xy = self._socket_xy.copy()
        self._wrist_camera = named_id(m, mujoco.mjtObj.mjOBJ_CAMERA, "wrist")

    # ------------------------------------------------------------------ scene
    @property
    def variant(self) -> PartVariant:
        return PARTS[self.config.part]

    @property
    def clearance(self) -> float:
        return self.config.clearance_mm / 1000.0

    def task_xml(self) -> str:
        v, c, w = self.variant, self.clearance, self.socket_wall
        hx, hy, hz = (s / 2 for s in v.housing)
        cx, cy = hx + c, hy + c  # cavity half extents
        rim, depth = self.socket_height, self.cavity_depth
        floor = rim - depth
        slot_depth = v.pin_length + 0.001
        base_top = floor - slot_depth
        slot_half = v.pin_width / 2 + c
        walls_z = floor + depth / 2
        geoms = [
            _box("socket_base", (0, 0, base_top / 2), (cx + w, cy + w, base_top / 2)),
            _box("wall_px", (cx + w / 2, 0, walls_z), (w / 2, cy + w, depth / 2)),
            _box("wall_nx", (-cx - w / 2, 0, walls_z), (w / 2, cy + w, depth / 2)),
            _box("wall_py", (0, cy + w / 2, walls_z), (cx, w / 2, depth / 2)),
            _box("wall_ny", (0, -cy - w / 2, walls_z), (cx, w / 2, depth / 2)),
        ]
        # the floor between the pin slots: strips along x across the whole block
        edges = [-(cy + w)]
        for y in v.row_offsets():
            edges += [y - slot_half, y + slot_half]
        edges.append(cy + w)
        z = base_top + slot_depth / 2
        for i in range(0, len(edges), 2):
            lo, hi = edges[i], edges[i + 1]
            half = (cx + w, (hi - lo) / 2, slot_depth / 2)
            geoms.append(_box(f"floor_{i // 2}", (0, (lo + hi) / 2, z), half))
        pin_half = (v.pin_width / 2, v.pin_width / 2, v.pin_length / 2)
        pin_z = -hz - v.pin_length / 2
        pins = [
            _box(f"pin_{k}", (x, y, pin_z), pin_half, cls="pin")
            for k, (x, y) in enumerate(v.pin_positions())
        ]
        # One explicit inertia for the whole part (pins included), at least `min_inertia`: a
        # 20 g connector's true rotational inertia (~1e-6 kg m^2) squeezed between stiff pads
        # makes the solver's effective mass matrix near singular under hard pushes.
        box = self.part_mass / 12 * np.array([hy**2 + hz**2, hx**2 + hz**2, hx**2 + hy**2]) * 4
        inertia = " ".join(f"{max(i, self.min_inertia):.6g}" for i in box)
        socket = "\n".join(f"      {g}" for g in geoms)
        part = "\n".join(f"      {g}" for g in pins)
        return f"""\
    <body name="socket" mocap="true" pos="{self.socket_centre[0]} {self.socket_centre[1]} 0">
{socket}
    </body>
    <body name="part" pos="0.3 0 0.2">
      <freejoint name="part"/>
      <inertial pos="0 0 0" mass="{self.part_mass:.6g}" diaginertia="{inertia}"/>
      <geom name="housing" type="box" size="{hx:.6g} {hy:.6g} {hz:.6g}"
            rgba="0.12 0.12 0.14 1" friction="0.8 0.005 0.0001"/>
{part}
    </body>"""

    def task_defaults_xml(self) -> str:
        return """\
    <default class="socket">
      <geom type="box" rgba="0.93 0.93 0.9 1" friction="0.4 0.005 0.0001"
            solref="0.004 1" solimp="0.99 0.999 0.0002"/>
    </default>
    <default class="pin">
      <geom type="box" rgba="0.85 0.7 0.3 1" friction="0.3 0.005 0.0001"/>
    </default>"""

    # ------------------------------------------------------------------ episode
    def home_pose(self, rng: np.random.Generator) -> tuple[F64, F64, float]:
        cfg = self.config
        self._socket_xy = np.array(self.socket_centre) + rng.uniform(-1, 1, 2) * cfg.socket_range_m
        self._socket_yaw = float(rng.uniform(-1, 1) * cfg.socket_yaw_range_rad)
        radius = cfg.socket_error_mm / 1000.0 * np.sqrt(rng.uniform())
        angle = rng.uniform(0, 2 * np.pi)
        self._estimate_xy = self._socket_xy + radius * np.array([np.cos(angle), np.sin(angle)])
        self._grasp_offset = rng.uniform(-1, 1, 2) * cfg.grasp_offset_mm / 1000.0  # (x, z)
        start_xy = np.array(self.socket_centre) + rng.uniform(-1, 1, 2) * 0.03
        bottom = self.socket_height + self.hover_m
        tcp_z = bottom + self.variant.housing[2] / 2 + self.part_below_tcp
        return np.array([*start_xy, tcp_z]), top_down_rotation(0.0), self.variant.housing[1]

    def _reset_task(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        if "socket_xy" in options:
            self._socket_xy = np.asarray(options.pop("socket_xy"), dtype=np.float64).reshape(2)
            self._estimate_xy = self._socket_xy.copy()
        self._mount_wrist_camera(self._socket_xy - self._estimate_xy)
        self.data.mocap_pos[self._socket_mocap] = [*self._socket_xy, 0.0]
        self.data.mocap_quat[self._socket_mocap] = quat_from_yaw(self._socket_yaw)
        # the part in the grasp: housing y faces on the pads, shifted along x and the approach
        tcp_pos, tcp_rot = self.tcp_pose()
        offset = np.array([self._grasp_offset[0], 0.0, self.part_below_tcp + self._grasp_offset[1]])
        part_rot = tcp_rot @ np.diag([-1.0, 1.0, -1.0])  # part z up, part y along the TCP y
        adr = self._part_qpos
        self.data.qpos[adr : adr + 3] = tcp_pos + tcp_rot @ offset
        self.data.qpos[adr + 3 : adr + 7] = quat_from_matrix(part_rot)
        squeeze = 0.0003  # initial pad penetration so that the grip holds from the first step
        self.data.qpos[self.controller.finger_qpos] = self.variant.housing[1] / 2 - squeeze
        self.controller.command_width(0.0)

    def _mount_wrist_camera(self, error_xy: F64) -> None:
        """The wrist camera where this rig has it, displaced by its hand-eye calibration error.

        A camera mounted `error_xy` (world x, y at the start pose) away from where the system
        believes it is sees the socket `error_xy` short of where it is: that is the estimate's
        error, so the wrist image carries nothing that corrects it.
        """
        m, d = self.model, self.data
        cam = self._wrist_camera
        body = m.cam_bodyid[cam]
        link = d.xmat[body].reshape(3, 3)  # link axes in the world
        pos, look = np.array(self.wrist_mount[0]), np.array(self.wrist_mount[1])
        look /= np.linalg.norm(look)
        x_axis = np.array([0.0, -1.0, 0.0])  # image right: the link's -y, as in the arm file
        y_axis = np.cross(-look, x_axis)  # camera z is -look
        m.cam_pos[cam] = pos + link.T @ np.array([*error_xy, 0.0])
        m.cam_quat[cam] = quat_from_matrix(np.column_stack([x_axis, y_axis, -look]))

    def _is_success(self) -> bool:
        """In to the success depth, still held by both pads (a part let go of that drops in
        does not count)."""
        deep = self._insertion_depth() >= self.config.success_depth_mm / 1000.0
        return deep and self.grasped(self._part_geoms)

    # ------------------------------------------------------------------ observation
    def task_observation_spec(self) -> dict[str, FieldSpec]:
        return {
            "task.socket_estimate": FieldSpec(
                shape=(3,), dtype="float32", units="m,m,rad", sensor="wrist"
            )
        }

    def task_observation_bounds(self) -> dict[str, tuple[F64, F64]]:
        return {
            "task.socket_estimate": (np.array([-1.0, -1.0, -np.pi]), np.array([1.0, 1.0, np.pi]))
        }

    def task_observation(self) -> dict[str, NDArray[Any]]:
        """The socket pose a vision system gives: x, y (off by the camera's error) and yaw."""
        estimate = [*self._estimate_xy, self._socket_yaw]
        return {"task.socket_estimate": np.array(estimate, dtype=np.float32)}

    # ------------------------------------------------------------------ privileged state
    def task_state(self) -> dict[str, F64]:
        adr = self._part_qpos
        rot = self.data.xmat[self._part_body].reshape(3, 3)
        return {
            "socket_xy": self._socket_xy.copy(),
            "socket_yaw": np.array([self._socket_yaw]),
            "socket_estimate_xy": self._estimate_xy.copy(),
            "socket_rim_z": np.array([self.socket_height]),
            "clearance": np.array([self.clearance]),
            "part_pos": self.data.qpos[adr : adr + 3].copy(),
            "part_yaw": np.array([np.arctan2(rot[1, 0], rot[0, 0])]),
            "pin_tips_xy": self._pin_tips()[:2],
            "part_bottom_z": np.array([self._housing_bottom_z()]),
            "insertion_depth": np.array([self._insertion_depth()]),
            "socket_contact_force": np.array([self._socket_contact_force()]),
        }

    def _pin_tips(self) -> F64:
        """(3,) world position of the middle of the pin tips (the part's bottom centre)."""
        rot = self.data.xmat[self._part_body].reshape(3, 3)
        below = np.array([0.0, 0.0, -self.variant.housing[2] / 2 - self.variant.pin_length])
        return np.asarray(self.data.xpos[self._part_body] + rot @ below)

    def _housing_bottom_z(self) -> float:
        rot = self.data.xmat[self._part_body].reshape(3, 3)
        half = np.array(self.variant.housing) / 2
        return float(self.data.xpos[self._part_body][2] - np.abs(rot[2]) @ half)

    def _insertion_depth(self) -> float:
        """How far the housing bottom is below the rim, if it is over the cavity (else 0)."""
        rel = self.data.xpos[self._part_body][:2] - self._socket_xy
        c, s = np.cos(self._socket_yaw), np.sin(self._socket_yaw)
        local = np.array([c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1]])
        half = np.array(self.variant.housing[:2]) / 2 + self.clearance
        if np.any(np.abs(local) > half):
            return 0.0
        return max(0.0, self.socket_height - self._housing_bottom_z())

    def _socket_contact_force(self) -> float:
        """Total normal force (N) between the part and the socket."""
        total, wrench = 0.0, np.zeros(6)
        for i in range(self.data.ncon):
            con = self.data.contact[i]
            pair = {int(con.geom1), int(con.geom2)}
            if pair & self._part_geoms and pair & self._socket_geoms:
                mujoco.mj_contactForce(self.model, self.data, i, wrench)
                total += float(wrench[0])
        return total


def _box(
    name: str,
    pos: tuple[float, float, float],
    half: tuple[float, float, float],
    cls: str = "socket",
) -> str:
    p = " ".join(f"{v:.6g}" for v in pos)
    s = " ".join(f"{v:.6g}" for v in half)
    return f'<geom name="{name}" class="{cls}" pos="{p}" size="{s}"/>'
