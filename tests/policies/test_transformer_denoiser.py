"""The transformer denoiser: shapes, causal attention over the action tokens, and every
condition (the diffusion step, each observation frame) reaching every action token."""

from __future__ import annotations

import pytest
import torch

from policies.transformer_denoiser import ConditionalTransformer1D


def net(**overrides: object) -> ConditionalTransformer1D:
    torch.manual_seed(0)
    kwargs: dict[str, object] = dict(action_dim=4, frame_features=6, horizon=8, n_obs_steps=2,
                                     width=16, heads=2, layers=2) | overrides  # fmt: skip
    return ConditionalTransformer1D(**kwargs).eval()  # type: ignore[arg-type]


X, STEPS, COND = torch.randn(3, 8, 4), torch.tensor([5, 0, 9]), torch.randn(3, 2, 6)


def changed_from(t: int) -> torch.Tensor:
    later = X.clone()
    later[:, t:] += 1.0
    return later


@pytest.mark.parametrize("cond_layers", [1, 0])
def test_action_token_t_sees_actions_up_to_t_and_the_whole_condition(cond_layers: int) -> None:
    model = net(cond_layers=cond_layers)
    with torch.no_grad():
        a, b = model(X, STEPS, COND), model(changed_from(5), STEPS, COND)
        frame = COND.clone()
        frame[:, 0] += 1.0  # the oldest frame only
        c, d = model(X, STEPS, frame), model(X, STEPS + 1, COND)
    assert a.shape == (3, 8, 4)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert (a[:, 5:] - b[:, 5:]).abs().amin(dim=(0, 2)).min() > 1e-5
    for other in (c, d):  # every token, every sample moved by the condition
        assert (a - other).abs().amax(dim=2).min() > 1e-5


def test_without_the_causal_mask_earlier_tokens_see_later_actions() -> None:
    model = net(causal=False)
    with torch.no_grad():
        a, b = model(X, STEPS, COND), model(changed_from(7), STEPS, COND)
    assert (a[:, :7] - b[:, :7]).abs().amax(dim=2).min() > 1e-5


def test_each_sample_of_a_batch_is_denoised_alone() -> None:
    model = net()
    with torch.no_grad():
        whole = model(X, STEPS, COND)
        one = model(X[1:2], STEPS[1:2], COND[1:2])
    torch.testing.assert_close(whole[1:2], one, rtol=1e-5, atol=1e-5)
