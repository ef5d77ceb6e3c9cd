"""Task heads on the trunk and masked autoencoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from policies.encoders import TactileTransformer, TransformerConfig, load_encoder, save_encoder
from policies.encoders.heads import HeadConfig, mae_loss, patchify, random_masking, sincos_2d

CONFIG = TransformerConfig(
    width=32, heads=2, tokenizer_depth=1, trunk_depth=1, patch_size=4, image_size=16
)
HEADS = {
    "contact": HeadConfig(kind="classification", outputs=5),
    "force": HeadConfig(kind="regression", outputs=1),
    "pose6d": HeadConfig(kind="pose", outputs=9),
    "mae": HeadConfig(kind="mae", decoder_width=16, decoder_depth=1, decoder_heads=2),
}


@pytest.fixture(scope="module")
def model() -> TactileTransformer:
    torch.manual_seed(0)
    return TactileTransformer(CONFIG, ["mini", "digit"], HEADS).eval()


def test_every_head_gives_its_shape(model: TactileTransformer) -> None:
    x, y = torch.randn(3, 3, 16, 16), torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        assert model(x, "mini", "contact").shape == (3, 5)
        assert model(x, "digit", "force").shape == (3, 1)
        assert model.pose(x, y, "mini", "pose6d").shape == (3, 9)
        loss, pred, mask = model.mae(x, "mini", "mae", mask_ratio=0.4)
    assert pred.shape == (3, 16, 4 * 4 * 3) and mask.shape == (3, 16) and loss.ndim == 0
    with pytest.raises(ValueError, match=r"task 'pose6d' is a pose head; this call serves"):
        model(x, "mini", "pose6d")
    with pytest.raises(KeyError, match=r"no head for task 'slip'"):
        model(x, "mini", "slip")


def test_the_route_picks_the_head_and_the_tokenizer(model: TactileTransformer) -> None:
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        mini, digit = model(x, "mini", "contact"), model(x, "digit", "contact")
        # the same head on the same trunk: equal when fed the same tokens
        tokens = model.tokens(x, "digit")
        torch.testing.assert_close(digit, model.heads["contact"](tokens))
    assert not torch.allclose(mini, digit)


def test_masking_keeps_int_n_times_one_minus_ratio_tokens_and_restores_order() -> None:
    tokens = torch.arange(2 * 10 * 3, dtype=torch.float32).reshape(2, 10, 3)
    kept, mask, ids_restore = random_masking(tokens, 0.4, torch.Generator().manual_seed(0))
    assert kept.shape == (2, 6, 3) and mask.sum(dim=1).tolist() == [4.0, 4.0]
    for b in range(2):  # the kept tokens are exactly the unmasked ones
        kept_rows = {tuple(r) for r in kept[b].tolist()}
        assert kept_rows == {tuple(tokens[b, i].tolist()) for i in range(10) if mask[b, i] == 0}
    filler = torch.full((2, 4, 3), -1.0)
    restored = torch.gather(
        torch.cat([kept, filler], 1), 1, ids_restore[..., None].expand(-1, -1, 3)
    )
    keep = mask == 0
    torch.testing.assert_close(restored[keep], tokens[keep])  # back in place
    assert (restored[~keep] == -1).all()


def test_mae_masks_the_tokenizer_input_and_scores_only_removed_patches(
    model: TactileTransformer,
) -> None:
    x = torch.randn(2, 3, 16, 16)
    tokenizer = model.tokenizers["mini"]
    tokens, mask, _ = tokenizer.masked(x, 0.75, torch.Generator().manual_seed(1))  # type: ignore[operator]
    assert tokens.shape == (2, 1 + 4, 32)  # CLS + int(16 * 0.25)
    target = patchify(x, 4)
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    pred = target.clone()
    pred[mask == 0] += 100.0  # errors on kept patches must not count
    assert mae_loss(pred, x, mask, 4).item() == pytest.approx(0.0, abs=1e-6)
    pred[mask == 1] += 1.0
    assert mae_loss(pred, x, mask, 4).item() == pytest.approx(1.0, rel=1e-5)


def test_patchify_orders_patches_row_major() -> None:
    images = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    patches = patchify(images, 2)  # (B, 2 x 3 patches, 2 * 2 * 3)
    assert patches.shape == (2, 6, 12)
    # patch 4 = row 1, column 1: pixels (2..3, 2..3); its first entry is pixel (2, 2), channel 0
    assert patches[0, 4, 0] == images[0, 0, 2, 2] and patches[0, 4, 2] == images[0, 2, 2, 2]


def test_sincos_positions_code_columns_then_rows() -> None:
    table = sincos_2d(16, 3)
    assert table.shape == (10, 16) and not table[0].any()  # CLS row zero
    grid = table[1:].reshape(3, 3, 16)
    np.testing.assert_allclose(grid[0, :, :8], grid[2, :, :8])  # first half: the column
    np.testing.assert_allclose(grid[:, 1, 8:], grid[:, 0, 8:])  # second half: the row
    assert not np.allclose(grid[0, 0], grid[1, 1])


def test_heads_survive_a_round_trip(model: TactileTransformer, tmp_path: Path) -> None:
    path = save_encoder(model, tmp_path / "enc")
    assert sorted(p.name for p in (path / "heads").iterdir()) == [
        f"{t}.safetensors" for t in sorted(HEADS)
    ]
    loaded = load_encoder(path)
    assert loaded.head_configs == HEADS
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, "mini", "contact"), model(x, "mini", "contact"))
        torch.testing.assert_close(
            loaded.pose(x, x.flip(0), "mini", "pose6d"), model.pose(x, x.flip(0), "mini", "pose6d")
        )
