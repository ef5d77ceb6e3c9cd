"""The closed-loop actor every policy inherits: chunk execution and temporal ensembling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from policies import make_policy
from tests.policies.conftest import IO, fit_data, make_batch, tiny_config, tiny_policy_config


def _stepped(**overrides: object):  # type: ignore[no-untyped-def]
    """A tiny BC policy whose c-th chunk (c = 0, 1, ...) holds 100 c + j at time index j."""
    torch.manual_seed(0)
    policy = make_policy(tiny_config(**overrides), IO)
    policy.fit_normalizer(fit_data())
    calls = []

    def chunk(obs, generator=None):  # type: ignore[no-untyped-def]
        c = len(calls)
        calls.append(c)
        times = torch.arange(policy.config.horizon, dtype=torch.float32)
        return (100.0 * c + times)[None, :, None].repeat(1, 1, IO.action_dim)

    policy.predict_action_chunk = chunk  # type: ignore[method-assign]
    frame = {k: v[0, 0].numpy() for k, v in make_batch(1, policy.config).items() if k != "action"}
    return policy, frame, calls


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
