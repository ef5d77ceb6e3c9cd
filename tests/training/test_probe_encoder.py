"""A tactile encoder's features as probe inputs: both pads through the saved trunk, beside
the same architecture untrained, each also scored as its change between the frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from policies.encoders import (
    Preprocessing,
    TactileTransformer,
    TransformerConfig,
    load_encoder,
    save_encoder,
)
from training.probe import ProbeError, collect_probe_data, fit_and_score
from training.probe_encoder import encoder_inputs

ARCH = TransformerConfig(width=16, heads=2, tokenizer_depth=1, trunk_depth=1, patch_size=4,
                         image_size=16)  # fmt: skip


@pytest.fixture
def encoder_dir(tmp_path: Path) -> Path:
    torch.manual_seed(3)
    contract = Preprocessing(resize=16, crop=16)
    return save_encoder(TactileTransformer(ARCH, {"mini": contract}), tmp_path / "encoder")


def obs(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.integers(0, 256, (30, 40, 3), dtype=np.uint8) for k in ("tactile.left",
            "tactile.right")}  # fmt: skip


def test_the_features_are_both_pads_through_the_saved_trunk(encoder_dir: Path) -> None:
    inputs = encoder_inputs(encoder_dir)
    assert list(inputs) == [
        "tactile_t3", "tactile_t3_init", "tactile_t3_mean", "tactile_t3_init_mean"
    ]  # fmt: skip
    frame, first = obs(0), obs(1)  # a raw contract reads no first frame
    trained, fresh = (inputs[k](frame, first) for k in ("tactile_t3", "tactile_t3_init"))
    assert trained.shape == fresh.shape == (2 * ARCH.width,)
    assert not np.allclose(trained, fresh)  # the saved weights, not a fresh draw
    model = load_encoder(encoder_dir).eval()
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(frame["tactile.right"])[None], "mini", "cls")
    np.testing.assert_allclose(trained[ARCH.width :], expected[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(inputs["tactile_t3"](frame, obs(2)), trained)  # deterministic
    with torch.no_grad():
        mean = model.encode(torch.from_numpy(frame["tactile.left"])[None], "mini", "mean")
    np.testing.assert_allclose(
        inputs["tactile_t3_mean"](frame, first)[: ARCH.width],
        mean[0].numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    assert not np.allclose(inputs["tactile_t3_mean"](frame, first), trained)
    assert torch.is_grad_enabled()  # nothing global changed


def test_a_difference_encoder_reads_each_pad_against_its_first_frame(tmp_path: Path) -> None:
    torch.manual_seed(4)
    contract = Preprocessing(resize=16, crop=16, difference=True)
    path = save_encoder(TactileTransformer(ARCH, {"mini": contract}), tmp_path / "d")
    inputs = encoder_inputs(path)
    frame, first = obs(0), obs(1)
    features = inputs["tactile_t3"](frame, first)
    model = load_encoder(path).eval()
    pad = {k: torch.from_numpy(v)[None] for k, v in frame.items()}
    with torch.no_grad():
        left = model.encode(pad["tactile.left"], "mini", "cls",
                            torch.from_numpy(first["tactile.left"])[None])  # fmt: skip
    np.testing.assert_allclose(features[: ARCH.width], left[0].numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(inputs["tactile_t3"](frame, obs(2)), features)  # the first frame counts
    assert "less the first frame" in inputs["tactile_t3_init"].layout  # type: ignore[attr-defined]


def test_a_sensor_the_encoder_lacks_is_refused(encoder_dir: Path) -> None:
    with pytest.raises(ValueError, match="no tokenizer for sensor 'digit'"):
        encoder_inputs(encoder_dir, sensor="digit")


def test_extra_inputs_are_collected_and_scored_with_their_change(encoder_dir: Path) -> None:
    extra = encoder_inputs(encoder_dir)
    data = collect_probe_data("tactile_insertion", 4, seed=0, progress=False,
                              groups=("tactile",), extra=extra)  # fmt: skip
    n = len(data.targets)
    for phase in ("before_contact", "at_contact"):
        assert data.features[phase]["tactile_t3"].shape == (n, 2 * ARCH.width)
    assert "fresh trunk" in data.layouts["tactile_t3_init"]
    scored = {(r.input, r.phase) for r in fit_and_score(data)}
    assert {("tactile_t3_change", "at_contact"), ("tactile_t3_init", "before_contact")} <= scored
    with pytest.raises(ProbeError, match="names of built-in ones"):
        collect_probe_data(
            "tactile_insertion", 4, progress=False, extra={"tactile": extra["tactile_t3"]}
        )
