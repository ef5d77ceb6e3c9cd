from __future__ import annotations

import numpy as np
import pytest
import torch

from policies.normalizer import Normalizer, normalize_image


def test_limits_map_to_unit_range_and_invert() -> None:
    rng = np.random.default_rng(0)
    data = rng.uniform([-2, 0, 10], [3, 1, 50], size=(200, 3))
    norm = Normalizer({"x": 3})
    norm.fit({"x": data})
    y = norm.normalize("x", torch.from_numpy(data).float())
    assert torch.allclose(y.min(0).values, torch.full((3,), -1.0), atol=1e-5)
    assert torch.allclose(y.max(0).values, torch.full((3,), 1.0), atol=1e-5)
    back = norm.unnormalize("x", y).numpy()
    np.testing.assert_allclose(back, data, rtol=1e-5, atol=1e-4)


def test_constant_dimension_maps_to_zero_without_blowing_up() -> None:
    data = np.stack([np.linspace(0, 1, 10), np.full(10, 0.04)], axis=1)
    norm = Normalizer({"g": 2})
    norm.fit({"g": data})
    y = norm.normalize("g", torch.tensor([[0.5, 0.04], [0.5, 0.05]]))
    assert y[0, 1].item() == pytest.approx(0.0, abs=1e-6)
    assert y[1, 1].item() == pytest.approx(0.01, abs=1e-6)


def test_a_pinned_constant_comes_back_whatever_the_output_there() -> None:
    """An action dimension the demonstrations never changed (a closed gripper, a top-down
    rotation entry) comes back within 0.05 mm of its value from any output in [-1, 1]; a
    varying dimension keeps its range, and an unpinned key keeps scale 1."""
    data = np.stack([np.linspace(0, 1, 10), np.full(10, 0.04)], axis=1)
    norm = Normalizer({"action": 2, "obs": 2})
    norm.fit({"action": data, "obs": data}, pin=("action",))
    assert norm.normalize("action", torch.tensor([[0.5, 0.04]]))[0, 1].item() == 0.0
    outputs = torch.tensor([[-1.0, -1.0], [0.0, 0.07], [1.0, 1.0]])
    actions = norm.unnormalize("action", outputs)
    assert torch.all((actions[:, 1] - 0.04).abs() <= 0.51e-4)  # float32
    np.testing.assert_allclose(actions[:, 0].numpy(), [0.0, 0.5, 1.0], atol=1e-6)
    loose = norm.unnormalize("obs", outputs)[:, 1]  # scale 1: the output's error, in units
    np.testing.assert_allclose(loose.numpy(), [-0.96, 0.11, 1.04], atol=1e-6)


def test_missing_key_is_an_error_not_a_pass_through() -> None:
    norm = Normalizer({"a": 1, "b": 1})
    with pytest.raises(KeyError, match=r"no data for \['b'\]"):
        norm.fit({"a": np.zeros((3, 1))})
    with pytest.raises(KeyError, match="no statistics for 'c'"):
        norm.normalize("c", torch.zeros(1))


def test_statistics_live_in_the_state_dict() -> None:
    norm = Normalizer({"proprio.ee_pos": 3})
    assert set(norm.state_dict()) == {"proprio__ee_pos__scale", "proprio__ee_pos__offset"}


def test_images_to_channels_first_unit_range() -> None:
    x = torch.tensor([[[[0, 255, 128]]]], dtype=torch.uint8)  # (1, H=1, W=1, C=3)
    y = normalize_image(x)
    assert y.shape == (1, 3, 1, 1)
    assert y.flatten().tolist() == pytest.approx([-1.0, 1.0, 128 / 127.5 - 1], abs=1e-6)


def test_depth_maps_a_millimetre_range_to_plus_minus_one_with_a_channel_axis() -> None:
    from policies.normalizer import normalize_depth

    depth = torch.tensor([[[0, 100, 1050], [2000, 5000, 65535]]], dtype=torch.uint16)  # (1, 2, 3)
    out = normalize_depth(depth, 100.0, 2000.0)
    assert out.shape == (1, 1, 2, 3) and out.dtype == torch.float32
    expected = [[-1.0, -1.0, 0.0], [1.0, 1.0, 1.0]]  # missing (0) reads as near; far clips
    torch.testing.assert_close(out[0, 0], torch.tensor(expected))


def test_gaussian_maps_mean_and_std_and_keeps_the_pin() -> None:
    rng = np.random.default_rng(0)
    data = np.stack([rng.normal(5.0, 0.01, 500), np.full(500, 0.04)], axis=1)
    norm = Normalizer({"action": 2})
    norm.fit({"action": data}, pin=("action",), gaussian=("action",))
    y = norm.normalize("action", torch.from_numpy(data)).numpy()
    assert y[:, 0].mean() == pytest.approx(0.0, abs=1e-4)  # float32 buffers
    assert y[:, 0].std() == pytest.approx(1.0, abs=1e-4)
    assert np.all(y[:, 1] == 0.0)
    back = norm.unnormalize("action", torch.tensor([[3.0, 1.0]]))  # 3 std out; pinned dim
    assert back[0, 0].item() == pytest.approx(data[:, 0].mean() + 3 * data[:, 0].std(), abs=1e-5)
    assert abs(back[0, 1].item() - 0.04) <= 0.51e-4
