"""`action_error` lines the policy's executed actions up with the recorded ones."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
import torch

from policies import BCConfig
from policies.base import PolicyIO
from training.action_error import action_error, decision_frames, decision_numbers

ENDS = np.array([12, 30], dtype=np.int64)  # two episodes of 12 and 18 frames


def _data() -> dict[str, np.ndarray]:
    """A search: the TCP position wanders in xy; each action is the next measured position, and the
    recorded plan (`task.plan`) lets a fake policy read the action of its current frame."""
    rng = np.random.default_rng(0)
    n = int(ENDS[-1])
    pose = np.zeros((n, 9), np.float32)
    pose[:, :2] = np.cumsum(rng.normal(0, 0.001, (n, 2)), axis=0)  # at one height
    action = np.zeros((n, 10), np.float32)
    action[:-1, :3] = pose[1:, :3]
    action[-1, :3] = pose[-1, :3]
    action[[5, 20, 25], 2] = action[[4, 19, 24], 2] + 0.001  # three lifts: 1st, 1st, 2nd
    action[[6, 21, 26], 2] = action[[5, 20, 25], 2] - 0.0002
    nxt = np.zeros((n, 3, 2), np.float32)  # the frame's action and the next two, xy
    for f in range(n):
        end = int(ENDS[np.searchsorted(ENDS, f, side="right")]) - 1
        nxt[f] = action[[min(f + k, end) for k in range(3)], :2]
    plan = action.copy()
    return {
        "proprio.ee_pose": pose,
        "task.plan": plan,
        "task.next": nxt.reshape(n, 6),
        "action": action,
    }


class _Fake:
    """Reads its chunk from the observation: `plan` (the current frame's recorded action at
    every step), `hold` (the measured position) or `replay` (the recorded executed actions)."""

    def __init__(self, mode: str, offset_m: float = 0.0, scale: float = 1.0) -> None:
        self.config = BCConfig(n_obs_steps=2, horizon=6, n_action_steps=3)
        shapes = {"proprio.ee_pose": (9,), "task.plan": (10,), "task.next": (6,)}
        self.io = PolicyIO(obs_shapes=shapes, image_keys=[], action_dim=10)
        self.mode, self.offset, self.scale = mode, offset_m, scale

    def predict_action_chunk(
        self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        now = obs["task.plan"][:, -1].clone()  # (B, 10): the current frame's action
        if self.mode == "hold":
            now[:, :3] = obs["proprio.ee_pose"][:, -1, :3]
        now[:, 0] += self.offset
        chunk = now[:, None].repeat(1, self.config.horizon, 1)  # (B, T_p, 10)
        if self.mode == "replay":  # the executed actions (chunk index 1, 2, 3) as recorded,
            recorded = obs["task.next"][:, -1].reshape(-1, 3, 2)  # their moves times `scale`
            chunk[:, 1:4, :2] = recorded[:, :1] + self.scale * (recorded - recorded[:, :1])
            chunk[:, :, 0] += self.offset
        return chunk


def test_decision_frames_are_where_the_recorded_action_lifts() -> None:
    lifts = decision_frames(_data()["action"].astype(np.float64), ENDS)
    assert np.flatnonzero(lifts).tolist() == [5, 20, 25]
    number = decision_numbers(lifts, ENDS)  # counted per episode
    assert number[[5, 20, 25]].tolist() == [1, 1, 2] and number.sum() == 4


def test_standing_still_scores_as_the_hold_column_and_a_known_offset_adds_up() -> None:
    data = _data()
    hold = action_error(_Fake("hold"), data, ENDS, samples=10_000)
    for row in hold:  # a policy commanding the measured position is the baseline itself
        assert row.policy_first_mm == pytest.approx(row.hold_first_mm)
        assert row.policy_chunk_mm == pytest.approx(row.hold_chunk_mm)
        assert row.hold_first_mm > 0.5  # the positions wander about 1.4 mm a step
    # the current frame's own action: exact for the first executed step, off later
    plan = action_error(_Fake("plan"), data, ENDS, samples=10_000)
    # windows with a previous command; the lifts; each episode's first lift; the later one
    assert [r.windows for r in plan] == [
        "all (sampled)",
        "decisions",
        "first decisions",
        "later decisions",
    ]
    assert [r.n for r in plan] == [30 - 2 * 3, 3, 2, 1]
    a = data["action"].astype(np.float64)
    steps = [np.linalg.norm(a[f, :2] - a[f - 1, :2]) * 1000 for f in (5, 20, 25)]
    assert plan[1].last_first_mm == pytest.approx(np.median(steps), rel=1e-6)  # a[t - 1]
    assert plan[2].last_first_mm == pytest.approx(np.median(steps[:2]), rel=1e-6)
    assert plan[3].last_first_mm == pytest.approx(steps[2], rel=1e-6)
    for row in plan:
        assert row.policy_first_mm == pytest.approx(0.0, abs=1e-6)
        assert row.policy_chunk_mm > 0.5
    shifted = action_error(_Fake("plan", offset_m=0.002), data, ENDS, samples=10_000)
    assert all(r.policy_first_mm == pytest.approx(2.0, abs=1e-3) for r in shifted)


def test_the_move_columns_compare_displacements_so_a_constant_offset_cancels() -> None:
    """A policy that replays the recorded executed actions 2 mm off makes the recorded move
    exactly (position error 2 mm, move error 0); one that holds still makes no move (its move
    error is the no-move column: the recorded move's size)."""
    data = _data()
    replay = action_error(_Fake("replay", offset_m=0.002), data, ENDS, samples=10_000)
    for row in replay:
        assert row.policy_first_mm == pytest.approx(2.0, abs=1e-3)
        assert row.policy_move_mm == pytest.approx(0.0, abs=1e-4)
        assert row.still_move_mm > 0.5  # the positions wander about 1.4 mm a step
    for row in action_error(_Fake("hold"), data, ENDS, samples=10_000):
        assert row.policy_move_mm == pytest.approx(row.still_move_mm)


def test_the_move_size_ratio_and_cosine_tell_short_long_and_wrong_way_steps() -> None:
    """Replaying the recorded moves scaled by s: the ratio is |s| and the cosine its sign, over
    the windows whose recorded move is a search step; holding still makes no move at all."""
    data = _data()
    a = data["action"].astype(np.float64)
    for scale, ratio, cosine in ((1.0, 1.0, 1.0), (0.5, 0.5, 1.0), (2.0, 2.0, 1.0), (-1, 1, -1)):
        rows = action_error(_Fake("replay", scale=scale), data, ENDS, samples=10_000)
        for row in rows:
            assert row.move_ratio == pytest.approx(ratio, rel=1e-4)
            assert row.move_cosine == pytest.approx(cosine, abs=1e-4)
            assert row.policy_move_mm == pytest.approx(abs(1 - scale) * row.still_move_mm, 1e-4)
    sampled, decisions, *_ = action_error(_Fake("hold"), data, ENDS, samples=10_000)
    assert sampled.moved == sampled.n == 24  # the positions wander 1.4 mm a step: all move
    moves = [np.linalg.norm(a[f + 2, :2] - a[f, :2]) for f in (5, 20, 25)]  # 3 executed actions
    assert decisions.moved == sum(m >= 0.0002 for m in moves)
    assert (sampled.move_ratio, sampled.move_cosine) == (0.0, 0.0)


def test_the_sample_is_seeded_and_capped() -> None:
    data = _data()
    a = action_error(_Fake("replay"), data, ENDS, samples=5, seed=1)  # moves: no NaN gain
    b = action_error(_Fake("replay"), data, ENDS, samples=5, seed=1)
    assert a == b and a[0].n == 5


class _Sampler(_Fake):
    """The current frame's action plus noise drawn from the generator it is given."""

    def predict_action_chunk(
        self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        chunk = super().predict_action_chunk(obs)
        return chunk + 0.001 * torch.randn(chunk.shape, generator=generator)


def test_a_sampling_policys_noise_is_seeded() -> None:
    data = _data()
    a = action_error(_Sampler("plan"), data, ENDS, samples=10, seed=3)
    assert a == action_error(_Sampler("plan"), data, ENDS, samples=10, seed=3)
    torch.manual_seed(0)  # the global generator plays no part
    assert a == action_error(_Sampler("plan"), data, ENDS, samples=10, seed=3)
    assert a != action_error(_Sampler("plan"), data, ENDS, samples=10, seed=4)


def test_the_gain_undoes_a_scaled_move_and_is_undefined_without_one() -> None:
    """Replaying the recorded moves scaled by s: the least-squares gain is 1 / s (-1 reversed);
    a policy that makes no move has none."""
    data = _data()
    for scale in (1.0, 0.5, 2.0, -1.0):
        for row in action_error(_Fake("replay", scale=scale), data, ENDS, samples=10_000):
            assert row.move_gain == pytest.approx(1 / scale, rel=1e-4)
    for row in action_error(_Fake("hold"), data, ENDS, samples=10_000):
        assert np.isnan(row.move_gain)


class _Ramp(_Fake):
    """The recorded executed actions' first and last positions, the ones between spread evenly
    on the line joining them: the recorded move, made in equal steps."""

    def predict_action_chunk(
        self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        chunk = super().predict_action_chunk(obs)
        start, end = chunk[:, 1, :2].clone(), chunk[:, 3, :2].clone()  # (B, 2) executed ends
        for k, w in ((2, 0.5), (4, 1.0), (5, 1.0)):
            chunk[:, k, :2] = start + w * (end - start)
        return chunk


def test_the_first_step_share_tells_a_move_made_at_once_from_one_spread_over_the_chunk() -> None:
    """Three executed actions: a policy moving in two equal steps makes half its move in the
    first (the recorded share is the data's own); the recorded trajectory replayed has its
    share; one step makes all of it."""
    data = _data()
    a = data["action"].astype(np.float64)
    ramp = action_error(_Ramp("replay"), data, ENDS, samples=10_000)
    replay = action_error(_Fake("replay"), data, ENDS, samples=10_000)
    decisions = [f for f in (5, 20, 25) if np.linalg.norm(a[f + 2, :2] - a[f, :2]) >= 0.0002]
    shares = []
    for f in decisions:
        move, first = a[f + 2, :2] - a[f, :2], a[f + 1, :2] - a[f, :2]
        shares.append(first @ move / (move @ move))
    assert replay[1].recorded_first_share == pytest.approx(np.median(shares), rel=1e-6)
    for r, p in zip(ramp, replay, strict=True):
        assert r.policy_first_share == pytest.approx(0.5, abs=1e-6)
        assert r.move_ratio == pytest.approx(1.0, rel=1e-4)  # the same move, spread
        assert p.policy_first_share == pytest.approx(p.recorded_first_share, rel=1e-6)
        assert r.recorded_first_share == p.recorded_first_share
        assert abs(p.recorded_first_share - 0.5) > 0.01  # the data tells the two apart
