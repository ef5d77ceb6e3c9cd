"""Touch calibration: labelled presses, and the shipped readout judged on presses it never saw."""

from __future__ import annotations

import numpy as np

from sim.tactile_profile import profile
from sim.touch_readout import TouchReadout, feature_count, feature_layout
from training.touch_calibration import collect_presses, side_accuracy


def test_presses_are_labelled_and_the_shipped_readout_reads_them() -> None:
    presses = collect_presses(3, seed=70_000)  # seeds apart from the calibration's (50000+)
    n = len(presses.features)
    width = feature_count(feature_layout(profile("gelsight_mini")))
    assert presses.features.shape == (n, width) and presses.offsets.shape == (n, 2)
    assert n >= 40 and set(presses.episodes) == set(range(9))
    # offsets within the estimate's error plus the grasp's spread, and both signs on each axis
    assert np.abs(presses.offsets).max() < 0.005
    for axis in (0, 1):
        assert (presses.offsets[:, axis] > 0).any() and (presses.offsets[:, axis] < 0).any()
    accuracy = side_accuracy(TouchReadout.load(), presses)  # balanced: one answer scores 0.5
    assert min(accuracy) > 0.75, accuracy
