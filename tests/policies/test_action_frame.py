"""Relative chunks: positions minus the current frame's, optionally asinh-compressed."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from policies.action_frame import MAX_RELATIVE_M, to_absolute, to_relative
from tests.policies.conftest import tiny_policy_config

KEY = "proprio.ee_pose"


def _obs(here: list[float]) -> dict[str, torch.Tensor]:
    """One window whose current (last) frame measures the TCP at `here`."""
    frames = torch.zeros(1, 2, 9, dtype=torch.float64)
    frames[0, -1, :3] = torch.tensor(here, dtype=torch.float64)
    return {KEY: frames}


def test_relative_positions_are_taken_from_the_current_frame_only() -> None:
    obs = _obs([0.1, 0.2, 0.3])
    actions = torch.tensor([[[0.1, 0.2, 0.3, 7.0], [0.104, 0.19, 0.3, 7.0]]], dtype=torch.float64)
    relative = to_relative(actions, obs, KEY)
    expected = torch.tensor([[[0.0, 0.0, 0.0, 7.0], [0.004, -0.01, 0.0, 7.0]]], dtype=torch.float64)
    torch.testing.assert_close(relative, expected)
    torch.testing.assert_close(to_absolute(relative, obs, KEY), actions)


def test_a_scale_keeps_small_moves_and_compresses_large_ones() -> None:
    """s asinh(p / s): a move well under s is nearly unchanged, 100 s becomes about 5.3 s, the
    sign is kept, the gripper is not touched, and to_absolute undoes it."""
    s = 0.001
    obs = _obs([0.5, -0.5, 0.2])
    moves = torch.tensor([0.0001, -0.1, 0.001], dtype=torch.float64)  # 0.1 mm, -100 mm, 1 mm
    actions = torch.cat([moves + obs[KEY][0, -1, :3], torch.tensor([0.04])]).reshape(1, 1, 4)
    relative = to_relative(actions, obs, KEY, scale=s)
    p = relative[0, 0]
    assert p[0].item() == pytest.approx(0.0001, rel=2e-3)  # linear below s
    assert p[1].item() == pytest.approx(-s * 5.2983, rel=1e-4)  # asinh(100) = 5.2983
    assert p[2].item() == pytest.approx(s * 0.8814, rel=1e-4)  # asinh(1)
    assert p[3].item() == pytest.approx(0.04)
    torch.testing.assert_close(to_absolute(relative, obs, KEY, scale=s), actions)


def test_an_output_past_the_training_range_saturates_instead_of_exploding() -> None:
    """sinh is exponential: 3 s past a 100 mm move would decode to about 2 m; the decoded
    coordinate stops at MAX_RELATIVE_M, either sign, while in-range moves stay exact."""
    s = 0.001
    obs = _obs([0.5, -0.5, 0.2])
    far = s * (5.2983 + 3.0)
    outputs = torch.tensor([[[far, -far, s * 5.2983, 0.0]]], dtype=torch.float64)
    absolute = to_absolute(outputs, obs, KEY, scale=s)[0, 0, :3] - obs[KEY][0, -1, :3]
    assert absolute[0].item() == pytest.approx(MAX_RELATIVE_M)
    assert absolute[1].item() == pytest.approx(-MAX_RELATIVE_M)
    assert absolute[2].item() == pytest.approx(0.1, rel=1e-4)  # 100 mm, in range: exact


def test_resolution_near_zero_is_what_the_scale_buys() -> None:
    """The point of the scale: after a gaussian fit over moves of 0.5 mm and 50 mm, a 0.5 mm
    step is a larger share of one standard deviation compressed than linear."""
    obs = _obs([0.0, 0.0, 0.0])
    moves = torch.tensor([0.0005] * 90 + [0.05] * 10, dtype=torch.float64)
    actions = torch.zeros(100, 1, 4, dtype=torch.float64)
    actions[:, 0, 0] = moves
    obs100 = {KEY: obs[KEY].expand(100, -1, -1)}
    share = []
    for scale in (None, 0.001):
        x = to_relative(actions, obs100, KEY, scale=scale)[:, 0, 0]
        share.append((x[0] / x.std()).item())  # 0.5 mm in standard deviations
    assert share[1] > 4 * share[0]


def test_a_scale_needs_relative_to() -> None:
    with pytest.raises(ValidationError, match="set it too"):
        tiny_policy_config("bc", relative_scale=0.001)
    config = tiny_policy_config("bc", relative_to=KEY, relative_scale=0.001)
    assert config.relative_scale == 0.001
