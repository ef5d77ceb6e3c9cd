"""Marker detection and tracking on the simulator's own marker gel: every dot of the
GelSight Mini's 7 x 9 grid is found where the renderer put it, and a known shift and twist
of the frame come back from the tracker to a fraction of a pixel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensing.markers import detect, track
from sim.tactile_optics import GelOptics
from sim.tactile_profile import PROFILES


def reference(name: str = "gelsight_mini", markers: bool = True) -> np.ndarray:
    profile = PROFILES[name]
    return np.asarray(GelOptics(profile, profile.image_size, (48, 64), markers).reference)


def moved(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)  # fmt: skip


def test_every_dot_is_found_where_the_renderer_put_it() -> None:
    found = detect(reference())
    rows, cols = PROFILES["gelsight_mini"].marker_grid
    assert found.shape == (rows * cols, 2)
    ys, xs = np.meshgrid((np.arange(rows) + 0.5) * 240 / rows, (np.arange(cols) + 0.5) * 320 / cols,
                         indexing="ij")  # fmt: skip
    # in pixel indices (pixel j's centre is j), row-major as detect orders them
    expected = np.stack([xs.ravel(), ys.ravel()], axis=1) - 0.5
    np.testing.assert_allclose(found, expected, atol=0.2)
    assert len(detect(reference("digit", markers=False))) == 0  # DIGIT's gel has none


@pytest.mark.parametrize("kind", ["shift", "twist"])
def test_a_known_motion_comes_back_to_a_fraction_of_a_pixel(kind: str) -> None:
    image = reference()
    if kind == "shift":
        matrix = np.float32([[1, 0, 1.5], [0, 1, -0.75]])
    else:  # 2 degrees about the centre: a field, larger at the edges
        matrix = cv2.getRotationMatrix2D((160.0, 120.0), 2.0, 1.0).astype(np.float32)
    markers = detect(image)
    displacement, found = track(image, moved(image, matrix), markers)
    expected = markers @ matrix[:, :2].T + matrix[:, 2] - markers
    assert found.all()
    error = np.linalg.norm(displacement - expected, axis=1)
    assert np.median(error) < 0.1 and error.max() < 0.3, error
    assert np.abs(expected).max() > 1.0  # the motion is more than the error allowed
