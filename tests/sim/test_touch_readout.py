"""`TouchReadout`: the logistic fit, the shipped calibration file and its checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.tactile_profile import profile
from sim.tasks.tactile_insertion import TactileInsertionEnv
from sim.touch_readout import (
    READOUT_FILE,
    UNITS_READOUT_FILE,
    ReadoutMismatchError,
    TouchReadout,
    feature_count,
    feature_layout,
    fit_logistic,
    fit_readout,
    readout_file,
    unit_spread,
)

WIDTH = feature_count(feature_layout(profile("gelsight_mini")))


def test_logistic_fit_recovers_the_deciding_direction() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, 0.0]  # raw, unequal scales
    labels = (x[:, 2] / 0.1 - 0.5 * x[:, 0]) + rng.normal(scale=0.3, size=400) > 0
    w = fit_logistic(x, labels)
    right = ((np.column_stack([x, np.ones(400)]) @ w) > 0) == labels
    assert right.mean() > 0.9
    assert w[2] * 0.1 > 5 * abs(w[1]) * 10  # the deciding feature dominates, in its units


def test_fit_readout_uses_presses_beyond_the_clearance_and_needs_enough() -> None:
    rng = np.random.default_rng(1)
    offsets = rng.uniform(-0.003, 0.003, size=(300, 2))
    features = rng.normal(size=(300, 14))
    features[:, 0] += 3 * np.sign(offsets[:, 0])
    features[:, 1] += 3 * np.sign(offsets[:, 1])
    readout = fit_readout(features, offsets, 0.0004)
    probs = np.array([readout.beyond(f) for f in features])
    assert ((probs > 0.5) == (offsets > 0)).mean() > 0.9
    with pytest.raises(ValueError, match="too few presses"):
        fit_readout(features[:10], offsets[:10], 0.0004)


@pytest.mark.parametrize(("units", "spread"), [(0, 0.0), (8, 1.0), (8, 0.5)])
def test_the_shipped_readouts_load_and_say_what_they_were_fitted_on(
    units: int, spread: float
) -> None:
    """One for nominal pads, one for pads of sensor units at each spread calibrated (each
    names its spread and is refused by an env of another)."""
    env = TactileInsertionEnv({"tactile_units": units, "tactile_unit_spread": spread})
    try:
        assert unit_spread(env.config) == spread
        path = readout_file(spread)
        if spread == 0.5:
            assert path == UNITS_READOUT_FILE.with_name("touch_readout_units_0.5.json")
            TouchReadout.load(path).check_sensor(env.sensors[0], spread=spread)  # its own
            path = UNITS_READOUT_FILE  # the full spread's readout is refused for these pads
        else:
            assert path == (UNITS_READOUT_FILE if units else READOUT_FILE)
        readout = TouchReadout.load(path)
        assert readout.weights.shape == (2, WIDTH + 1)
        record = json.loads(path.read_text())
        assert record["command"].startswith("vitac task calibrate tactile_insertion")
        assert record["presses"] > 1000
        if spread in (0.0, 1.0):
            readout.check_sensor(env.sensors[0], spread=spread)
        else:
            with pytest.raises(ValueError, match="unit_spread"):
                readout.check_sensor(env.sensors[0], spread=spread)
    finally:
        env.close()


def test_a_spread_without_a_shipped_readout_names_the_command_that_makes_it() -> None:
    with pytest.raises(
        ReadoutMismatchError,
        match=r"spread 0.3 \(.*touch_readout_units_0.3"
        r".json\): make it with vitac task calibrate .*tactile_unit_spread=0.3",
    ):
        TouchReadout.shipped(0.3)
    assert TouchReadout.shipped(1.0).sensor == TouchReadout.load(UNITS_READOUT_FILE).sensor


def test_a_readout_file_for_other_features_is_refused(tmp_path: Path) -> None:
    record = json.loads(READOUT_FILE.read_text())
    record["features"]["change_cells"] = [6, 8, 3]
    path = tmp_path / "readout.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="features"):
        TouchReadout.load(path)


def test_a_readout_is_refused_for_another_sensor_and_resized_for_another_size() -> None:
    shipped = TouchReadout.load()
    env = TactileInsertionEnv({"tactile_size": (48, 64)})
    sensor = env.sensors[0]
    with pytest.raises(ValueError, match=r"calibrated on .*48, 64"):
        shipped.check_sensor(sensor)
    shipped.check_sensor(sensor, any_size=True)  # a caller that resizes the images
    assert shipped.image_size == (60, 80)
    other = TouchReadout(shipped.weights, dict(shipped.sensor or {}, profile="digit"))
    with pytest.raises(ValueError, match="digit"):
        other.check_sensor(sensor, any_size=True)
    env.close()
