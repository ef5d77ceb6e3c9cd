"""How an actor searches in closed loop: lifts, small moves and pressed steps per episode.

Success alone does not say why a policy fails an insertion. The touch expert's search is a
pattern: press, feel the rim, lift, move, press again, so each of its lifts comes with a move.
A policy that lifts without moving bobs on the same spot of the rim; one that moves without
lifting slides along it. This counts, per episode of an arm task with absolute-pose actions
(position first, metres):

- lifts: steps whose commanded height rises more than `action_error.LIFT_M` above the last;
- moves: steps whose commanded xy moves between `MOVE_MIN_M` and `MOVE_MAX_M` (a search step:
  above the noise, below an approach's), and their mean length: a policy whose search steps
  are shorter than the expert's needs more of them to reach the socket in the same time;
- pressed: steps whose measured TCP stands more than `PRESSED_M` above its command (the part
  held up by the rim or the socket), from `proprio.ee_pose` and `proprio.ee_command`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from training.action_error import LIFT_M, MOVE_MIN_M
from training.actors import Actor

MOVE_MAX_M = 0.005  # and below this (an approach moves 10 mm a step)
PRESSED_M = 0.0005  # the touch expert's own test for "blocked"


@dataclass(frozen=True)
class EpisodeTrace:
    seed: int
    success: bool
    steps: int
    lifts: int
    moves: int
    pressed: int
    move_mm: float  # the moves' total xy length


@dataclass(frozen=True)
class TraceSummary:
    """Per-episode medians over `episodes` episodes of one actor."""

    actor: str
    episodes: int
    successes: int
    steps: float
    lifts: float
    moves: float
    pressed: float
    moves_per_lift: float  # total moves / total lifts (the expert: about 1)
    move_size_mm: float  # total move length / total moves: the mean search step

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def trace_episode(env: gym.Env[Any, Any], actor: Actor, seed: int) -> EpisodeTrace:
    """One episode from `env.reset(seed=seed)` to its end, counted as above."""
    obs, _ = env.reset(seed=seed)
    actor.reset(env, seed)
    last: np.ndarray | None = None
    success, steps, lifts, moves, pressed, done = False, 0, 0, 0, 0, False
    move_mm = 0.0
    while not done:
        pose, command = obs["proprio.ee_pose"], obs["proprio.ee_command"]
        pressed += int(float(pose[2]) - float(command[2]) > PRESSED_M)
        action = np.asarray(actor.act(obs), dtype=np.float64)
        if last is not None:
            lifts += int(action[2] - last[2] > LIFT_M)
            step = float(np.linalg.norm(action[:2] - last[:2]))
            if MOVE_MIN_M < step < MOVE_MAX_M:
                moves, move_mm = moves + 1, move_mm + 1000 * step
        last = action
        obs, _, terminated, truncated, info = env.step(action.astype(np.float32))
        steps += 1
        success = success or bool(info.get("is_success", False))
        done = terminated or truncated
    return EpisodeTrace(seed, success, steps, lifts, moves, pressed, move_mm)


def summarise(actor: str, traces: Sequence[EpisodeTrace]) -> TraceSummary:
    lifts, moves = sum(t.lifts for t in traces), sum(t.moves for t in traces)
    return TraceSummary(
        actor,
        len(traces),
        sum(t.success for t in traces),
        float(np.median([t.steps for t in traces])),
        float(np.median([t.lifts for t in traces])),
        float(np.median([t.moves for t in traces])),
        float(np.median([t.pressed for t in traces])),
        moves / lifts if lifts else float("nan"),
        sum(t.move_mm for t in traces) / moves if moves else float("nan"),
    )


def format_summaries(rows: Sequence[TraceSummary]) -> str:
    lines = [
        "actor             success   steps  lifts  moves  pressed  moves/lift  move mm "
        "(medians/ep; move: mean length)"
    ]
    for r in rows:
        lines.append(
            f"{r.actor:<16} {r.successes:>3}/{r.episodes:<4} {r.steps:>6.0f} {r.lifts:>6.1f}"
            f" {r.moves:>6.1f} {r.pressed:>8.1f} {r.moves_per_lift:>11.2f} {r.move_size_mm:>8.2f}"
        )
    return "\n".join(lines)
