"""A tactile encoder inside a policy: frozen stays fixed and in eval mode, fine-tuned learns,
scratch keeps the architecture and contract but not the weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from policies.encoders import Preprocessing, TactileTransformer, TransformerConfig, save_encoder
from policies.encoders.heads import HeadConfig
from policies.encoders.modes import policy_encoder

CONFIG = TransformerConfig(
    width=32, heads=2, tokenizer_depth=1, trunk_depth=1, patch_size=4, image_size=16
)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    heads = {"shape": HeadConfig(kind="classification", outputs=4)}
    sensors = {"mini": Preprocessing(resize=20, crop=16, mean=(0.2, 0.3, 0.4))}
    return save_encoder(TactileTransformer(CONFIG, sensors, heads), tmp_path / "enc")


def _images() -> torch.Tensor:
    return torch.randint(0, 256, (3, 24, 24, 3), dtype=torch.uint8, generator=torch.Generator())


def test_frozen_takes_no_gradient_and_stays_in_eval_mode(saved: Path) -> None:
    encoder = policy_encoder(saved, "frozen")
    encoder.train()
    assert not encoder.model.training and encoder.training
    features = encoder.encode(_images(), "mini")
    assert features.shape == (3, 32) and not features.requires_grad
    assert not any(p.requires_grad for p in encoder.parameters())
    assert "heads.shape.model.0.weight" not in encoder.model.state_dict()


def test_finetune_keeps_the_weights_and_learns(saved: Path) -> None:
    from policies.encoders import load_encoder

    original = load_encoder(saved)
    encoder = policy_encoder(saved, "finetune")
    assert encoder.model.training
    images = _images()
    expected = original.encode(images, "mini", "mean")
    torch.testing.assert_close(encoder.encode(images, "mini", "mean"), expected)
    encoder.encode(images, "mini").sum().backward()
    assert encoder.model.trunk.norm.weight.grad is not None


def test_scratch_has_the_contract_but_fresh_weights(saved: Path) -> None:
    from policies.encoders import load_encoder

    original = load_encoder(saved)
    encoder = policy_encoder(saved, "scratch", seed=1)
    assert encoder.model.preprocessing == original.preprocessing
    assert encoder.width == 32 and encoder.sensors == ["mini"]
    w = encoder.model.tokenizers["mini"].patch_embed.proj.weight
    assert w.shape == original.tokenizers["mini"].patch_embed.proj.weight.shape
    assert not torch.equal(w, original.tokenizers["mini"].patch_embed.proj.weight)
    with pytest.raises(ValueError, match=r"encoder mode 'thawed': allowed \['frozen', 'finetune'"):
        policy_encoder(saved, "thawed")  # type: ignore[arg-type]
