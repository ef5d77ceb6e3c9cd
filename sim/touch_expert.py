"""`TouchInsertionExpert`: inserts the grasped part from what a policy observes, nothing else.

It reads only the observation dict of `vitac/TactileInsertion-v0` (the two tactile images, the
measured TCP pose, the vision system's socket estimate `task.socket_estimate`) and what a
person would know before the episode: the part's and socket's drawings (`env.variant`, the
rim height, the nominal grasp depth), the tactile sensor's data sheet (its profile: marker
grid, lights) and its own previous commands. It never calls `privileged_state()` and never
reads MuJoCo; `env` serves only to encode actions (`env.pose_action`) and for the config.

1. Grasp. In the first frame the housing's imprint on each pad shows where the part sits along
   the pads (`sim.tactile_features.imprint_edges`); the expert aims the part, not the TCP.
2. Approach the estimate with the part's pin rows turned to the estimated socket yaw, pin tips
   `hover_m` above the rim, then descend at `descend_speed`.
3. Blocked (the measured TCP stays `block_m` above the commanded one): the part sits on the
   rim. The frame just before this press and the frame now tell which way the socket lies:
   - across the pads (TCP y): the housing tilts in the grasp towards the side that landed on
     the rim, which turns the imprint's shading on the two pads in opposite senses (the
     colour change along each pad's y-slope light colour, right minus left);
   - along the pads (TCP x): the markers under the housing are dragged along x by the rim's
     friction share, more when the rim is on the +x side; the vertical drag (the press) sets
     the scale, and the arm's own sideways give under a press adds `drag_bias` of it.
   On each axis whose signal is clear it steps `step_m` towards the socket until the socket is
   bracketed on that axis, then bisects (a reading that contradicts an earlier bound replaces
   it); it lifts `lift_m` off the rim, moves, and presses again. Each such correction is its
   `decision()` (TCP frame, metres), the quantity the information probe predicts.
4. Not blocked below the rim: the part is in; push on to the success depth (stuck for three
   steps anywhere counts as blocked).

The thresholds (`drag_bias`, `clear_x`, `clear_y`, `lift_m`) were chosen by success over a few
hundred seeds outside the report's (`vitac task report tactile_insertion` measures it).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from drivers.kinematics import top_down_rotation
from drivers.rotations import matrix_from_rot6d
from sim.expert_base import ScriptedExpert, tcp_yaw, wrap_half_turn
from sim.tactile_features import (
    imprint_edges,
    light_colours,
    marker_positions,
    rest_markers,
    rigid_motion,
)
from sim.tasks.tactile_insertion import TactileInsertionEnv

Obs = dict[str, NDArray[Any]]
F64 = NDArray[np.float64]
PADS = ("tactile.left", "tactile.right")


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
        search_m: float = 0.003,
        step_m: float = 0.001,
        drag_bias: float = 0.21,
        clear_x: float = 0.08,
        clear_y: float = 0.0008,
    ) -> None:
        super().__init__(env, TactileInsertionEnv, noise_std)
        self.speed, self.descend_speed, self.hover_m = speed, descend_speed, hover_m
        self.block_m, self.lift_m = block_m, lift_m
        self.search_m, self.step_m = search_m, step_m
        self.drag_bias, self.clear_x, self.clear_y = drag_bias, clear_x, clear_y
        self.profile = self.env.sensors[0].profile
        self._reset_state()

    def _reset_state(self) -> None:
        self._phase = "start"
        self._grasp_x = 0.0  # part centre along the TCP x axis, metres
        self._target: F64 = np.zeros(2)  # where the part's centre should go (world xy)
        self._yaw = 0.0
        self._cmd: F64 = np.zeros(3)  # the TCP position the expert last commanded
        self._before: Obs | None = None  # the frame at the top of the current press
        # where the socket can still be, relative to the first target, per TCP axis (x, y)
        self._offset: F64 = np.zeros(2)
        self._low: F64 = np.full(2, -self.search_m)
        self._high: F64 = np.full(2, self.search_m)
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
        blocked = tcp[2] - self._cmd[2] > self.block_m
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
        """Read the grasp from the imprint; set the target from the vision estimate."""
        centres = []
        for key, sign in zip(PADS, (1.0, -1.0), strict=True):
            left, right = imprint_edges(obs[key], self.profile)
            width = obs[key].shape[1]
            pitch = self.profile.sensing_area_m[1] / width
            centres.append(sign * ((left + right) / 2 - (width - 1) / 2) * pitch)
        self._grasp_x = float(np.mean(centres))  # the pads see it mirrored
        estimate = obs["task.socket_estimate"].astype(np.float64)
        self._target = estimate[:2].copy()
        # the part's rows along the socket's: the part is square to the TCP, symmetric
        turn = wrap_half_turn(float(estimate[2]) - tcp_yaw(rot))  # part yaw = TCP yaw (mod pi)
        self._yaw = tcp_yaw(rot) + turn
        self._cmd = tcp.copy()
        self._phase = "approach"

    def _correct(self, obs: Obs, rot: F64) -> None:
        """Feel which way the socket lies from this press; bisect towards it on each axis."""
        assert self._before is not None
        signal = np.array(self._feel(self._before, obs))
        clear = np.array([self.clear_x, self.clear_y])
        sign = np.where(np.abs(signal) > clear, np.sign(signal), 0.0)
        if not sign.any():  # nothing clear: follow the stronger signal
            index = int(np.argmax(np.abs(signal) / clear))
            sign[index] = np.sign(signal[index]) or 1.0
        half = self.env.clearance / 2
        for axis in np.flatnonzero(sign):
            # the latest reading wins: a bound it contradicts is dropped
            if sign[axis] > 0:  # the socket lies beyond the current offset on this axis
                self._low[axis] = self._offset[axis] + half
                if self._low[axis] >= self._high[axis]:
                    self._high[axis] = self.search_m
            else:
                self._high[axis] = self._offset[axis] - half
                if self._high[axis] <= self._low[axis]:
                    self._low[axis] = -self.search_m
        # bisect where both sides are bounded, else step out by `step_m` towards the socket
        bounded = (self._low > -self.search_m) & (self._high < self.search_m)
        middle = (self._low + self._high) / 2
        stepped = np.clip(self._offset + sign * self.step_m, self._low, self._high)
        move = np.where(sign != 0, np.where(bounded, middle, stepped) - self._offset, 0.0)
        self._offset = self._offset + move
        self._target = self._target + rot[:2, :2] @ move
        self._decision = move
        self.corrections += 1

    def _feel(self, before: Obs, now: Obs) -> tuple[float, float]:
        """(along x, across y) signals of where the rim is, from two frames of both pads."""
        shear_x, shear_y, tilt = [], [], []
        y_colour = light_colours(self.profile)[1]
        y_colour = y_colour / float(y_colour @ y_colour)
        for key in PADS:
            first, last = before[key], now[key]
            left, right = imprint_edges(first, self.profile)
            start = marker_positions(first, rest_markers(self.profile, first.shape[:2]))
            moved = marker_positions(last, start)
            inside = (start[:, 0] > left + 1) & (start[:, 0] < right - 1)
            motion = rigid_motion(start[inside], moved[inside])
            shear_x.append(motion.shift[0])
            shear_y.append(motion.shift[1])
            change = last.astype(np.float64) - first.astype(np.float64)
            interior = change[:, int(np.ceil(left)) + 2 : int(right) - 1]
            tilt.append(float(interior.reshape(-1, 3).mean(axis=0) @ y_colour))
        drag = (shear_x[0] - shear_x[1]) / 2  # pads mirrored along x
        press = abs(shear_y[0] + shear_y[1]) / 2
        signal_x = drag / max(press, 1e-6) - self.drag_bias
        return signal_x, tilt[1] - tilt[0]

    # ------------------------------------------------------------------ helpers
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
