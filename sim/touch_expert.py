"""`TouchInsertionExpert`: inserts the grasped part from what a policy observes, nothing else.

It reads only the observation dict of `vitac/TactileInsertion-v0` (the two tactile images, the
measured TCP pose, the command as the controller took it `proprio.ee_command`, the vision
system's socket estimate `task.socket_estimate`) and what a
person would know before the episode: the part's and socket's drawings (`env.variant`, the
rim height, the nominal grasp depth), the specified error of the vision estimate and of the
grasp (the task config), the tactile sensor's data sheet (its profile: view, marker grid,
lights), the touch readout's calibration, and its own previous commands. It never calls
`privileged_state()` and never reads MuJoCo; `env` serves only to encode actions
(`env.pose_action`) and for the config.

1. Grasp. In the first frame the housing's imprint on each pad shows where the part sits along
   the pads (`sim.tactile_features.imprint_centre`); the expert aims the part, not the TCP. A
   housing wider than the view hides that: the search then widens along the pads.
2. Approach the estimate with the part's pin rows turned to the estimated socket yaw, pin tips
   `hover_m` above the rim, then descend at `descend_speed`.
3. Blocked (the measured TCP stays `block_m` above the command the observation reports,
   `proprio.ee_command`: the action as the controller took it, DART noise included, which the
   policies see too; the expert's own noise-free command would time its decisions by noise
   they cannot see): the part sits on the rim, so the socket is not within the clearance of
   this press. The frame before the press and
   the frame now tell, per TCP axis, how likely the socket lies beyond it
   (`sim.touch_readout.TouchReadout`: a calibrated logistic readout of each pad's marker field,
   colour change, imprint tilt and edge pressure). Both update a grid belief over
   the socket's offset (`sim.touch_belief.SocketBelief`, prior: the estimate's error disk);
   the next press goes where the belief holds the most probability within the entry window.
   It lifts `lift_m` off the rim, moves, and presses again. Each such move is its `decision()`
   (TCP frame, metres), the quantity the information probe predicts.
4. Not blocked below the rim: the part is in; push on to the success depth (stuck for three
   steps anywhere counts as blocked).

Variants: `read=False` ignores the images at a press (touch as a contact switch only: the
belief learns only where the socket is not); `memory=False` forgets earlier presses (each move
follows from the prior, the current offset and this press alone: what a policy that sees a
few frames can know); `correct=False` never moves off the estimate
(open loop). The readout is fitted by `vitac task calibrate tactile_insertion` on seeds apart
from the report's.
"""

from __future__ import annotations

from typing import Any

import cv2
import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from drivers.kinematics import top_down_rotation
from drivers.rotations import matrix_from_rot6d
from sim.expert_base import ScriptedExpert, tcp_yaw, wrap_half_turn
from sim.tactile_features import imprint_centre
from sim.tasks.tactile_insertion import TactileInsertionEnv
from sim.touch_belief import SocketBelief
from sim.touch_readout import PADS, TouchReadout, pad_features, unit_spread

Obs = dict[str, NDArray[Any]]
F64 = NDArray[np.float64]


class TouchInsertionExpert(ScriptedExpert[TactileInsertionEnv]):
    """Observation-honest insertion: approach the estimate, feel the rim, correct; see above."""

    def __init__(
        self,
        env: gym.Env[Any, Any],
        noise_std: float = 0.0,
        speed: float = 0.01,
        descend_speed: float = 0.0007,
        hover_m: float = 0.004,
        block_m: float = 0.0005,
        lift_m: float = 0.0006,
        read: bool = True,
        correct: bool = True,
        memory: bool = True,
        readout: TouchReadout | None = None,
    ) -> None:
        super().__init__(env, TactileInsertionEnv, noise_std)
        self.speed, self.descend_speed, self.hover_m = speed, descend_speed, hover_m
        self.block_m, self.lift_m = block_m, lift_m
        self.correct, self.memory = correct, memory
        spread = unit_spread(self.env.config)
        if read and correct and readout is None:
            readout = TouchReadout.shipped(spread)
        self.readout = readout if read and correct else None
        if self.readout is not None:
            self.readout.check_sensor(self.env.sensors[0], any_size=True, spread=spread)
        self.profile = self.env.sensors[0].profile
        self._reset_state()

    def _reset_state(self) -> None:
        self._phase = "start"
        self._grasp_x = 0.0  # part centre along the TCP x axis, metres
        self._target: F64 = np.zeros(2)  # where the part's centre should go (world xy)
        self._yaw = 0.0
        self._cmd: F64 = np.zeros(3)  # the TCP position the expert last commanded
        self._before: Obs | None = None  # the frame at the top of the current press
        self._offset: F64 = np.zeros(2)  # this press's offset from the first target (TCP x, y)
        self.belief: SocketBelief | None = None
        self._prior = (0.0, 0.0)  # the belief's prior: (radius, spread along x), metres
        self._decision: F64 | None = None
        self._rim_z: float | None = None  # TCP height at the first press on the rim
        self._stalled = 0  # consecutive blocked steps
        self.corrections = 0

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._reset_state()

    def decision(self) -> F64 | None:
        """The correction decided at the last `act()` (TCP x, y, metres), else None."""
        return None if self._decision is None else self._decision.copy()

    # ------------------------------------------------------------------ acting
    def act(self, obs: Obs | None = None) -> NDArray[np.float32]:
        if obs is None:
            raise TypeError("TouchInsertionExpert acts on the observation: call act(obs)")
        self._decision = None
        obs = self._at_calibrated_size(obs)
        pose = obs["proprio.ee_pose"].astype(np.float64)
        tcp, rot = pose[:3], matrix_from_rot6d(pose[3:9])
        if self._phase == "start":
            self._start(obs, tcp, rot)
        rim = self.env.socket_height
        hover_z = rim + self._tip_below_tcp() + self.hover_m
        if self._phase == "approach":
            goal = np.array([*self._tcp_xy(), hover_z])
            if np.linalg.norm(goal - self._cmd) < 1e-4:
                self._phase, self._before = "descend", obs
            return self._move(goal, self.speed)
        commanded = float(obs["proprio.ee_command"][2])  # as executed, as a policy sees it
        blocked = tcp[2] - commanded > self.block_m
        self._stalled = self._stalled + 1 if blocked else 0
        if self._phase == "descend" and blocked:
            if self._rim_z is None:
                self._rim_z = float(tcp[2])
            # on the rim (not inside the socket), or stuck wherever it is
            if tcp[2] > self._rim_z - 0.001 or self._stalled >= 3:
                self._correct(obs, rot)
                self._phase, self._stalled = "lift", 0
        if self._phase == "lift":
            # unload the rim, move over the new target, press again
            goal = np.array([*self._cmd[:2], tcp[2] + self.lift_m])
            self._phase = "reposition"
            return self._move(goal, self.speed, exact=True)
        if self._phase == "reposition":
            self._phase = "settle"
            goal = np.array([*self._tcp_xy(), self._cmd[2]])
            return self._move(goal, self.speed)
        if self._phase == "settle":  # lifted clear and moved: the frame to compare with
            self._phase, self._before = "descend", obs
        # descend (and, once in, push), never commanding more than 2 `block_m` below the TCP
        depth = self.env.config.success_depth_mm / 1000.0
        floor = rim - depth + self._tip_below_tcp() - self.env.variant.pin_length - 0.002
        goal_z = max(floor, self._cmd[2] - self.descend_speed, tcp[2] - 2 * self.block_m)
        return self._move(np.array([*self._tcp_xy(), goal_z]), self.descend_speed)

    # ------------------------------------------------------------------ phases
    def _start(self, obs: Obs, tcp: F64, rot: F64) -> None:
        """Read the grasp from the imprint; set the target and the belief from the estimate."""
        cfg = self.env.config
        width = obs[PADS[0]].shape[1]
        pitch = self.profile.sensing_area_m[1] / width  # metres per column
        face = self.env.variant.housing[0] / pitch
        centres = []
        for key, sign in zip(PADS, (1.0, -1.0), strict=True):  # the pads see it mirrored
            column = imprint_centre(obs[key], self.profile, face)
            if column is not None:
                centres.append(sign * (column - (width - 1) / 2) * pitch)
        self._grasp_x = float(np.mean(centres)) if centres else 0.0
        spread = 0.0 if centres else cfg.grasp_offset_mm / 1000.0
        radius = cfg.socket_error_mm / 1000.0 + self.env.clearance / 2
        self._prior = (radius, spread)
        self.belief = SocketBelief(radius, self.env.clearance, spread_x=spread)
        estimate = obs["task.socket_estimate"].astype(np.float64)
        self._target = estimate[:2].copy()
        # the part's rows along the socket's: the part is square to the TCP, symmetric
        turn = wrap_half_turn(float(estimate[2]) - tcp_yaw(rot))  # part yaw = TCP yaw (mod pi)
        self._yaw = tcp_yaw(rot) + turn
        self._cmd = tcp.copy()
        self._phase = "approach"

    def _correct(self, obs: Obs, rot: F64) -> None:
        """Not over the socket here: update the belief with this press, go where it points."""
        assert self._before is not None and self.belief is not None
        if not self.correct:
            return
        beyond = None
        if self.readout is not None:
            beyond = self.readout.beyond(pad_features(self._before, obs, self.profile))
        if not self.memory:  # this press alone: what a policy seeing a few frames can know
            radius, spread = self._prior
            self.belief = SocketBelief(radius, self.env.clearance, spread_x=spread)
        self.belief.blocked(self._offset, beyond)
        move = self.belief.best(near=self._offset) - self._offset
        self._offset = self._offset + move
        self._target = self._target + rot[:2, :2] @ move
        self._decision = move
        self.corrections += 1

    # ------------------------------------------------------------------ helpers
    def _at_calibrated_size(self, obs: Obs) -> Obs:
        """`obs` with the tactile images resized to the size the readout was calibrated on."""
        size = None if self.readout is None else self.readout.image_size
        if size is None or obs[PADS[0]].shape[:2] == size:
            return obs
        h, w = obs[PADS[0]].shape[:2]
        mode = cv2.INTER_AREA if h >= size[0] and w >= size[1] else cv2.INTER_LINEAR
        resized = {k: cv2.resize(obs[k], (size[1], size[0]), interpolation=mode) for k in PADS}
        return obs | resized

    def _tip_below_tcp(self) -> float:
        """Nominal distance from the TCP down to the pin tips (the grasp depth varies)."""
        v = self.env.variant
        return self.env.part_below_tcp + v.housing[2] / 2 + v.pin_length

    def _tcp_xy(self) -> F64:
        """The TCP xy that puts the part's centre over the target."""
        rot = top_down_rotation(self._yaw)
        return np.asarray(self._target - rot[:2, 0] * self._grasp_x)

    def _move(self, goal: F64, speed: float, exact: bool = False) -> NDArray[np.float32]:
        step = goal - self._cmd
        dist = float(np.linalg.norm(step))
        if dist > speed and not exact:
            step *= speed / dist
        self._cmd = self._cmd + step
        return self.env.pose_action(self._cmd, top_down_rotation(self._yaw), 0.0)
