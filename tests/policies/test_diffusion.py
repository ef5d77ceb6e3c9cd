from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from policies import DiffusionConfig, PolicyIO, make_policy, policy_config_from_dict
from tests.policies.conftest import IO, TINY_DIFFUSION, fit_data, make_batch


def _tiny(seed: int = 0, **overrides: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    policy = make_policy(DiffusionConfig.model_validate(TINY_DIFFUSION | overrides), IO)
    policy.fit_normalizer(fit_data())
    return policy


def test_defaults_are_diffusion_policys() -> None:
    config = DiffusionConfig()
    assert (config.horizon, config.n_obs_steps, config.n_action_steps) == (16, 2, 8)
    assert (config.num_train_steps, config.beta_schedule) == (100, "squaredcos_cap_v2")
    assert (config.sampler, config.inference_steps, config.prediction) == ("ddim", 10, "epsilon")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"horizon": 10, "down_widths": (8, 16, 32)}, "divisible by 2\\^\\(len\\(down_widths"),
        ({"inference_steps": 30, "num_train_steps": 20}, "inference_steps \\(30\\) must be <="),
        ({"sampler": "ddpm", "inference_steps": 5}, "takes every training step"),
        ({"prediction": "v"}, "prediction"),
        ({"action_norm": "gaussian"}, "set clip_sample = false"),
    ],
)
def test_config_refuses_what_cannot_run(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DiffusionConfig.model_validate(TINY_DIFFUSION | overrides)


def test_chunks_come_out_in_the_datas_units() -> None:
    """Same weights and noise, action statistics fitted on 10 * a + 5: exactly 10 * chunk + 5
    (the denoising runs in normalised units, clipping included)."""
    batch = make_batch(3, _tiny().config)
    policy, rescaled = _tiny().eval(), _tiny().eval()
    data = fit_data()
    rescaled.fit_normalizer({**data, "action": 10.0 * data["action"] + 5.0})
    with torch.no_grad():
        chunk = policy.predict_action_chunk(batch, generator=torch.Generator().manual_seed(3))
        again = rescaled.predict_action_chunk(batch, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(again, 10.0 * chunk + 5.0, rtol=1e-5, atol=1e-4)


def test_the_sampler_runs_the_configured_number_of_denoiser_calls() -> None:
    for objective, sampler, steps in (
        ("ddpm", "ddim", 3),
        ("ddpm", "ddim", 7),
        ("ddpm", "ddpm", 20),
        ("flow", "ddim", 4),
    ):
        policy = _tiny(objective=objective, sampler=sampler, inference_steps=steps).eval()
        calls: list[int] = []
        policy.denoiser.register_forward_hook(lambda *args, calls=calls: calls.append(1))
        with torch.no_grad():
            policy.predict_action_chunk(make_batch(2, policy.config))
        assert len(calls) == steps, (objective, sampler, steps)


def test_the_observation_conditions_the_chunk() -> None:
    """Same noise, different observations: different chunks (the FiLM path is live)."""
    policy = _tiny().eval()
    a, b = make_batch(1, policy.config, seed=1), make_batch(1, policy.config, seed=2)
    with torch.no_grad():
        chunk_a = policy.predict_action_chunk(a, generator=torch.Generator().manual_seed(0))
        chunk_b = policy.predict_action_chunk(b, generator=torch.Generator().manual_seed(0))
    assert (chunk_a - chunk_b).abs().max() > 1e-3


@pytest.mark.parametrize(
    ("objective", "prediction"), [("ddpm", "epsilon"), ("ddpm", "sample"), ("flow", "epsilon")]
)
def test_learns_both_modes_of_a_bimodal_demonstrator(objective: str, prediction: str) -> None:
    """The reason for diffusion: the same observation is followed by +0.8 in half the
    demonstrations and -0.8 in the other half. Regression would answer the mean, 0; samples
    of the trained policy land on both modes and almost never between them."""
    io = PolicyIO(obs_shapes={"proprio.ee_pos": (3,)}, image_keys=[], action_dim=2)
    config = policy_config_from_dict(
        dict(
            name="diffusion",
            n_obs_steps=1,
            horizon=4,
            n_action_steps=2,
            down_widths=(16, 32),
            step_embed_dim=16,
            num_train_steps=50,
            prediction=prediction,
            objective=objective,
        )
    )
    torch.manual_seed(0)
    policy = make_policy(config, io)
    rng = np.random.default_rng(0)
    policy.fit_normalizer({"proprio.ee_pos": rng.normal(size=(50, 3)), "action": [[-1.0], [1.0]]})
    optimizer = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    for _ in range(200):
        sign = torch.randint(0, 2, (64, 1, 1)).float() * 2 - 1  # (B, 1, 1)
        batch = {"proprio.ee_pos": torch.zeros(64, 1, 3), "action": 0.8 * sign.expand(64, 4, 2)}
        loss = policy.compute_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        chunks = policy.eval().predict_action_chunk({"proprio.ee_pos": torch.zeros(200, 1, 3)})
    means = chunks.mean(dim=(1, 2))  # (200,)
    upper, lower = (means > 0.5).float().mean().item(), (means < -0.5).float().mean().item()
    between = (means.abs() < 0.3).float().mean().item()  # where a regressor would answer
    assert upper > 0.25 and lower > 0.25 and between < 0.1, (upper, lower, between)


def test_the_transformer_backbone_is_causal_over_the_action_tokens() -> None:
    """Action token t sees noisy actions 0..t only (and every condition token)."""
    policy = _tiny(backbone="transformer", transformer_width=16, transformer_heads=2).eval()
    net = policy.denoiser
    assert type(net).__name__ == "ConditionalTransformer1D"
    x, steps = torch.randn(1, 8, 4), torch.tensor([5])
    cond = torch.randn(1, 2, policy.observations.features_per_step)
    later = x.clone()
    later[:, 5:] += 1.0
    with torch.no_grad():
        a, b = net(x, steps, cond), net(later, steps, cond)
        c = net(x, steps, cond + 1.0)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert (a[:, 5:] - b[:, 5:]).abs().max() > 1e-4 and (a - c).abs().max() > 1e-4


def test_the_transformer_needs_heads_that_divide_its_width() -> None:
    with pytest.raises(ValidationError, match="transformer_heads \\(3\\) must divide"):
        DiffusionConfig.model_validate(
            TINY_DIFFUSION | {"backbone": "transformer", "transformer_heads": 3}
        )


@pytest.mark.parametrize("objective", ["ddpm", "flow"])
def test_a_committed_plan_starts_where_the_robot_is_committed(objective: str) -> None:
    """Real-time chunking: the slots weighted 1 come out as the committed actions (data
    units), the rest of the chunk differs from an unguided one drawn from the same noise."""
    policy = _tiny(objective=objective, clip_sample=False).eval()
    batch = make_batch(1, policy.config)
    window = {k: v[0].numpy() for k, v in batch.items() if k != "action"}  # (T_o, ...)
    committed = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    weights = np.array([1, 1, 0.5, 0], np.float32)
    policy.reset(seed=3)
    free = policy.plan(window)
    policy.reset(seed=3)
    pinned = policy.plan(window, committed=(committed, weights))  # (T_p - T_o + 1, D_a)
    np.testing.assert_allclose(pinned[:2], committed[:2], rtol=1e-4, atol=1e-4)
    assert not np.allclose(pinned[3:], free[3:], atol=1e-3)
    assert policy.can_inpaint


def test_a_flow_plan_guided_by_gradient_comes_near_the_committed_actions() -> None:
    """RTC's gradient guidance through the policy (under its inference_mode): the slots
    weighted 1 end much nearer the committed actions than an unguided chunk, not exactly;
    a DDIM policy refuses guidance."""
    policy = _tiny(objective="flow", clip_sample=False).eval()
    window = {k: v[0].numpy() for k, v in make_batch(1, policy.config).items() if k != "action"}
    committed = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    weights = np.array([1, 1, 0.5, 0], np.float32)
    policy.reset(seed=3)
    free = policy.plan(window)
    policy.reset(seed=3)
    guided = policy.plan(window, committed=(committed, weights), guidance=5.0)
    error, free_error = (
        np.abs(guided[:2] - committed[:2]).mean(),
        np.abs(free[:2] - committed[:2]).mean(),
    )
    assert 0 < error < 0.5 * free_error
    ddim = _tiny(clip_sample=False).eval()
    with pytest.raises(ValueError, match="defined for flow policies"):
        ddim.plan(window, committed=(committed, weights), guidance=5.0)


def test_real_time_chunking_needs_a_deterministic_sampler() -> None:
    ddpm = _tiny(sampler="ddpm", inference_steps=20).eval()
    assert not ddpm.can_inpaint
    window = {k: v[0].numpy() for k, v in make_batch(1, ddpm.config).items() if k != "action"}
    with pytest.raises(ValueError, match="sampler to 'ddim'"):
        ddpm.plan(window, committed=(np.zeros((2, 4), np.float32), np.ones(2, np.float32)))
