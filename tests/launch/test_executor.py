"""The executor on a clock the test moves: which action it serves when, what it drops, when it
asks for the next chunk, and how seams are measured."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launch.executor import ChunkExecutor, Executed, TimedChunk, seam_acceleration
from policies.base import ensemble_vote

DT = 0.1


def chunk(t0: float, n: int, index: int, offset: float = 0.0) -> TimedChunk:
    """Action i = [offset + index * 100 + i] (D_a = 1): each action names its chunk and slot."""
    actions = (offset + index * 100 + np.arange(n, dtype=np.float32))[:, None]
    return TimedChunk(t0, DT, actions, index)


def test_switch_serves_the_slot_of_now_and_drops_what_has_passed() -> None:
    ex = ChunkExecutor(DT, n_action_steps=3)
    assert ex.action(0.0) is None and ex.waiting == 1 and ex.starved == 0
    ex.add(chunk(0.0, 5, 0), now=0.12)  # planned at 0.0, ready at 0.12: slot 0 has passed
    assert ex.dropped == 1
    served = [ex.action(t) for t in (0.12, 0.2, 0.31, 0.4)]
    assert [float(a[0]) for a in served if a is not None] == [1, 2, 3, 4]
    assert ex.action(0.5) is None and ex.starved == 1  # the chunk ended: hold, never slot 4 again


def test_a_chunk_that_arrives_after_its_end_is_dropped_whole() -> None:
    ex = ChunkExecutor(DT, n_action_steps=3)
    ex.add(chunk(0.0, 3, 0), now=1.0)
    assert ex.dropped == 3 and ex.action(1.0) is None


def test_switch_replaces_the_old_chunk_from_the_tick_it_arrives() -> None:
    ex = ChunkExecutor(DT, n_action_steps=2)
    ex.add(chunk(0.0, 6, 0), now=0.0)
    assert float(ex.action(0.1)[0]) == 1  # type: ignore[index]
    ex.add(chunk(0.1, 6, 1), now=0.2)
    assert float(ex.action(0.2)[0]) == 101  # the new chunk's slot for 0.2
    assert ex.executed.chunks == [0, 1]


def test_ensemble_averages_every_covering_chunk_with_acts_weights() -> None:
    k = 0.5
    ex = ChunkExecutor(DT, n_action_steps=1, join="ensemble", ensemble_k=k)
    ex.add(chunk(0.0, 6, 0), now=0.0)
    ex.add(chunk(0.1, 6, 1), now=0.1)
    ex.add(chunk(0.2, 6, 2), now=0.2)
    got = ex.action(0.2)
    votes = np.array([[2.0], [101.0], [200.0]])  # slot of 0.2 in each, oldest first
    weights = np.exp(-k * np.arange(3))
    assert got is not None and np.isclose(got[0], weights @ votes[:, 0] / weights.sum())
    assert np.allclose(ensemble_vote(votes, 0.0), votes.mean(axis=0))


def test_request_is_due_when_the_latency_would_eat_the_executed_actions() -> None:
    ex = ChunkExecutor(DT, n_action_steps=3)
    assert ex.request_due(0.0, 0.0)  # nothing to execute
    ex.add(chunk(0.0, 8, 0), now=0.05)
    # the 3rd action's slot ends at 0.25: ask when now + latency reaches it
    assert not ex.request_due(0.1, 0.1)
    assert ex.request_due(0.1, 0.16)
    assert ex.request_due(0.25, 0.0)


@settings(max_examples=200, deadline=None)
@given(
    latencies=st.lists(st.floats(0.0, 1.2), min_size=1, max_size=12),
    join=st.sampled_from(["switch", "ensemble"]),
    n=st.integers(1, 9),
)
def test_no_action_is_ever_served_outside_its_slot(
    latencies: list[float], join: str, n: int
) -> None:
    """Chunks planned at ticks arrive after any latency; each action's value is the time of
    its slot, so whatever is served (one action, or an ensemble of several) must lie within
    half a period of now."""
    ex = ChunkExecutor(DT, n_action_steps=min(n, 3), join=join)  # type: ignore[arg-type]
    pending: list[tuple[float, TimedChunk]] = []
    made = 0
    for tick in range(60):
        now = tick * DT
        for ready, c in [p for p in pending if p[0] <= now]:
            ex.add(c, now)
            pending.remove((ready, c))
        action = ex.action(now)
        if action is not None:
            assert abs(float(action[0]) - now) <= DT / 2 + 1e-6
        if not pending and made < len(latencies):
            slots = (now + DT * np.arange(n, dtype=np.float64))[:, None].astype(np.float32)
            pending.append((now + latencies[made], TimedChunk(now, DT, slots, made)))
            made += 1
    assert ex.starved + ex.waiting + len(ex.executed.times) == 60


def test_seam_acceleration_splits_seams_from_the_rest() -> None:
    ex = Executed()
    # constant velocity 1 m/s in chunk 0, then chunk 1 starts 0.05 m ahead: a seam step
    positions = [0.0, 0.1, 0.2, 0.3, 0.45, 0.55, 0.65]
    for i, p in enumerate(positions):
        ex.times.append(i * DT)
        ex.actions.append(np.array([p, 0, 0], np.float32))
        ex.chunks.append(0 if i < 4 else 1)
    stats = seam_acceleration(ex, DT, (0, 3))
    assert stats.seams == 1 and stats.measured == 2  # the ticks either side of the change
    assert stats.max_at_seams == pytest.approx(0.05 / DT**2, rel=1e-4)  # 5 m/s^2
    assert stats.max_within == pytest.approx(0.0, abs=1e-3)


def test_seam_acceleration_skips_ticks_next_to_a_hold() -> None:
    ex = Executed()
    for i, (t, p) in enumerate([(0.0, 0.0), (0.1, 0.1), (0.4, 5.0), (0.5, 5.1)]):
        ex.times.append(t)
        ex.actions.append(np.array([p], np.float32))
        ex.chunks.append(i)
    stats = seam_acceleration(ex, DT, (0, 1))
    # the held gap breaks every second difference: three seams, none measured (not 0 m/s^2)
    assert (stats.seams, stats.measured, stats.max_at_seams, stats.max_within) == (3, 0, None, None)


def test_committed_pins_what_runs_before_arrival_then_decays_to_the_execution_horizon() -> None:
    ex = ChunkExecutor(DT, n_action_steps=3, join="rtc")  # H - s = 9 - 3 = 6
    assert ex.committed(0.0, 0.1, horizon=9) is None  # nothing committed yet
    ex.add(chunk(0.0, 9, 0), now=0.0)
    got = ex.committed(0.2, latency_s=0.15, horizon=9)  # slots 2.. of the old chunk
    three = ex.committed(0.2, latency_s=0.1 + 0.2, horizon=9)  # 3.0000000000000004 periods
    assert three is not None and three[1][:4].tolist() == [1, 1, 1, 1] and three[1][4] < 1
    assert got is not None
    actions, weights = got
    assert [float(a) for a in actions[:, 0]] == [2, 3, 4, 5, 6, 7, 8]  # to the chunk's end
    frozen = 3  # now, and the two ticks (0.15 s) before the new chunk can serve
    assert np.all(weights[:frozen] == 1.0)
    soft = weights[frozen:6]
    assert np.all((soft > 0) & (soft < 1)) and np.all(np.diff(soft) < 0)  # decaying
    assert np.all(weights[6:] == 0.0)  # from H - s on: free
    assert ex.committed(0.95, 0.0, horizon=9) is None  # the old chunk has ended
