from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from policies.encoders import (
    Preprocessing,
    TactileTransformer,
    TransformerConfig,
    load_encoder,
    save_encoder,
)
from policies.errors import CheckpointError

CONFIG = TransformerConfig(
    width=32, heads=2, tokenizer_depth=1, trunk_depth=2, patch_size=4, image_size=16
)


def _model() -> TactileTransformer:
    torch.manual_seed(0)
    sensors = {
        "mini": Preprocessing(resize=20, crop=16, mean=(0.1, 0.2, 0.3)),
        "digit": Preprocessing(resize=16, crop=16),
    }
    return TactileTransformer(CONFIG, sensors).eval()


def test_round_trip_keeps_weights_architecture_and_each_sensors_contract(tmp_path: Path) -> None:
    model = _model()
    path = save_encoder(model, tmp_path / "enc", metadata={"made_by": "test"})
    assert sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()) == [
        "config.json",
        "tokenizers/digit.safetensors",
        "tokenizers/mini.safetensors",
        "trunk.safetensors",
    ]
    loaded = load_encoder(path)
    assert loaded.config == CONFIG and loaded.preprocessing == model.preprocessing
    frames = torch.randint(0, 256, (2, 24, 30, 3), dtype=torch.uint8)
    with torch.no_grad():
        for sensor in ("mini", "digit"):
            torch.testing.assert_close(
                loaded.encode(frames, sensor), model.encode(frames, sensor), rtol=0, atol=0
            )
        assert loaded.encode(frames, "mini", pool="tokens").shape == (2, 1 + 16, 32)
        assert loaded.encode(frames, "mini", pool="mean").shape == (2, 32)


def test_damage_is_named_by_file(tmp_path: Path) -> None:
    path = save_encoder(_model(), tmp_path / "enc")
    (path / "tokenizers/digit.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"enc/tokenizers: missing digit.safetensors"):
        load_encoder(path)
    config = json.loads((path / "config.json").read_text())
    config["architecture"]["width"] = 48
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError,
        match=r"trunk.safetensors: does not fit the described model \(shape: "
        r"\['blocks.0.attn.proj.bias \(32,\) instead of \(48,\)",
    ):
        load_encoder(path)
    with pytest.raises(CheckpointError, match="not a vitac encoder"):
        load_encoder(tmp_path)
