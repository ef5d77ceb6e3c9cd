"""The tactile transformer against timm's VisionTransformer (the layout T3 builds on), used
here as an oracle: the same weights must give the same tokens."""

from __future__ import annotations

from functools import partial

import pytest
import timm.models.vision_transformer as timm_vit
import torch
from pydantic import ValidationError
from timm.layers import resample_abs_pos_embed
from torch import nn

from policies.encoders.transformer import (
    SIZES,
    TactileTransformer,
    TransformerConfig,
    heads_for_width,
    parameter_count,
)

SMALL = TransformerConfig(
    width=64, heads=2, tokenizer_depth=2, trunk_depth=3, patch_size=8, image_size=32
)


def _timm_tokenizer(config: TransformerConfig) -> timm_vit.VisionTransformer:
    """T3's ViTEncoder: a timm ViT whose forward is patch_embed, CLS, + pos_embed, blocks."""
    return timm_vit.VisionTransformer(
        img_size=config.image_size,
        patch_size=config.patch_size,
        embed_dim=config.width,
        depth=config.tokenizer_depth,
        num_heads=config.heads,
        mlp_ratio=config.mlp_ratio,
        qkv_bias=True,
        num_classes=0,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
    ).eval()


def _t3_tokenize(
    vit: timm_vit.VisionTransformer, x: torch.Tensor, pos_embed: torch.Tensor
) -> torch.Tensor:
    tokens = vit.patch_embed.proj(x).flatten(2).transpose(1, 2)  # any grid, as T3 rebuilt
    tokens = torch.cat([vit.cls_token.expand(len(x), -1, -1), tokens], dim=1) + pos_embed
    for block in vit.blocks:
        tokens = block(tokens)
    return tokens


@pytest.fixture(scope="module")
def pair() -> tuple[TactileTransformer, timm_vit.VisionTransformer, nn.Module]:
    torch.manual_seed(0)
    ours = TactileTransformer(SMALL, ["mini", "digit"]).eval()
    vit = _timm_tokenizer(SMALL)
    missing, unexpected = vit.load_state_dict(ours.tokenizers["mini"].state_dict(), strict=False)
    assert sorted(missing) == ["norm.bias", "norm.weight"] and not unexpected  # T3 drops it
    trunk = nn.Sequential(
        *(timm_vit.Block(64, 2, 4.0, qkv_bias=True, norm_layer=nn.LayerNorm) for _ in range(3)),
        nn.LayerNorm(64),  # as T3's trunk: eps 1e-5 (timm>=1.0's Block default is 1e-6)
    ).eval()
    state = {
        k.replace("blocks.", "").replace("norm.", "3.", 1)
        if k.startswith("norm.")
        else k.replace("blocks.", ""): v
        for k, v in ours.trunk.state_dict().items()
    }
    trunk.load_state_dict(state, strict=True)
    return ours, vit, trunk


def test_tokens_equal_t3s_forward_through_timm(
    pair: tuple[TactileTransformer, timm_vit.VisionTransformer, nn.Module],
) -> None:
    ours, vit, trunk = pair
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = trunk(_t3_tokenize(vit, x, vit.pos_embed))
        got = ours.tokens(x, "mini")
    assert got.shape == (3, 1 + 16, 64)  # (B, 1 + N, D), CLS first
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
    with torch.no_grad():  # the route is an argument: another sensor, other weights
        assert not torch.allclose(ours.tokens(x, "digit"), got)


def test_another_image_size_resizes_the_positional_table_bicubically(
    pair: tuple[TactileTransformer, timm_vit.VisionTransformer, nn.Module],
) -> None:
    ours, vit, _ = pair
    x = torch.randn(2, 3, 48, 24)  # a 6 x 3 patch grid instead of 4 x 4
    resized = resample_abs_pos_embed(vit.pos_embed, [6, 3], [4, 4], antialias=False)  # as DeiT/T3
    with torch.no_grad():
        expected = _t3_tokenize(vit, x, resized)
        got = ours.tokenizers["mini"](x)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


def test_routes_and_inputs_are_checked(
    pair: tuple[TactileTransformer, timm_vit.VisionTransformer, nn.Module],
) -> None:
    ours, _, _ = pair
    with pytest.raises(
        KeyError, match=r"no tokenizer for sensor 'wedge'; this model has \['mini', 'digit'\]"
    ):
        ours.tokens(torch.zeros(1, 3, 32, 32), "wedge")
    with pytest.raises(ValueError, match="not a whole number of 8-pixel patches"):
        ours.tokens(torch.zeros(1, 3, 30, 32), "mini")
    with pytest.raises(ValidationError, match=r"heads \(3\) must divide width \(64\)"):
        TransformerConfig(width=64, heads=3)


@pytest.mark.parametrize("size", list(SIZES))
def test_every_size_has_timms_parameter_count(size: str) -> None:
    """Tokenizer + trunk of each size = a timm ViT of the same width and 12 blocks (T3's
    tokenizer has no final norm; the trunk has one, as timm's ViT does)."""
    config = TransformerConfig.of_size(size)
    with torch.device("meta"):
        ours = TactileTransformer(config, ["mini"])
        vit = timm_vit.VisionTransformer(
            embed_dim=config.width, depth=12, num_heads=config.heads, num_classes=0
        )
    assert config.heads == heads_for_width(config.width)
    assert parameter_count(ours) == parameter_count(vit)


def test_heads_follow_t3_for_its_widths() -> None:
    assert [heads_for_width(w) for w in (192, 384, 768, 1024, 128)] == [3, 6, 12, 16, 2]
    with pytest.raises(ValueError, match="give heads"):
        heads_for_width(100)


def test_layer_norm_eps_are_t3s(
    pair: tuple[TactileTransformer, timm_vit.VisionTransformer, nn.Module],
) -> None:
    ours = pair[0]
    eps = {
        name: {m.eps for m in part.modules() if isinstance(m, nn.LayerNorm)}
        for name, part in (("tokenizers", ours.tokenizers), ("trunk", ours.trunk))
    }
    assert eps == {"tokenizers": {1e-6}, "trunk": {1e-5}}
