"""`trace_episode` counts lifts, search moves and pressed steps from actions and proprio."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from training.search_trace import TraceSummary, format_summaries, summarise, trace_episode


class _Env(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Observes whatever the last action commanded; the measured TCP stands `press` above it
    at the steps listed in `pressed_at`; succeeds at step `succeed_at`."""

    def __init__(self, pressed_at: set[int], succeed_at: int, length: int = 10) -> None:
        self.pressed_at, self.succeed_at, self.length = pressed_at, succeed_at, length

    def _obs(self, command: np.ndarray) -> dict[str, np.ndarray]:
        pose = command.copy()
        if self.t in self.pressed_at:
            pose[2] += 0.001
        return {"proprio.ee_pose": pose, "proprio.ee_command": command.copy()}

    def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
        self.t = 0
        return self._obs(np.zeros(9)), {}

    def step(self, action: np.ndarray) -> Any:
        self.t += 1
        command = np.concatenate([action[:3], np.zeros(6)]).astype(np.float64)
        done = self.t >= self.length
        info = {"is_success": self.t == self.succeed_at}
        return self._obs(command), 0.0, False, done, info


class _Script:
    """Plays a fixed list of TCP positions (metres)."""

    name = "script"

    def __init__(self, positions: list[tuple[float, float, float]]) -> None:
        self.positions, self.i = positions, 0

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        self.i = 0

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        x, y, z = self.positions[min(self.i, len(self.positions) - 1)]
        self.i += 1
        return np.array([x, y, z, 1, 0, 0, 0, 1, 0, 0.01], dtype=np.float32)


def test_lifts_moves_and_pressed_steps_are_counted() -> None:
    mm = 0.001
    path = [
        (0, 0, 10 * mm),
        (10 * mm, 0, 10 * mm),  # an approach step: 10 mm, not a search move
        (10 * mm, 0, 9.5 * mm),  # down 0.5 mm
        (10 * mm, 0, 10.1 * mm),  # lift 0.6 mm
        (11 * mm, 0, 10.1 * mm),  # move 1 mm
        (11 * mm, 0.1 * mm, 10.1 * mm),  # 0.1 mm: noise, not a move
        (11 * mm, 0.1 * mm, 10.3 * mm),  # up 0.2 mm: below a lift
        (11 * mm, 1.1 * mm, 10.8 * mm),  # lift and move at once
    ]
    env = _Env(pressed_at={2, 3, 7}, succeed_at=99, length=8)
    trace = trace_episode(env, _Script(path), seed=5)
    assert (trace.seed, trace.success, trace.steps) == (5, False, 8)
    assert (trace.lifts, trace.moves, trace.pressed) == (2, 2, 3)
    assert trace.move_mm == pytest.approx(2.0)  # two 1 mm moves; the approach and noise are not
    success = trace_episode(_Env(set(), succeed_at=3, length=8), _Script(path), seed=0)
    assert success.success and success.steps == 8  # runs to the episode's end


def test_summaries_are_medians_and_the_ratio_is_of_totals() -> None:
    env = _Env(set(), succeed_at=99, length=4)
    mm = 0.001
    bob = [(0, 0, 0), (0, 0, 1 * mm), (0, 0, 0), (0, 0, 1 * mm)]  # lifts, never moves
    row = summarise("bob", [trace_episode(env, _Script(bob), s) for s in range(3)])
    assert np.isnan(row.move_size_mm)  # no moves: no mean length
    assert replace(row, move_size_mm=0.0) == TraceSummary("bob", 3, 0, 4.0, 2.0, 0.0, 0.0, 0.0, 0.0)
    assert "bob" in format_summaries([row])
    still = summarise("still", [trace_episode(env, _Script([(0, 0, 0)]), 0)])
    assert np.isnan(still.moves_per_lift)
    assert still.lifts == pytest.approx(0.0)


def test_the_mean_move_length_is_of_totals_over_episodes() -> None:
    env = _Env(set(), succeed_at=99, length=4)
    mm = 0.001
    short = [(0, 0, 0), (0.5 * mm, 0, 0), (0.5 * mm, 0.5 * mm, 0), (0.5 * mm, 0.5 * mm, 0)]
    long = [(0, 0, 0), (2 * mm, 0, 0), (2 * mm, 2 * mm, 0), (4 * mm, 2 * mm, 0)]
    traces = [trace_episode(env, _Script(path), 0) for path in (short, long)]
    assert [t.moves for t in traces] == [2, 3]
    row = summarise("mixed", traces)
    assert row.move_size_mm == pytest.approx((0.5 + 0.5 + 2 + 2 + 2) / 5)
