"""Scripted experts: privileged-state controllers that produce demonstrations.

An expert is built from an env (wrapped or not), has `reset(seed)` and `act() -> action`, and
returns actions in the env's own action format, so a policy can imitate them directly.

`EXPERTS` maps a task name of `sim.TASKS` to its expert class.

DART-style data diversity: record `act()` (the clean label) in the dataset and execute
`perturb(action)` (the label plus Gaussian noise of `noise_std` metres on x, y, z). Because the
expert reads the state afresh every step, its next label corrects the perturbation.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from sim.tasks.peg_insertion import PegInsertionEnv


class Expert(Protocol):
    """What the demo collector needs from a scripted expert."""

    def reset(self, seed: int | None = None) -> None: ...

    def act(self) -> NDArray[np.float32]: ...

    def perturb(self, action: NDArray[np.float32]) -> NDArray[np.float32]: ...


class PegInsertionExpert:
    """Move above the socket (correcting for the peg's offset in the grasp), descend, push in.

    Each step the hand target moves towards a goal by at most `speed` (`descend_speed` once the
    peg is over the hole), so moves are straight lines at constant speed that slow only in the
    last step. The goal is the hover point (peg bottom `hover_m` above the rim, over the hole)
    until the peg is within `align_frac` times the clearance of the hole's axis, then the point
    `insert_m` below the rim. The gripper keeps squeezing (width 0).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        noise_std: float = 0.0,
        speed: float = 0.006,
        descend_speed: float = 0.004,
        hover_m: float = 0.01,
        insert_m: float = 0.022,
        align_frac: float = 0.5,
    ) -> None:
        unwrapped = env.unwrapped
        if not isinstance(unwrapped, PegInsertionEnv):
            raise TypeError(f"PegInsertionExpert needs a PegInsertionEnv, got {type(unwrapped)}")
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.env = unwrapped
        self.noise_std, self.speed, self.descend_speed = noise_std, speed, descend_speed
        self.hover_m, self.insert_m, self.align_frac = hover_m, insert_m, align_frac
        self._rng = np.random.default_rng()

    def reset(self, seed: int | None = None) -> None:
        """Start an episode; `seed` fixes the perturbation noise."""
        self._rng = np.random.default_rng(seed)

    def act(self) -> NDArray[np.float32]:
        """The clean expert action [x, y, z, width] for the env's current state."""
        s = self.env.privileged_state()
        hand, rim = s["hand_pos"], float(s["socket_rim_z"][0])
        bottom = float(s["peg_bottom_z"][0])
        goal_xy = s["socket_xy"] - s["grasp_offset"][:2]  # hand xy that centres the peg
        tolerance = self.align_frac * float(s["clearance"][0])
        aligned = float(np.max(np.abs(goal_xy - hand[:2]))) <= tolerance
        entered = bottom < rim  # already in the hole: keep pushing
        descending = aligned or entered
        goal_bottom = rim - self.insert_m if descending else rim + self.hover_m
        goal = np.array([*goal_xy, hand[2] + goal_bottom - bottom])
        step = goal - hand
        limit = self.descend_speed if descending else self.speed
        dist = float(np.linalg.norm(step))
        if dist > limit:
            step *= limit / dist
        return np.array([*(hand + step), 0.0], dtype=np.float32)

    def perturb(self, action: NDArray[np.float32]) -> NDArray[np.float32]:
        """The action to execute: `action` plus N(0, noise_std^2) on x, y, z."""
        out = action.astype(np.float64).copy()
        if self.noise_std > 0:
            out[:3] += self._rng.normal(0.0, self.noise_std, 3)
        return out.astype(np.float32)


EXPERTS: dict[str, type[PegInsertionExpert]] = {"peg_insertion": PegInsertionExpert}
