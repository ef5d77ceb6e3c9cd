from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from policies import BCConfig, PolicyIO, make_policy
from policies.observation import ObservationEncoder, make_normalizer
from tests.policies.conftest import IO, fit_data, make_batch, tiny_config, tiny_policy_config


def test_features_per_frame_in_image_then_lowdim_order() -> None:
    config = tiny_config()
    encoder = ObservationEncoder(config, IO)
    normalizer = make_normalizer(IO, tiny_config())
    normalizer.fit(fit_data())
    batch = make_batch(3, config)
    features = encoder({k: v for k, v in batch.items() if k != "action"}, normalizer, False)
    assert encoder.features_per_step == 2 * config.image_features + 3
    assert features.shape == (3, config.n_obs_steps, encoder.features_per_step)
    # the last three features are the normalised proprio of each frame
    expected = normalizer.normalize("proprio.ee_pos", batch["proprio.ee_pos"].float())
    torch.testing.assert_close(features[..., -3:], expected)


def test_relative_inputs_follow_the_stored_ones_as_offsets_from_the_current_frame() -> None:
    """relative_inputs: after the stored low-dim inputs, each frame's position minus the
    reference's at the current frame (asinh-compressed with relative_scale), normalised."""
    config = tiny_config(
        relative_to="proprio.ee_pos", relative_inputs={"proprio.ee_pos": 2}, relative_scale=0.5
    )
    encoder = ObservationEncoder(config, IO)
    assert encoder.features_per_step == 2 * config.image_features + 3 + 2
    normalizer = make_normalizer(IO, config)
    batch = make_batch(3, config)
    obs = {k: v for k, v in batch.items() if k != "action"}
    pos = obs["proprio.ee_pos"].float()  # (3, T_o, 3)
    offsets = 0.5 * torch.asinh((pos[..., :2] - pos[:, -1:, :2]) / 0.5)  # (3, T_o, 2)
    normalizer.fit(fit_data() | {"relative.proprio.ee_pos": offsets.reshape(-1, 2).numpy()})
    features = encoder(obs, normalizer, False)
    torch.testing.assert_close(features[..., -5:-2], normalizer.normalize("proprio.ee_pos", pos))
    expected = normalizer.normalize("relative.proprio.ee_pos", offsets)
    torch.testing.assert_close(features[..., -2:], expected)
    with pytest.raises(ValidationError, match="set it too"):
        tiny_config(relative_inputs={"proprio.ee_pos": 2})
    with pytest.raises(ValidationError, match="1 to 3"):
        tiny_config(relative_to="proprio.ee_pos", relative_inputs={"proprio.ee_pos": 4})


def test_augmentation_moves_image_features_only() -> None:
    config = tiny_config(shift_pixels=2)
    encoder = ObservationEncoder(config, IO)
    normalizer = make_normalizer(IO, tiny_config())
    normalizer.fit(fit_data())
    obs = {k: v for k, v in make_batch(4, config).items() if k != "action"}
    torch.manual_seed(0)
    shifted = encoder(obs, normalizer, True)
    plain = encoder(obs, normalizer, False)
    assert (shifted[..., :-3] - plain[..., :-3]).abs().max() > 1e-4
    torch.testing.assert_close(shifted[..., -3:], plain[..., -3:])


def test_tactile_shift_pixels_zero_keeps_the_pads_unshifted_while_the_camera_moves() -> None:
    """Features are image stream by stream: rgb.scene first, then tactile.left."""
    config = tiny_config(shift_pixels=2, tactile_shift_pixels=0)
    encoder = ObservationEncoder(config, IO)
    normalizer = make_normalizer(IO, config)
    normalizer.fit(fit_data())
    obs = {k: v for k, v in make_batch(4, config).items() if k != "action"}
    torch.manual_seed(0)
    shifted = encoder(obs, normalizer, True)
    plain = encoder(obs, normalizer, False)
    f = config.image_features
    assert (shifted[..., :f] - plain[..., :f]).abs().max() > 1e-4  # the camera moved
    torch.testing.assert_close(shifted[..., f : 2 * f], plain[..., f : 2 * f])  # the pad did not
    # None: the pads follow shift_pixels
    assert ObservationEncoder(tiny_config(shift_pixels=2), IO).shifts["tactile.left"] == 2


def test_the_resnet_option_builds_resnets() -> None:
    encoder = ObservationEncoder(BCConfig(image_encoder="resnet18", image_features=8), IO)
    assert {type(m).__name__ for m in encoder.encoders.values()} == {"ResNetEncoder"}


@pytest.mark.parametrize("name", ["bc", "diffusion"])
def test_a_depth_map_is_an_image_stream_with_one_channel(name: str) -> None:
    io = PolicyIO(
        obs_shapes={"depth.scene": (16, 16), "proprio.ee_pos": (3,)},
        image_keys=["depth.scene"],
        action_dim=4,
    )
    assert io.depth_keys == ["depth.scene"]
    torch.manual_seed(0)
    policy = make_policy(tiny_policy_config(name, depth_range_mm=(200.0, 1000.0)), io)
    policy.fit_normalizer(fit_data())
    stem = policy.observations.encoders["depth__scene"].trunk[0]
    assert stem.in_channels == 1
    t = policy.config.n_obs_steps
    near = {"depth.scene": torch.full((2, t, 16, 16), 300, dtype=torch.uint16)}
    near["proprio.ee_pos"] = torch.zeros(2, t, 3)
    far = {**near, "depth.scene": torch.full((2, t, 16, 16), 900, dtype=torch.uint16)}
    a = policy.observations(near, policy.normalizer, False)
    b = policy.observations(far, policy.normalizer, False)
    assert (a - b).abs().max() > 1e-4  # the depth reaches the features
    batch = {**near, "action": torch.randn(2, policy.config.horizon, 4)}
    policy.compute_loss(batch).backward()
    assert stem.weight.grad is not None and stem.weight.grad.abs().sum() > 0


def test_the_depth_range_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="depth_range_mm must be 0 <= near < far"):
        BCConfig(depth_range_mm=(500.0, 100.0))
