"""The safety supervisor driven by random and adversarial command streams (hypothesis): no
command it lets through breaks a limit; and a benign stream passes untouched."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.kinematics import ArmKinematics
from drivers.safety import Clip, SafetyLimits, SafetySupervisor

KIN = ArmKinematics()
HOME = np.array([0.0, -0.4, 0.6, 0.0, 0.5, 0.0])
CENTRE = KIN.fk(HOME)[0]
LIMITS = SafetyLimits(
    joint_low=tuple(KIN.limits[:, 0]),
    joint_high=tuple(KIN.limits[:, 1]),
    workspace_low=tuple(CENTRE - 0.1),  # type: ignore[arg-type]
    workspace_high=tuple(CENTRE + 0.1),  # type: ignore[arg-type]
    max_joint_speed=1.0,
    max_tcp_speed=0.25,
    max_jump=0.3,
)
DT = LIMITS.period_s
EPS = 1e-9


def tcp(q: np.ndarray) -> np.ndarray:
    return KIN.fk(q)[0]


def outside(p: np.ndarray) -> float:
    low, high = np.array(LIMITS.workspace_low), np.array(LIMITS.workspace_high)
    return float(np.linalg.norm(np.maximum(low - p, 0) + np.maximum(p - high, 0)))


joint = st.floats(-5.0, 5.0, allow_nan=False)
command = st.one_of(
    st.lists(joint, min_size=6, max_size=6),  # anywhere, however far
    st.lists(st.floats(-0.05, 0.05), min_size=6, max_size=6).map(lambda d: (HOME + d).tolist()),
    st.lists(st.sampled_from([math.nan, math.inf, -math.inf, 0.1]), min_size=6, max_size=6),
    st.none(),
    st.lists(joint, min_size=1, max_size=9),  # the wrong number of joints
)
tick = st.tuples(
    command,
    st.sampled_from([0.0, 0.0, 0.0, 0.05, 0.5]),  # the command's age, s
    st.sampled_from(["follow", "lag", "pushed"]),  # what the arm does
    st.lists(st.floats(-0.02, 0.02), min_size=6, max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(tick, min_size=1, max_size=40))
def test_no_command_that_reaches_the_bus_breaks_a_limit(ticks: list) -> None:
    supervisor = SafetySupervisor(LIMITS, tcp, HOME)
    low, high = np.array(LIMITS.joint_low), np.array(LIMITS.joint_high)
    measured, last = HOME.copy(), HOME.copy()
    now = 0.0
    for cmd, age, arm, noise in ticks:
        now += DT
        decision = supervisor.step(cmd, now - age, measured, now)
        q = decision.q
        assert q.shape == (6,) and np.all(np.isfinite(q))
        assert np.all(q >= low - EPS) and np.all(q <= high + EPS)
        if Clip.DIVERGED in decision.clips:  # held where the arm is
            assert np.allclose(q, np.clip(measured, low, high))
        else:
            assert np.all(np.abs(q - last) <= LIMITS.max_joint_speed * DT + EPS)
            assert np.all(np.abs(q - measured) <= LIMITS.max_jump + EPS)
            assert outside(tcp(q)) <= outside(tcp(last)) + 1e-9
            assert np.linalg.norm(tcp(q) - tcp(last)) <= LIMITS.max_tcp_speed * DT + 1e-9
        if age > LIMITS.stale_after_s and Clip.DIVERGED not in decision.clips:
            assert {Clip.STALE, Clip.INVALID} & set(decision.clips)  # held: last, as far as
            jump = LIMITS.max_jump  # the jump limit lets it stay after a push
            assert np.allclose(q, np.clip(last, measured - jump, measured + jump))
        last = q
        if arm == "follow":
            measured = q.copy()
        elif arm == "pushed":  # someone moves the arm
            measured = np.clip(measured + np.array(noise) * 20, low, high)
        # "lag": the arm has not moved this tick


def test_a_benign_stream_passes_untouched() -> None:
    supervisor = SafetySupervisor(LIMITS, tcp, HOME)
    q = HOME.copy()
    for k in range(50):
        q = HOME + 0.005 * k * np.array([1, -1, 1, 1, -1, 1]) / 10
        decision = supervisor.step(q, k * DT, q, k * DT)
        assert decision.clips == () and np.array_equal(decision.q, q)
    assert not supervisor.counts


def test_a_step_at_the_speed_limit_to_within_rounding_is_sent_as_asked() -> None:
    # a plan at half the limit sampled two ticks apart (one missed) lands on the limit
    # give or take rounding; only an excess beyond rounding is a clip
    for excess, clipped in ((1e-13, False), (-1e-13, False), (1e-9, True)):
        supervisor = SafetySupervisor(LIMITS, tcp, HOME)
        q = HOME.copy()
        q[5] += LIMITS.max_joint_speed * DT + excess  # the wrist roll: the TCP stays
        decision = supervisor.step(q, 0.0, HOME, 0.0)
        assert (decision.clips == (Clip.JOINT_SPEED,)) is clipped
        assert np.array_equal(decision.q, q) is not clipped


def test_each_rule_is_counted_by_name() -> None:
    supervisor = SafetySupervisor(LIMITS, tcp, HOME)
    far = HOME + np.array([0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    decision = supervisor.step(far, 0.0, HOME, 0.0)
    assert Clip.JOINT_SPEED in decision.clips and Clip.JUMP in decision.clips
    assert decision.q[5] == pytest.approx(HOME[5] + LIMITS.max_joint_speed * DT)
    held = supervisor.step(HOME, -1.0, HOME, 0.0)  # a second old
    assert held.clips == (Clip.STALE,)
    assert supervisor.step([math.nan] * 6, 0.0, HOME, 0.0).clips == (Clip.INVALID,)
    beyond = HOME.copy()
    beyond[1] = -3.0
    assert Clip.JOINT_LIMIT in supervisor.step(beyond, 0.0, HOME, 0.0).clips
    assert supervisor.counts[Clip.STALE] == 1 and supervisor.counts[Clip.INVALID] == 1


def test_a_blocked_arm_is_held_where_it_is() -> None:
    supervisor = SafetySupervisor(LIMITS, tcp, HOME)
    pushed = HOME + np.array([0.5, 0, 0, 0, 0, 0])  # far beyond the jump limit from last
    decision = supervisor.step(HOME, 0.0, pushed, 0.0)
    assert decision.clips == (Clip.DIVERGED,) and np.allclose(decision.q, pushed)


def test_the_tcp_is_kept_in_its_box_at_its_speed() -> None:
    supervisor = SafetySupervisor(LIMITS, tcp, HOME)
    q, away = HOME.copy(), HOME + np.array([0.0, 0.8, 0.0, 0.0, 0.0, 0.0])  # 0.26 m down
    for k in range(200):
        decision = supervisor.step(away, k * DT, q, k * DT)
        q = decision.q
    assert outside(tcp(q)) == 0.0 and not np.allclose(q, away)
    assert tcp(q)[2] == pytest.approx(LIMITS.workspace_low[2], abs=1e-3)  # at the floor
    assert supervisor.counts[Clip.WORKSPACE] > 0


def test_estop_turns_torque_off_and_a_bad_start_is_refused() -> None:
    supervisor = SafetySupervisor(LIMITS, tcp, HOME)
    supervisor.estop()
    assert supervisor.step(HOME, 0.0, HOME, 0.0).torque_off
    start = HOME.copy()
    start[2] = 3.0
    with pytest.raises(ValueError, match=r"joints \[2\] are outside their limits"):
        SafetySupervisor(LIMITS, tcp, start)
    with pytest.raises(ValueError, match=r"low .* must be below high"):
        SafetyLimits((0.0,), (-1.0,), (0, 0, 0), (1, 1, 1))
