"""`TactileInsertionExpert.decision()`: the correction it decides, in the TCP frame, once."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray

from sim.experts import TactileInsertionExpert
from sim.tasks.tactile_insertion import TactileInsertionEnv


@pytest.fixture(scope="module")
def insertion() -> Iterator[TactileInsertionEnv]:
    made = TactileInsertionEnv()
    yield made
    made.close()


Made = tuple[NDArray[np.float64], NDArray[np.float64]] | None


def decisions(env: TactileInsertionEnv, expert: TactileInsertionExpert, seed: int) -> list[Made]:
    """Per step: (decision, expected) where a decision was made, else None."""
    env.reset(seed=seed)
    expert.reset(seed)
    out: list[Made] = []
    done = False
    while not done:
        before = env.privileged_state()
        action = expert.act()
        decision = expert.decision()
        if decision is None:
            out.append(None)
        else:
            true_minus_estimate = before["socket_xy"] - before["socket_estimate_xy"]
            rot = env.tcp_pose()[1]
            expected = (rot.T @ np.array([*true_minus_estimate, 0.0]))[:2]
            out.append((decision, expected))
        _, _, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
    return out


def test_decision_is_true_minus_estimate_in_the_tcp_frame(
    insertion: TactileInsertionEnv,
) -> None:
    expert = TactileInsertionExpert(insertion)
    made = [d for d in decisions(insertion, expert, seed=0) if d is not None]
    assert len(made) == 1  # seed 0 hits the rim once, then goes in
    decision, expected = made[0]
    np.testing.assert_allclose(decision, expected, atol=1e-12)
    assert 0.0004 < float(np.linalg.norm(decision)) <= 0.0025  # outside the clearance
    # a top-down TCP: its x, y axes span the table plane, so the size is the world offset's
    state = insertion.privileged_state()
    offset = state["socket_xy"] - state["socket_estimate_xy"]
    assert float(np.linalg.norm(decision)) == pytest.approx(float(np.linalg.norm(offset)), 1e-3)


def test_no_decision_without_feel_or_after_reset(insertion: TactileInsertionEnv) -> None:
    expert = TactileInsertionExpert(insertion, feel=False)
    assert all(d is None for d in decisions(insertion, expert, seed=0))
    assert expert.decision() is None
    feeling = TactileInsertionExpert(insertion)
    decisions(insertion, feeling, seed=0)
    feeling.reset(0)
    assert feeling.decision() is None
