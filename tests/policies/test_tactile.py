"""Tactile streams through a saved tactile transformer: frozen, fine-tuned, from scratch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from policies import CheckpointError, load_policy, make_policy, save_checkpoint
from policies.encoders import (
    Preprocessing,
    TactileTransformer,
    TransformerConfig,
    load_encoder,
    save_encoder,
)
from policies.tactile import T3Options, complete_t3, with_pretrained_architecture
from tests.policies.conftest import IO, fit_data, make_batch, tiny_policy_config

ARCH = TransformerConfig(
    width=16, heads=2, tokenizer_depth=1, trunk_depth=1, patch_size=4, image_size=16
)


@pytest.fixture
def encoder_dir(tmp_path: Path) -> Path:
    torch.manual_seed(3)
    contract = Preprocessing(resize=16, crop=16)
    sensors = {"mini": contract, "digit": contract}
    return save_encoder(TactileTransformer(ARCH, sensors), tmp_path / "encoder")


def _policy(encoder_dir: Path, mode: str, name: str = "diffusion"):  # type: ignore[no-untyped-def]
    options = complete_t3(T3Options(checkpoint=str(encoder_dir), mode=mode))  # type: ignore[arg-type]
    config = tiny_policy_config(name, tactile_encoder="t3", t3=options.model_dump())
    torch.manual_seed(0)
    policy = make_policy(config, IO)
    policy.fit_normalizer(fit_data())
    policy.load_pretrained()
    return policy


def test_the_architecture_comes_from_the_encoder_checkpoint(encoder_dir: Path) -> None:
    options = complete_t3(T3Options(checkpoint=str(encoder_dir)))
    assert options.model == ARCH and options.preprocessing == Preprocessing(resize=16, crop=16)
    with pytest.raises(CheckpointError, match="no tokenizer for sensor 'gelsight'"):
        complete_t3(T3Options(checkpoint=str(encoder_dir), sensor="gelsight"))
    wider = ARCH.model_copy(update={"width": 32, "heads": 2})
    with pytest.raises(CheckpointError, match=r"policy\.t3\.model differs"):
        complete_t3(T3Options(checkpoint=str(encoder_dir), model=wider))


@pytest.mark.parametrize("mode", ["frozen", "finetune", "scratch"])
def test_modes_load_train_or_reset_the_pretrained_weights(encoder_dir: Path, mode: str) -> None:
    policy = _policy(encoder_dir, mode)
    assert policy.observations.t3_keys == ["tactile.left"]
    assert "tactile__left" not in policy.observations.encoders  # no conv encoder for it
    trunk = "trunk.blocks.0.attn.qkv.weight"
    pretrained = load_encoder(encoder_dir).state_dict()
    ours = policy.observations.t3.encoder.model.state_dict()
    assert torch.equal(ours[trunk], pretrained[trunk]) == (mode != "scratch")
    assert not any(k.startswith("tokenizers.digit") for k in ours)  # only the used sensor
    policy.train()
    policy.compute_loss(make_batch(2, policy.config)).backward()
    grads = [p.grad for p in policy.observations.t3.encoder.parameters()]
    assert all(g is None for g in grads) == (mode == "frozen")
    assert policy.observations.t3.project["tactile__left"][0].weight.grad is not None


def test_cached_features_give_what_the_images_give(encoder_dir: Path) -> None:
    policy = _policy(encoder_dir, "frozen", name="bc").eval()
    batch = make_batch(2, policy.config)
    streams = policy.observations.t3
    frames = batch["tactile.left"]  # (B, T, H, W, 3)
    cached = streams.features(frames.flatten(0, 1)).reshape(*frames.shape[:2], -1)  # (B, T, D)
    with torch.no_grad():
        from_images = policy.predict_action_chunk(batch)
        from_cache = policy.predict_action_chunk({**batch, "tactile.left": cached})
    torch.testing.assert_close(from_cache, from_images)


def test_a_saved_policy_loads_without_the_encoder_directory(
    encoder_dir: Path, tmp_path: Path
) -> None:
    policy = _policy(encoder_dir, "finetune", name="bc").eval()
    path = save_checkpoint(tmp_path / "ckpt", policy)
    saved_policy = policy.config.model_dump(mode="json")
    shutil.rmtree(encoder_dir)
    loaded = load_policy(path)
    batch = make_batch(2, policy.config)
    with torch.no_grad():
        expected = policy.predict_action_chunk(batch)
        torch.testing.assert_close(loaded.predict_action_chunk(batch), expected)
    # a resume takes the architecture from the checkpoint's config, not the missing directory
    options = {"checkpoint": str(encoder_dir), "mode": "finetune"}
    unfilled = tiny_policy_config("bc", tactile_encoder="t3", t3=options)
    assert with_pretrained_architecture(unfilled, saved_policy) == policy.config


@pytest.fixture
def difference_dir(tmp_path: Path) -> Path:
    torch.manual_seed(3)
    contract = Preprocessing(resize=16, crop=16, difference=True, mean=(0, 0, 0), std=(0.25,) * 3)
    return save_encoder(TactileTransformer(ARCH, {"mini": contract}), tmp_path / "difference")


def test_a_difference_encoder_reads_each_frame_less_the_episodes_first(
    difference_dir: Path,
) -> None:
    options = complete_t3(T3Options(checkpoint=str(difference_dir), mode="finetune"))
    plain = tiny_policy_config("bc", tactile_encoder="t3", t3=options.model_dump())
    with pytest.raises(ValueError, match=r"add \['tactile.left'\] to policy.base_frame_keys"):
        make_policy(plain, IO)
    config = plain.model_copy(update={"base_frame_keys": ["tactile.left"]})
    torch.manual_seed(0)
    policy = make_policy(config, IO)
    policy.fit_normalizer(fit_data())
    policy.eval()
    streams = policy.observations.t3
    assert streams is not None and streams.difference
    batch = make_batch(2, policy.config)
    frames = batch["tactile.left"]  # (B, T, H, W, 3)
    batch["base.tactile.left"] = frames[:, :1].clone()
    brighter = (frames.int() + 40).clamp(max=255).to(torch.uint8)
    shifted = {**batch, "tactile.left": brighter, "base.tactile.left": brighter[:, :1].clone()}
    unchanged = {**batch, "base.tactile.left": brighter[:, :1].clone()}  # only the reference
    with torch.no_grad():
        seen = [streams.features(b["tactile.left"][:, 1], b["base.tactile.left"][:, 0])
                for b in (batch, shifted, unchanged)]  # fmt: skip
        chunks = [policy.predict_action_chunk(b) for b in (batch, unchanged)]
    # a frame and its reference moved alike read almost the same (clamping at 255 aside) ...
    assert (seen[0] - seen[1]).abs().mean() < 0.2 * (seen[0] - seen[2]).abs().mean()
    assert not torch.allclose(chunks[0], chunks[1])  # ... and the reference is read
    calls: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    features = streams.features
    streams.features = lambda x, ref=None: calls.append((x, ref)) or features(x, ref)  # type: ignore[method-assign]
    with torch.no_grad():
        policy.predict_action_chunk(unchanged)
    base = unchanged["base.tactile.left"]  # (B, 1, H, W, 3): every frame's reference
    current = [ref for x, ref in calls if torch.equal(x, frames.flatten(0, 1))]
    assert len(current) == 1 and torch.equal(current[0], base.expand_as(frames).flatten(0, 1))
