from __future__ import annotations

import torch

from policies import BCConfig
from policies.observation import ObservationEncoder, make_normalizer
from tests.policies.conftest import IO, fit_data, make_batch, tiny_config


def test_features_per_frame_in_image_then_lowdim_order() -> None:
    config = tiny_config()
    encoder = ObservationEncoder(config, IO)
    normalizer = make_normalizer(IO)
    normalizer.fit(fit_data())
    batch = make_batch(3, config)
    features = encoder({k: v for k, v in batch.items() if k != "action"}, normalizer, False)
    assert encoder.features_per_step == 2 * config.image_features + 3
    assert features.shape == (3, config.n_obs_steps, encoder.features_per_step)
    # the last three features are the normalised proprio of each frame
    expected = normalizer.normalize("proprio.ee_pos", batch["proprio.ee_pos"].float())
    torch.testing.assert_close(features[..., -3:], expected)


def test_augmentation_moves_image_features_only() -> None:
    config = tiny_config(shift_pixels=2)
    encoder = ObservationEncoder(config, IO)
    normalizer = make_normalizer(IO)
    normalizer.fit(fit_data())
    obs = {k: v for k, v in make_batch(4, config).items() if k != "action"}
    torch.manual_seed(0)
    shifted = encoder(obs, normalizer, True)
    plain = encoder(obs, normalizer, False)
    assert (shifted[..., :-3] - plain[..., :-3]).abs().max() > 1e-4
    torch.testing.assert_close(shifted[..., -3:], plain[..., -3:])


def test_the_resnet_option_builds_resnets() -> None:
    encoder = ObservationEncoder(BCConfig(image_encoder="resnet18", image_features=8), IO)
    assert {type(m).__name__ for m in encoder.encoders.values()} == {"ResNetEncoder"}
