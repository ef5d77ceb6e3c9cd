"""The preprocessing contract against torchvision's transforms (what T3 evaluates with)."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torchvision import transforms

from policies.encoders.preprocess import Preprocessing, preprocess


@pytest.mark.parametrize("size", [(240, 320), (320, 240), (256, 256), (300, 301)])
def test_matches_torchvisions_resize_crop_normalize(size: tuple[int, int]) -> None:
    contract = Preprocessing(mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6))
    images = torch.randint(0, 256, (2, *size, 3), dtype=torch.uint8)
    reference = transforms.Compose(
        [
            transforms.Resize(
                256, interpolation=transforms.InterpolationMode.BILINEAR, antialias=True
            ),
            transforms.CenterCrop(224),
            transforms.Normalize(mean=contract.mean, std=contract.std),
        ]
    )
    expected = torch.stack([reference(img.permute(2, 0, 1).float() / 255.0) for img in images])
    got = preprocess(images, contract)
    assert got.shape == (2, 3, 224, 224)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_bad_frames_and_contracts_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"expected uint8 images \(B, H, W, 3\), got torch.float32"
    ):
        preprocess(torch.zeros(1, 8, 8, 3), Preprocessing(resize=8, crop=8))
    with pytest.raises(ValueError, match="smaller than the 16-pixel crop"):
        preprocess(torch.zeros(1, 8, 8, 3, dtype=torch.uint8), Preprocessing(resize=None, crop=16))
    with pytest.raises(
        ValidationError, match=r"crop \(300\) is larger than the resized side \(256\)"
    ):
        Preprocessing(crop=300)


def test_a_difference_contract_subtracts_the_reference_without_wrapping() -> None:
    contract = Preprocessing(resize=None, crop=4, mean=(0.0,) * 3, std=(1.0,) * 3, difference=True)
    reference = torch.full((4, 4, 3), 200, dtype=torch.uint8)
    images = torch.full((2, 4, 4, 3), 50, dtype=torch.uint8)
    images[1, :, :, 0] = 255
    got = preprocess(images, contract, reference)  # (2, 3, 4, 4)
    assert got[0].unique().tolist() == pytest.approx([-150 / 255])  # uint8 would give +106
    assert got[1, 0].unique().tolist() == pytest.approx([55 / 255])
    per_frame = reference.expand(2, 4, 4, 3).clone()
    torch.testing.assert_close(preprocess(images, contract, per_frame), got)
    with pytest.raises(ValueError, match="pass the no-contact reference frame"):
        preprocess(images, contract)
    with pytest.raises(ValueError, match=r"reference \(4, 5, 3\) does not match"):
        preprocess(images, contract, torch.zeros(4, 5, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="takes no reference frame"):
        preprocess(images, Preprocessing(resize=None, crop=4), reference)
