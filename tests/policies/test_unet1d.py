from __future__ import annotations

import pytest
import torch

from policies.unet1d import ConditionalUnet1D, FiLMResidualBlock, StepEmbedding


@pytest.mark.parametrize(("horizon", "widths"), [(16, (8, 16, 32)), (8, (8, 16)), (5, (8,))])
def test_output_has_the_input_shape(horizon: int, widths: tuple[int, ...]) -> None:
    net = ConditionalUnet1D(action_dim=3, cond_dim=6, widths=widths, step_embed_dim=8)
    out = net(torch.randn(2, horizon, 3), torch.tensor([0, 7]), torch.randn(2, 6))
    assert out.shape == (2, horizon, 3)


def test_the_step_and_the_condition_both_change_the_output() -> None:
    torch.manual_seed(0)
    net = ConditionalUnet1D(action_dim=2, cond_dim=4, widths=(8, 16), step_embed_dim=8)
    x, cond = torch.randn(1, 8, 2), torch.randn(1, 4)
    base = net(x, torch.tensor([3]), cond)
    assert (net(x, torch.tensor([40]), cond) - base).abs().max() > 1e-4
    assert (net(x, torch.tensor([3]), cond + 1.0) - base).abs().max() > 1e-4
    # and a sample's output depends only on its own condition, not its batch neighbours'
    pair = net(x.repeat(2, 1, 1), torch.tensor([3, 3]), torch.cat([cond, cond + 5.0]))
    torch.testing.assert_close(pair[:1], base)


def test_film_scale_predicts_a_scale_and_a_bias_per_channel() -> None:
    with_scale = FiLMResidualBlock(4, 8, cond_dim=5, kernel_size=3, scale=True)
    bias_only = FiLMResidualBlock(4, 8, cond_dim=5, kernel_size=3, scale=False)
    assert with_scale.film[1].out_features == 16 and bias_only.film[1].out_features == 8
    x, cond = torch.randn(2, 4, 6), torch.randn(2, 5)
    assert with_scale(x, cond).shape == bias_only(x, cond).shape == (2, 8, 6)


def test_step_embedding_separates_nearby_steps() -> None:
    embed = StepEmbedding(16)
    sines = embed.mlp[0].weight.new_tensor
    with torch.no_grad():
        a, b = embed(sines([10.0])), embed(sines([11.0]))
    assert a.shape == (1, 16) and not torch.allclose(a, b)
