"""`SocketBelief`: the grid search's prior, its updates, and a search it drives."""

from __future__ import annotations

import numpy as np
import pytest

from sim.touch_belief import SocketBelief

R, C = 0.0025, 0.0004


def test_prior_is_the_error_disk_widened_along_x() -> None:
    disk = SocketBelief(R, C)
    assert disk.p.sum() == pytest.approx(1.0)
    assert disk.p[np.hypot(disk.x, disk.y) > R + 1e-9].sum() == 0.0
    assert disk.best() == pytest.approx([0.0, 0.0], abs=1e-9)
    wide = SocketBelief(R, C, spread_x=0.002)
    reach = np.abs(wide.x[wide.p > 0]).max(), np.abs(wide.y[wide.p > 0]).max()
    assert reach == pytest.approx((R + 0.002, R), abs=1e-4)


def test_a_blocked_press_lowers_its_window_and_moves_the_best_away() -> None:
    belief = SocketBelief(R, C)
    at = belief.best()
    i, j = np.argmin(np.abs(belief.x[:, 0] - at[0])), np.argmin(np.abs(belief.y[0] - at[1]))
    before = belief.window_mass()[i, j]
    belief.blocked(at)
    after = belief.window_mass()[i, j]
    assert after < 0.1 * before
    assert np.abs(belief.best(near=at) - at).max() > C


def test_a_reading_sends_the_next_press_to_its_side() -> None:
    for axis in range(2):
        for sign in (1.0, -1.0):
            belief = SocketBelief(R, C)
            beyond = np.full(2, 0.5)
            beyond[axis] = 0.5 + 0.45 * sign
            belief.blocked(np.zeros(2), beyond)
            assert sign * belief.best()[axis] > C, (axis, sign)
            assert abs(belief.best()[1 - axis]) <= C


def _search(accuracy: float | None, trials: int = 60) -> tuple[int, float]:
    """Simulated presses: blocked unless within the clearance; each axis read right with
    probability `accuracy` (None: no readings) -> (sockets found in 20 presses, mean presses)."""
    rng = np.random.default_rng(0)
    presses, found = [], 0
    for _ in range(trials):
        radius, angle = R * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        socket = radius * np.array([np.cos(angle), np.sin(angle)])
        belief, at = SocketBelief(R, C), np.zeros(2)
        for n in range(1, 21):
            if np.all(np.abs(socket - at) <= C):
                found += 1
                presses.append(n)
                break
            beyond = None
            if accuracy is not None:
                right = rng.uniform(size=2) < accuracy
                beyond = np.where(right == (socket > at), accuracy, 1 - accuracy)
            belief.blocked(at, beyond)
            at = belief.best(near=at)
    return found, float(np.mean(presses))


def test_readings_right_85_percent_halve_the_search() -> None:
    found, presses = _search(0.85)
    blind_found, blind_presses = _search(None)
    assert found >= 58 and presses < 7, (found, presses)
    assert presses < 0.6 * blind_presses, (presses, blind_presses)
    assert 20 <= blind_found < found  # contact alone finds it too, in fewer cases


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="radius, clearance and cell"):
        SocketBelief(0.0, C)
    with pytest.raises(ValueError, match="spread_x"):
        SocketBelief(R, C, spread_x=-1.0)
