"""The pre-computed samplers against diffusers' scheduler loop (the oracle) and closed forms."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler
from torch import Tensor

from policies import PolicyIO, make_policy, policy_config_from_dict
from policies.sampling import DdimSampler, Inpaint, euler_flow


def toy_denoiser(chunk: Tensor, steps: Tensor, cond: Tensor) -> Tensor:
    """Depends on all three inputs, nonlinearly, so a wrong coefficient or step shows."""
    scale = torch.sin(steps.float() / 7.0)[:, None, None]  # (B, 1, 1)
    return torch.tanh(1.5 * chunk) * scale + cond.mean(dim=(1, 2))[:, None, None]


def diffusers_ddim(scheduler: DDIMScheduler, steps: int, noise: Tensor, cond: Tensor) -> Tensor:
    scheduler.set_timesteps(steps)
    chunk = noise
    for step in scheduler.timesteps:
        out = toy_denoiser(chunk, step.expand(chunk.shape[0]), cond)
        chunk = scheduler.step(out, step, chunk).prev_sample
    return chunk


@pytest.mark.parametrize("prediction", ["epsilon", "sample"])
@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("steps", [10, 7, 100])
def test_ddim_matches_diffusers_scheduler(prediction: str, clip: bool, steps: int) -> None:
    def scheduler() -> DDIMScheduler:
        return DDIMScheduler(
            num_train_timesteps=100,
            beta_schedule="squaredcos_cap_v2",
            clip_sample=clip,
            prediction_type=prediction,
            set_alpha_to_one=True,
            steps_offset=0,
        )

    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(3, 16, 4, generator=generator)  # (B, T_p, D_a)
    cond = torch.randn(3, 2, 5, generator=generator)  # (B, T_o, F)
    expected = diffusers_ddim(scheduler(), steps, noise, cond)
    got = DdimSampler(scheduler(), steps, prediction, clip)(toy_denoiser, noise, cond)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got, noise, atol=1e-2)  # it did denoise


def test_ddim_rejects_an_unknown_prediction() -> None:
    with pytest.raises(ValueError, match="prediction must be"):
        DdimSampler(DDIMScheduler(num_train_timesteps=100), 10, "v_prediction", True)


def test_euler_flow_integrates_a_constant_velocity_exactly() -> None:
    start = torch.zeros(2, 8, 3)
    velocity = torch.linspace(-0.5, 0.5, 3)

    def constant(chunk: Tensor, steps: Tensor, cond: Tensor) -> Tensor:
        assert steps.max() < 100.0  # t in [0, 1) scaled to the step embedding's range
        return velocity.expand_as(chunk)

    out = euler_flow(constant, start, torch.zeros(2, 1, 1), 4, 100.0, clip=False)
    torch.testing.assert_close(out, velocity.expand_as(start))


def test_sampler_coefficients_are_not_saved_in_checkpoints() -> None:
    """Older checkpoints (made before the sampler existed) must still load strictly."""
    io = PolicyIO(obs_shapes={"proprio.joints": (6,)}, image_keys=[], action_dim=3)
    policy = make_policy(policy_config_from_dict({"name": "diffusion"}), io)
    assert policy.ddim is not None
    assert not [k for k in policy.state_dict() if "ddim" in k or "coefficients" in k]


def _ddim(prediction: str = "epsilon") -> DdimSampler:
    scheduler = DDIMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2",
                              clip_sample=True, prediction_type=prediction,
                              set_alpha_to_one=True, steps_offset=0)  # fmt: skip
    return DdimSampler(scheduler, 10, prediction, True)


@pytest.mark.parametrize("sampler", ["ddim", "flow"])
def test_inpainting_pins_the_weighted_slots_and_lets_the_rest_adapt(sampler: str) -> None:
    generator = torch.Generator().manual_seed(1)
    noise = torch.randn(2, 8, 3, generator=generator)  # (B, T_p, D_a)
    cond = torch.randn(2, 2, 5, generator=generator)
    target = torch.rand(2, 8, 3, generator=generator) - 0.5  # inside [-1, 1]
    weights = torch.tensor([0, 1, 1, 1, 0.5, 0.2, 0, 0], dtype=torch.float32)

    def coupled(chunk: Tensor, steps: Tensor, cond: Tensor) -> Tensor:
        """toy_denoiser plus the chunk's mean over time: each slot sees the others."""
        return toy_denoiser(chunk, steps, cond) + 0.5 * chunk.mean(dim=1, keepdim=True)

    def run(guide: Inpaint | None) -> Tensor:
        if sampler == "ddim":
            return _ddim()(coupled, noise, cond, guide)
        return euler_flow(coupled, noise, cond, 10, 100.0, clip=False, guide=guide)

    free, pinned = run(None), run(Inpaint(target, weights))
    torch.testing.assert_close(pinned[:, 1:4], target[:, 1:4])  # weight 1: exactly
    torch.testing.assert_close(run(Inpaint(target, torch.zeros(8))), free)  # weight 0 everywhere
    assert not torch.allclose(pinned[:, 6:], free[:, 6:], atol=1e-3)  # the free slots adapt
    assert (pinned[:, 4] - target[:, 4]).abs().mean() < (free[:, 4] - target[:, 4]).abs().mean()


def coupled(chunk: Tensor, steps: Tensor, cond: Tensor) -> Tensor:
    """toy_denoiser plus the chunk's mean over time: each slot sees the others."""
    return toy_denoiser(chunk, steps, cond) + 0.5 * chunk.mean(dim=1, keepdim=True)


def test_gradient_guidance_pulls_the_weighted_slots_through_the_denoiser() -> None:
    """RTC's guidance: slots weighted 1 end near the target (softly, not replaced), the
    free ones adapt, zero weights are no guidance; it runs under inference_mode too."""
    generator = torch.Generator().manual_seed(2)
    noise = torch.randn(2, 8, 3, generator=generator)  # (B, T_p, D_a)
    cond = torch.randn(2, 2, 5, generator=generator)
    target = torch.rand(2, 8, 3, generator=generator) - 0.5
    weights = torch.tensor([0, 1, 1, 1, 0.5, 0.2, 0, 0], dtype=torch.float32)

    def run(guide: Inpaint | None) -> Tensor:
        with torch.inference_mode():  # as Policy.plan calls it
            return euler_flow(coupled, noise, cond, 10, 100.0, clip=False, guide=guide)

    free, guided = run(None), run(Inpaint(target, weights, guidance=5.0))
    error = lambda x: (x[:, 1:4] - target[:, 1:4]).abs().mean()  # noqa: E731
    assert error(guided) < 0.25 * error(free)  # pulled most of the way
    assert error(guided) > 0  # but not replaced
    torch.testing.assert_close(run(Inpaint(target, torch.zeros(8), guidance=5.0)), free)
    assert not torch.allclose(guided[:, 6:], free[:, 6:], atol=1e-3)  # the free slots adapt
    weak = run(Inpaint(target, weights, guidance=0.5))
    assert error(guided) < error(weak) < error(free)  # beta bounds the pull


def test_ddim_refuses_gradient_guidance() -> None:
    noise, cond = torch.zeros(1, 8, 3), torch.zeros(1, 2, 5)
    with pytest.raises(ValueError, match="defined for flow policies"):
        _ddim()(coupled, noise, cond, Inpaint(noise, torch.ones(8), guidance=5.0))
