from __future__ import annotations

import torch

from policies.encoders import ConvEncoder, SpatialSoftmax, random_shift
from policies.encoders.conv import norm_groups


def test_encoder_output_shape() -> None:
    enc = ConvEncoder(in_channels=3, out_features=10, widths=(4, 8, 8), num_keypoints=5)
    assert enc(torch.zeros(2, 3, 32, 24)).shape == (2, 10)


def test_spatial_softmax_finds_the_bright_spot() -> None:
    ss = SpatialSoftmax(in_channels=1, num_keypoints=1)
    with torch.no_grad():
        ss.to_keypoints.weight.fill_(1.0)
        ss.to_keypoints.bias.zero_()
        ss.temperature.fill_(0.01)
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 2, 6] = 10.0  # row 2 (y), column 6 (x)
    coords = ss(x)[0]  # (x, y) in [-1, 1]
    assert torch.allclose(coords, torch.tensor([0.5, -0.5]), atol=1e-3)


def test_random_shift_is_a_crop_of_the_padded_image() -> None:
    x = torch.arange(2 * 1 * 5 * 5, dtype=torch.float32).reshape(2, 1, 5, 5)
    assert torch.equal(random_shift(x, 0), x)
    gen = torch.Generator().manual_seed(0)
    shifted = random_shift(x, 2, generator=gen)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    for i in range(2):
        matches = [
            torch.equal(shifted[i], padded[i, :, dy : dy + 5, dx : dx + 5])
            for dy in range(5)
            for dx in range(5)
        ]
        assert sum(matches) >= 1


def test_any_width_gets_groups_that_divide_it() -> None:
    assert [norm_groups(w) for w in (16, 32, 64, 36, 3, 13)] == [4, 8, 8, 6, 1, 1]
    encoder = ConvEncoder(3, 8, widths=(36, 3), num_keypoints=4)  # GroupNorm(8, 36) crashed
    assert encoder(torch.rand(2, 3, 16, 16)).shape == (2, 8)


def test_resnet_encoder_is_resnet18_with_groupnorm_and_keypoints() -> None:
    from torch import nn

    from policies.encoders import ResNetEncoder

    torch.manual_seed(0)
    encoder = ResNetEncoder(in_channels=3, out_features=10, num_keypoints=6)
    modules = list(encoder.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in modules)
    norms = [m for m in modules if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 1 + 2 * 8 + 3  # stem, two per basic block, three downsamples
    assert all(m.num_groups == m.num_channels // 16 for m in norms)
    convs = sum(isinstance(m, nn.Conv2d) for m in encoder.trunk.modules())
    assert convs == 1 + 2 * 8 + 3  # ResNet-18's 20 convolutions, no head
    assert encoder(torch.rand(2, 3, 64, 64) * 2 - 1).shape == (2, 10)
    four = ResNetEncoder(in_channels=4, out_features=10)  # e.g. RGB + depth
    assert four(torch.rand(2, 4, 64, 64)).shape == (2, 10)
