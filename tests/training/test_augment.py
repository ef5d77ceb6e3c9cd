"""Augmentation: crops stay inside the frame and keep the size, jitter keeps the range, a
seeded generator repeats itself, and tasks whose labels move with a crop are never cropped."""

from __future__ import annotations

import torch

from training.augment import AugmentConfig, augment, random_resized_crop
from training.pretrain_data import TASKS

ON = AugmentConfig(enabled=True)


def _ramp(b: int = 4, s: int = 16) -> torch.Tensor:
    """(B, 3, S, S): x / S in channel 0 (where a pixel came from), 0.5 elsewhere."""
    x = torch.full((b, 3, s, s), 0.5)
    x[:, 0] = torch.linspace(0, 1, s).view(1, 1, s)
    return x


def test_a_full_area_crop_is_the_identity_and_smaller_ones_zoom_in() -> None:
    x = _ramp()
    torch.testing.assert_close(random_resized_crop(x, 1.0), x, atol=1e-5, rtol=0)
    torch.manual_seed(0)
    out = random_resized_crop(x, 0.5)  # (4, 3, 16, 16)
    assert out.shape == x.shape
    span = out[:, 0, 0, -1] - out[:, 0, 0, 0]  # how much of the ramp each crop kept
    assert (span < 1.0).all() and (span > 0.5 * 0.75).all()  # width >= sqrt(0.5 * 3 / 4)
    assert out[:, 0].min() >= 0 and out[:, 0].max() <= 1  # inside the frame


def test_jitter_keeps_the_range_and_repeats_under_a_seed() -> None:
    x = torch.rand(8, 3, 16, 16)
    torch.manual_seed(3)
    a = augment(x, ON, geometric=True)
    torch.manual_seed(3)
    b = augment(x, ON, geometric=True)
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert a.min() >= 0 and a.max() <= 1
    signed = augment(x * 2 - 1, ON, geometric=False, signed=True)
    assert signed.min() < 0 and signed.min() >= -1


def test_no_spread_and_no_crop_leave_frames_alone() -> None:
    still = AugmentConfig(enabled=True, brightness=0, contrast=0, saturation=0, crop_scale=1)
    x = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(augment(x, still, geometric=True), x)


def test_only_tasks_whose_labels_ignore_the_frame_are_cropped() -> None:
    assert {t for t, spec in TASKS.items() if spec.crop_safe} == {"mae", "shape"}
