"""The operator's mosaic: every view at one height with its label, depth through a colour map
with no-depth black, bad images refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from sensing.mosaic import LABEL_HEIGHT, View, mosaic, to_rgb


def test_views_share_a_height_and_sit_in_rows() -> None:
    red = np.zeros((30, 40, 3), np.uint8)
    red[..., 0] = 200
    tall = np.full((60, 30, 3), 90, np.uint8)
    picture = mosaic([View("a", red), View("b", tall), View("c", red)], height=60)
    assert picture.shape == (2 * (60 + LABEL_HEIGHT), 80 + 30, 3)  # 2 columns for 3 views
    body = picture[LABEL_HEIGHT : LABEL_HEIGHT + 60]
    assert (body[:, :80, 0] == 200).all() and (body[:, :80, 1] == 0).all()  # a, scaled 2x
    assert (body[:, 80:110] == 90).all()  # b beside it, its own aspect
    assert picture[:LABEL_HEIGHT, :80].max() > 200  # a's label is written
    assert (picture[2 * LABEL_HEIGHT + 60 :, 80:] == 0).all()  # the empty cell of row 2


def test_depth_is_warm_near_cold_far_and_black_where_unknown() -> None:
    depth = np.array([[200, 1800, 0]], np.uint16)  # 0.2 m, 1.8 m, no reading (mm units)
    rgb = to_rgb(View("d", depth, depth_scale=0.001))
    near, far, unknown = rgb[0]
    assert near[0] > near[2] and far[2] > far[0] and not unknown.any()


def test_a_wrong_image_is_named() -> None:
    with pytest.raises(ValueError, match=r"pad: colour must be \(H, W, 3\) uint8, got \(4, 4\)"):
        to_rgb(View("pad", np.zeros((4, 4), np.uint8)))
    with pytest.raises(ValueError, match="at least one view"):
        mosaic([])
