"""The closed-loop actor every policy inherits: chunk execution and temporal ensembling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from policies import make_policy
from policies.base import Guide, rtc_weights
from tests.policies.conftest import IO, fit_data, make_batch, tiny_policy_config


def _stepped(name: str = "bc", **overrides: object):  # type: ignore[no-untyped-def]
    """A tiny policy whose c-th chunk (c = 0, 1, ...) holds 100 c + j at time index j, with
    the guide each chunk was asked for (None: free) in the list returned beside it."""
    torch.manual_seed(0)
    policy = make_policy(tiny_policy_config(name, **overrides), IO)
    policy.fit_normalizer(fit_data())
    guides: list[Guide | None] = []

    def chunk(obs, generator=None, guide=None):  # type: ignore[no-untyped-def]
        c = len(guides)
        guides.append(guide)
        times = torch.arange(policy.config.horizon, dtype=torch.float32)
        return (100.0 * c + times)[None, :, None].repeat(1, 1, IO.action_dim)

    policy.predict_action_chunk = chunk  # type: ignore[method-assign]
    frame = {k: v[0, 0].numpy() for k, v in make_batch(1, policy.config).items() if k != "action"}
    return policy, frame, guides


def test_without_ensembling_each_chunk_runs_n_action_steps_from_the_current_frame() -> None:
    policy, frame, calls = _stepped()  # T_o 2, T_p 6, T_a 3
    actions = [policy.select_action(frame)[0] for _ in range(7)]
    assert actions == [1, 2, 3, 101, 102, 103, 201] and len(calls) == 3


@pytest.mark.parametrize("k", [0.0, 0.5])
def test_temporal_ensembling_averages_every_chunk_that_covers_now(k: float) -> None:
    """Chunk c is made at step c and covers steps c..c+4 (T_p - T_o + 1 = 5 actions); at step
    t its action for t is 100 c + 1 + (t - c). Weights exp(-k i), i = 0 the oldest chunk."""
    policy, frame, calls = _stepped(temporal_ensemble=k)
    for t in range(8):
        got = policy.select_action(frame)
        voters = [c for c in range(t + 1) if t - c < 5]
        votes = np.array([100.0 * c + 1 + (t - c) for c in voters])
        weights = np.exp(-k * np.arange(len(voters)))
        assert got.shape == (IO.action_dim,) and got.dtype == np.float32
        assert got[0] == pytest.approx(weights @ votes / weights.sum(), rel=1e-6), t
    assert len(calls) == 8  # a new chunk every step
    policy.reset()
    policy.select_action(frame)
    assert policy._ensemble[0][0] == 1 and len(policy._ensemble) == 1  # reset forgot the rest


@pytest.mark.parametrize("name", ["diffusion", "diffusion_flow", "diffusion_transformer"])
def test_a_seeded_episode_acts_the_same_whatever_ran_before(name: str) -> None:
    """Eval workers split episodes differently; a seed must fix a sampling policy's noise."""
    torch.manual_seed(0)
    policy = make_policy(tiny_policy_config(name), IO).eval()
    policy.fit_normalizer(fit_data())
    batch = make_batch(6, policy.config, seed=1)
    frames = [{k: v[i, 0].numpy() for k, v in batch.items() if k != "action"} for i in range(6)]

    def episode(seed: int | None, global_seed: int) -> np.ndarray:
        torch.manual_seed(global_seed)  # what other episodes left in the global generator
        policy.reset(seed)
        return np.stack([policy.select_action(f) for f in frames])

    first = episode(3, global_seed=10)
    np.testing.assert_array_equal(episode(3, global_seed=99), first)
    assert not np.allclose(episode(4, global_seed=10), first)  # the seed is what decides
    assert not np.allclose(episode(None, global_seed=10), episode(None, global_seed=11))


def test_rtc_weights_pin_the_frozen_slots_then_decay_to_zero_at_the_end() -> None:
    # c = (end - k) / (end - frozen + 1) = 2/3, 1/3 at k = 2, 3; weight c (e^c - 1) / (e - 1)
    expected = [1.0, 1.0, 0.3677061, 0.0767457, 0.0, 0.0]
    np.testing.assert_allclose(rtc_weights(6, frozen=2, end=4), expected, atol=1e-6)
    assert rtc_weights(6, frozen=2, end=4).dtype == np.float32
    free = [0.570589, 0.287072, 0.114492, 0.025770]  # c = 4/5 .. 1/5: nothing pinned
    np.testing.assert_allclose(rtc_weights(4, 0, 4), free, atol=1e-6)


def test_rtc_asks_each_chunk_to_agree_with_what_is_left_of_the_last() -> None:
    policy, frame, guides = _stepped("diffusion", rtc=True)  # T_o 2, T_p 8, T_a 3
    actions = [policy.select_action(frame)[0] for _ in range(7)]
    assert actions == [1, 2, 3, 101, 102, 103, 201]  # executed as without rtc
    assert guides[0] is None  # the episode's first chunk is free
    for c in (1, 2):
        guide = guides[c]
        assert guide is not None and guide.guidance == 0.0
        # chunk c - 1 planned 100 (c - 1) + 1..7 from its frame; 3 ran, 4..7 are left, asked
        # for at slots 1..4 (slot 0 is the frame before now), RTC's mask with nothing pinned
        left = 100.0 * (c - 1) + np.arange(4, 8)
        np.testing.assert_array_equal(guide.actions[0, 1:5, 0].numpy(), left)
        np.testing.assert_allclose(guide.weights[1:5].numpy(), rtc_weights(4, 0, 4))
        assert guide.weights[0] == 0 and torch.all(guide.weights[5:] == 0)
    policy.reset()
    policy.select_action(frame)
    assert guides[-1] is None  # a new episode forgets the last one's plan
    plain, frame, free = _stepped("diffusion")
    for _ in range(7):
        plain.select_action(frame)
    assert len(free) == 3 and all(g is None for g in free)


@pytest.mark.parametrize("relative_to", [None, "proprio.ee_pos"])
def test_rtc_keeps_a_sampled_chunk_near_the_last_ones_leftover(relative_to: str | None) -> None:
    """The real sampler: the second chunk of a seeded episode lands nearer the first's
    leftover with rtc than the same draw without it (untrained weights: chunks are noise).
    Relative chunks: the leftover is absolute and must be moved into the new frame (the
    arm here goes 5 m a step, so a leftover taken as relative lands 15 m off)."""
    frames = [
        {k: v[0, 0].numpy() for k, v in make_batch(1, tiny_policy_config("diffusion"), i).items()}
        for i in range(6)
    ]
    for i, frame in enumerate(frames):
        frame["proprio.ee_pos"] = frame["proprio.ee_pos"] + 5.0 * i
    distances, firsts = {}, []
    for rtc in (False, True):
        torch.manual_seed(0)
        config = tiny_policy_config("diffusion", rtc=rtc, relative_to=relative_to)
        policy = make_policy(config, IO).eval()
        policy.fit_normalizer(fit_data(), make_batch(64, config, seed=1))
        plans: list[np.ndarray] = []
        plan = policy._plan

        def recorded(guide=None, plan=plan, plans=plans):  # type: ignore[no-untyped-def]
            plans.append(plan(guide))
            return plans[-1]

        policy._plan = recorded  # type: ignore[method-assign]
        policy.reset(seed=5)
        for f in frames:
            policy.select_action(f)
        firsts.append(plans[0])  # (7, D_a) chunk 0 from its frame: 3 run, 4 left
        distances[rtc] = np.abs(plans[1][:2] - plans[0][3:5]).mean()
    np.testing.assert_array_equal(firsts[0], firsts[1])  # the same draw up to the guide
    assert distances[True] < 0.5 * distances[False], distances


def test_rtc_is_refused_for_a_policy_that_cannot_inpaint_and_beside_an_ensemble() -> None:
    for refused in ({"name": "bc"}, {"name": "diffusion", "sampler": "ddpm"}):
        with pytest.raises(ValueError, match=f"rtc inpaints a sampled chunk: a {refused['name']}"):
            tiny_policy_config(rtc=True, **refused)  # type: ignore[arg-type]
    assert tiny_policy_config("diffusion", objective="flow", rtc=True).rtc
    with pytest.raises(ValueError, match="set one of them"):
        tiny_policy_config("diffusion", rtc=True, temporal_ensemble=0.1)
    with pytest.raises(ValueError, match="leaving some"):  # T_p 8, T_o 2: nothing left after 7
        tiny_policy_config("diffusion", rtc=True, n_action_steps=7)
