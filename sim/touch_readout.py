"""`TouchReadout`: which way the socket lies, from how the two pads' images changed in a press.

A logistic model per TCP axis (x along the pads, y across them) on how both pads' images changed
from the frame before a press to the frame at it: the hand-written press features
(`sim.tactile_features.press_features`), every marker's displacement, and the colour change
averaged over a coarse grid of cells. It gives the probability that the socket lies beyond the
press on that axis. It is the expert's sensor calibration: fitted once
on simulated presses whose true offsets the simulator knows (`training.touch_calibration`,
`vitac task calibrate tactile_insertion`), shipped as `sim/data/touch_readout.json`, and
applied to images alone. Pads that are sensor units of a pool (`sim.sensor_unit`, the task's
`tactile_units`) need a readout calibrated across units at their spread:
`sim/data/touch_readout_units.json` at spread 1 (`vitac task calibrate tactile_insertion --set
task.params.tactile_units=1000000`), `touch_readout_units_<spread>.json` at another; each
records the spread it was calibrated at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.tactile import TactileSensor
from sim.tactile_features import PRESS_FEATURES, change_cells, marker_tracks, press_features
from sim.tactile_profile import TactileProfile, profile
from sim.tasks.arm_observation import TACTILE_KEYS

F64 = NDArray[np.float64]
Obs = dict[str, NDArray[Any]]
PADS = TACTILE_KEYS  # the pads' images, left then right
CELLS = (12, 16)  # (rows, cols) of the colour-change grid
MIN_PRESSES_A_SIDE = 20  # per axis, presses with the socket beyond and short of the press
READOUT_FILE = Path(__file__).parent / "data" / "touch_readout.json"
UNITS_READOUT_FILE = READOUT_FILE.with_name("touch_readout_units.json")  # pads of many units


def unit_spread(config: Any) -> float:
    """The spread of the sensor units an arm task's config draws its pads from (0: nominal)."""
    return float(config.tactile_unit_spread) if config.tactile_units else 0.0


def readout_file(spread: float) -> Path:
    """The shipped readout for pads of nominal sensors (spread 0), of sensor units at the
    full spread (1) or at another spread s (`touch_readout_units_<s>.json`, e.g. `_0.5`)."""
    if spread == 0:
        return READOUT_FILE
    if spread == 1:
        return UNITS_READOUT_FILE
    return READOUT_FILE.with_name(f"touch_readout_units_{spread:g}.json")


def feature_layout(profile: TactileProfile) -> dict[str, Any]:
    """What `pad_features` returns, per pad in `PADS` order, for a readout file to check."""
    rows, cols = profile.marker_grid
    return {
        "pads": list(PADS),
        "press": list(PRESS_FEATURES),
        "markers": [rows, cols, 2],
        "change_cells": [*CELLS, 3],
    }


def feature_count(layout: dict[str, Any]) -> int:
    """How many features a layout gives for both pads."""
    per_pad = len(layout["press"]) + int(np.prod(layout["markers"]))
    return len(layout["pads"]) * (per_pad + int(np.prod(layout["change_cells"])))


def pad_features(before: Obs, now: Obs, profile: TactileProfile) -> F64:
    """Per pad: the press features, the marker field and the colour-change cells, concatenated
    (`feature_layout`); `before` and `now` are observation dicts."""
    parts = []
    for k in PADS:
        start, moved = marker_tracks(before[k], now[k], profile)  # tracked once, used twice
        parts += [
            press_features(before[k], now[k], profile, (start, moved)),
            (moved - start).ravel(),  # every marker's displacement, x and y pixels
            change_cells(before[k], now[k], CELLS),
        ]
    return np.concatenate(parts)


def sensor_key(sensor: TactileSensor, spread: float = 0.0) -> dict[str, Any]:
    """What the features depend on: the sensor profile, image size and markers, and the spread
    of the sensor units the pads are drawn from (named only when not 0)."""
    key = {"profile": sensor.profile.name, "size": list(sensor.image_size),
           "markers": sensor.markers}  # fmt: skip
    return key | ({"unit_spread": spread} if spread else {})


class ReadoutMismatchError(ValueError):
    """The readout was calibrated on other tactile images than an env renders (an operator
    fixes it by calibrating one for them, or by choosing an expert that reads none)."""


@dataclass(frozen=True)
class TouchReadout:
    """P(socket beyond the press) per axis = sigmoid(weights @ [features, 1]), for images of the
    sensor `sensor` (`sensor_key`: features in pixels and colours hold for that sensor only)."""

    weights: F64  # (2, feature_count + 1), raw feature units, bias last
    sensor: dict[str, Any] | None = None

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(H, W) of the tactile images it was calibrated on (None: not recorded)."""
        return None if self.sensor is None else (self.sensor["size"][0], self.sensor["size"][1])

    def check_sensor(
        self, sensor: TactileSensor, any_size: bool = False, spread: float = 0.0
    ) -> None:
        """ReadoutMismatchError unless `sensor` (of units drawn at `spread`) renders the images
        this readout was calibrated on (`any_size`: of any size, for a caller that resizes them to
        `image_size`)."""
        key = sensor_key(sensor, spread)
        if any_size and self.sensor is not None:
            key["size"] = self.sensor["size"]
        if self.sensor is not None and key != self.sensor:
            raise ReadoutMismatchError(
                f"the touch readout was calibrated on {self.sensor} tactile images, this env "
                f"renders {sensor_key(sensor, spread)}: calibrate one for it (vitac task "
                "calibrate) or use the blind or oracle expert"
            )

    def beyond(self, features: F64) -> F64:
        """(2,) per TCP axis, the probability that the socket lies at a larger offset."""
        z = self.weights @ np.append(features, 1.0)
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))

    @classmethod
    def shipped(cls, spread: float) -> TouchReadout:
        """The shipped readout for pads of units drawn at `spread` (`readout_file`);
        ReadoutMismatchError naming the command that makes it when none is shipped."""
        path = readout_file(spread)
        if not path.is_file():
            raise ReadoutMismatchError(
                f"no touch readout is calibrated for pads of sensor units at spread {spread:g} "
                f"({path}): make it with vitac task calibrate tactile_insertion --episodes 300 "
                f"--set task.params.tactile_units=1000000 --set task.params.tactile_unit_spread="
                f"{spread:g} --out {path}"
            )
        return cls.load(path)

    @classmethod
    def load(cls, path: Path = READOUT_FILE) -> TouchReadout:
        data = json.loads(path.read_text())
        layout = feature_layout(profile(data["sensor"]["profile"]))
        if data["features"] != layout:
            raise ValueError(f"{path}: features {data['features']} are not {layout}")
        weights = np.asarray(data["weights"], dtype=np.float64)
        need = (2, feature_count(layout) + 1)
        if weights.shape != need:
            raise ValueError(f"{path}: weights of shape {weights.shape}, need {need}")
        return cls(weights, data["sensor"])


def fit_logistic(x: F64, labels: NDArray[np.bool_], strength: float = 100.0) -> F64:
    """(d + 1,) L2-regularised logistic regression on standardised `x` (n, d), Newton steps;
    returned in raw feature units with the bias last."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-12
    z = np.column_stack([(x - mean) / scale, np.ones(len(x))])  # (n, d + 1)
    y = labels.astype(np.float64)
    penalty = strength * np.diag([*np.ones(x.shape[1]), 0.0])
    w = np.zeros(z.shape[1])
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30.0, 30.0)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    raw = w[:-1] / scale
    return np.append(raw, w[-1] - float(raw @ mean))


def fit_readout(
    features: F64, offsets: F64, clearance: float, sensor: dict[str, Any] | None = None
) -> TouchReadout:
    """Fit on presses: `features` (n, d), `offsets` (n, 2) true socket offset from the part
    at each press (TCP x, y). Per axis only presses off by more than `clearance` on that axis
    count: closer, the socket is not beyond either side."""
    rows = []
    for axis in range(2):
        far = np.abs(offsets[:, axis]) > clearance
        beyond = offsets[far, axis] > 0
        if min(beyond.sum(), (~beyond).sum()) < MIN_PRESSES_A_SIDE:
            raise ValueError(
                f"too few presses off by more than the clearance on axis {axis} (need "
                f"{MIN_PRESSES_A_SIDE} on each side, have {beyond.sum()} and {(~beyond).sum()})"
            )
        rows.append(fit_logistic(features[far], offsets[far, axis] > 0))
    return TouchReadout(np.stack(rows), sensor)
