"""Deployment settings: execution overrides, bf16 autocast and torch.compile of the chunk call."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from policies import Policy, make_policy
from policies.inference import InferenceConfig, prepare_inference
from tests.policies.conftest import IO, fit_data, make_batch, tiny_policy_config


def tiny(name: str = "diffusion", **overrides: object) -> Policy:
    torch.manual_seed(0)
    policy = make_policy(tiny_policy_config(name, **overrides), IO)
    policy.fit_normalizer(fit_data())
    return policy.eval()


FRAMES = [  # one observation per closed-loop step
    {k: v[0, 0].numpy() for k, v in make_batch(1, tiny_policy_config("diffusion"), i).items()}
    for i in range(12)
]


def plans(policy: Policy, steps: int) -> int:
    """How many chunks `steps` closed-loop steps ask for."""
    calls = 0
    eager = policy.predict_action_chunk

    def counted(obs, generator=None):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return eager(obs, generator)

    policy.predict_action_chunk = counted  # type: ignore[method-assign]
    policy.reset()
    for i in range(steps):
        policy.select_action(FRAMES[i])
    return calls


def test_defaults_leave_the_policy_as_trained() -> None:
    policy = tiny()
    eager = policy.predict_action_chunk
    assert prepare_inference(policy, InferenceConfig()) is policy
    assert policy.predict_action_chunk == eager
    assert plans(policy, 12) == 4  # 3 actions per chunk


@pytest.mark.parametrize(("override", "expected"), [({"n_action_steps": 1}, 12), ({}, 4)])
def test_n_action_steps_override_sets_how_often_the_policy_replans(
    override: dict[str, int], expected: int
) -> None:
    policy = prepare_inference(tiny(), InferenceConfig(**override))
    assert plans(policy, 12) == expected


def test_temporal_ensemble_override_replans_every_step() -> None:
    policy = prepare_inference(tiny(), InferenceConfig(temporal_ensemble=0.1))
    assert policy.config.temporal_ensemble == 0.1
    assert plans(policy, 5) == 5


def test_an_override_that_does_not_fit_the_chunk_is_one_clear_error() -> None:
    policy = tiny()  # horizon 8, n_obs_steps 2: at most 7 actions per chunk
    with pytest.raises(ValueError, match=r"n_action_steps.*<= horizon") as err:
        prepare_inference(policy, InferenceConfig(n_action_steps=8))
    assert "\n" not in str(err.value)
    assert policy.config.n_action_steps == 3  # unchanged
    with pytest.raises(ValidationError):
        InferenceConfig(compile="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["diffusion", "bc"])
def test_bf16_autocast_returns_float32_close_to_but_not_the_fp32_chunk(name: str) -> None:
    reference, policy = tiny(name), tiny(name)
    obs = {k: v for k, v in make_batch(2, reference.config).items() if k != "action"}
    prepare_inference(policy, InferenceConfig(precision="bf16"))
    with torch.inference_mode():
        torch.manual_seed(3)
        expected = reference.predict_action_chunk(obs)
        torch.manual_seed(3)
        got = policy.predict_action_chunk(obs)
    assert got.dtype == torch.float32
    assert not torch.equal(got, expected)  # autocast did run in bfloat16
    scale = expected.abs().max().item()
    assert (got - expected).abs().max().item() < 0.1 * scale


@pytest.mark.slow
def test_compiled_chunk_call_is_one_graph_and_matches_eager() -> None:
    """As eval runs it: a seeded generator per episode (drawn eagerly, outside the graph)."""
    from torch._dynamo.utils import counters

    reference, policy = tiny(), tiny()
    obs = {k: v for k, v in make_batch(2, reference.config).items() if k != "action"}
    torch._dynamo.reset()
    counters.clear()
    prepare_inference(policy, InferenceConfig(compile="default"))
    with torch.inference_mode():
        expected = reference.predict_action_chunk(obs, torch.Generator().manual_seed(5))
        got = policy.predict_action_chunk(obs, torch.Generator().manual_seed(5))
        again = policy.predict_action_chunk(obs, torch.Generator().manual_seed(5))
        other = policy.predict_action_chunk(obs, torch.Generator().manual_seed(6))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(again, got)
    assert not torch.allclose(other, got)
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["graph_break"])
    assert not counters["graph_break"]
    with pytest.raises(ValueError, match="already applied"):
        prepare_inference(policy, InferenceConfig(compile="default"))


@pytest.mark.parametrize("name", ["diffusion", "diffusion_flow"])
def test_inference_steps_override_sets_the_denoiser_calls_per_chunk(name: str) -> None:
    policy = tiny(name)  # trained with 5 steps
    calls = []
    policy.denoiser.register_forward_hook(lambda *_: calls.append(1))  # type: ignore[union-attr]
    obs = {k: v for k, v in make_batch(1, policy.config).items() if k != "action"}
    with torch.inference_mode():
        policy.predict_action_chunk(obs)
        assert len(calls) == 5
        prepare_inference(policy, InferenceConfig(inference_steps=8))
        policy.predict_action_chunk(obs)
    assert len(calls) == 5 + 8


def test_inference_steps_is_refused_for_a_policy_without_a_sampler() -> None:
    with pytest.raises(ValueError, match="bc policy: inference_steps: Extra inputs"):
        prepare_inference(tiny("bc"), InferenceConfig(inference_steps=8))


def test_rtc_override_is_refused_where_the_policy_cannot_inpaint() -> None:
    assert prepare_inference(tiny(), InferenceConfig(rtc=True)).config.rtc
    policy = tiny("bc")
    with pytest.raises(ValueError, match="rtc inpaints a sampled chunk: a bc policy") as err:
        prepare_inference(policy, InferenceConfig(rtc=True))
    assert "\n" not in str(err.value) and not policy.config.rtc


@pytest.mark.parametrize("name", ["diffusion", "diffusion_flow"])
def test_samples_averages_chunks_drawn_from_independent_noise(name: str) -> None:
    policy = tiny(name)
    obs = {k: v for k, v in make_batch(2, policy.config).items() if k != "action"}
    noise = torch.randn(3 * 2, policy.config.horizon, IO.action_dim)  # (K B, T_p, D_a)
    with torch.inference_mode():
        one = [policy.predict_action_chunk(obs, noise=n) for n in noise.split(2)]
        prepare_inference(policy, InferenceConfig(samples=3))
        assert policy.initial_noise(obs).shape == noise.shape
        mean = policy.predict_action_chunk(obs, noise=noise)  # (B, T_p, D_a)
    assert mean.shape == one[0].shape
    torch.testing.assert_close(mean, torch.stack(one).mean(0), rtol=1e-5, atol=1e-5)
    assert (one[0] - one[1]).abs().max() > 1e-3  # the samples differ: the mean is not one


def test_samples_with_rtc_inpaints_every_sample() -> None:
    policy = tiny()
    prepare_inference(policy, InferenceConfig(samples=4, rtc=True))
    policy.reset()
    chunks = [policy.select_action(FRAMES[i]) for i in range(6)]
    assert all(c.shape == (IO.action_dim,) for c in chunks)


def test_samples_is_refused_for_a_policy_that_does_not_sample() -> None:
    with pytest.raises(ValueError, match="bc policy: samples: Extra inputs"):
        prepare_inference(tiny("bc"), InferenceConfig(samples=4))
