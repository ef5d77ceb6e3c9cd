"""Calibrating the touch expert's readout (`sim.touch_readout`) on simulated presses.

The touch expert's approach and presses, with each next press at a random offset within its
search's prior (so the presses depend on no earlier readout and cover the offsets evenly), run
on every part variant; at each press on the rim the simulator's true offset from the part's pin
tips to the socket (TCP frame) labels the press features of the two pads. A logistic readout
per axis is fitted on half the episodes, scored on the other half (balanced accuracy of the
side, on presses off by more than the clearance on that axis), then refitted on all of them.
The simulator's truth is used here only, as a sensor calibration uses a reference; the expert
then reads images alone.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from sim.tactile_profile import profile
from sim.tasks.tactile_insertion import TactileInsertionConfig, TactileInsertionEnv
from sim.touch_expert import TouchInsertionExpert
from sim.touch_readout import (
    TouchReadout,
    feature_layout,
    fit_readout,
    pad_features,
    sensor_key,
    unit_spread,
)

F64 = NDArray[np.float64]
PARTS: tuple[str, ...] = typing.get_args(TactileInsertionConfig.model_fields["part"].annotation)


@dataclass(frozen=True)
class Presses:
    """Labelled presses: features (n, d), true offsets (n, 2) in metres, episode ids (n,)."""

    features: F64
    offsets: F64
    episodes: NDArray[np.int64]
    clearance: float
    sensor: dict[str, Any]  # sim.touch_readout.sensor_key of the env's pads


def true_offset(env: TactileInsertionEnv) -> F64:
    """(2,) from the part's pin tips to the socket centre, TCP x and y, metres (privileged)."""
    state = env.privileged_state()
    return np.asarray(state["tcp_rot"][:2, :2].T @ (state["socket_xy"] - state["pin_tips_xy"]))


class _LabellingExpert(TouchInsertionExpert):
    """Presses at random offsets within the search's prior (not where a readout or a search
    would go, so the presses cover every offset the expert may meet, evenly), recording each
    press's features and its true offset."""

    def __init__(self, env: gym.Env[Any, Any], sink: list[tuple[F64, F64]]) -> None:
        super().__init__(env, read=False)
        self.sink = sink

    def _correct(self, obs: dict[str, NDArray[Any]], rot: F64) -> None:
        assert self._before is not None and self.belief is not None
        features = pad_features(self._before, obs, self.profile)
        self.sink.append((features, true_offset(self.env)))
        support = np.flatnonzero(self.belief.p > 0)  # the prior's cells: nothing excluded yet
        cell = support[self._rng.integers(len(support))]
        pick = np.array([self.belief.x.flat[cell], self.belief.y.flat[cell]])
        move = pick - self._offset
        self._offset = pick
        self._target = self._target + rot[:2, :2] @ move
        self._decision = move
        self.corrections += 1


def collect_presses(
    episodes: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    config: TactileInsertionConfig | None = None,
) -> Presses:
    """Run `episodes` episodes per part (seeds seed..seed+episodes-1) and label every press;
    `config`: the task's settings (its part is replaced by each part in turn)."""
    features, offsets, ids = [], [], []
    clearance, sensor = 0.0, {}
    base = config or TactileInsertionConfig()
    for p, part in enumerate(PARTS):
        env = gym.make("vitac/TactileInsertion-v0", config=base.model_copy(update={"part": part}))
        env = env.unwrapped
        assert isinstance(env, TactileInsertionEnv)
        clearance, sensor = env.clearance, sensor_key(env.sensors[0], unit_spread(env.config))
        for i in range(episodes):
            sink: list[tuple[F64, F64]] = []
            expert = _LabellingExpert(env, sink)
            obs, _ = env.reset(seed=seed + i)
            expert.reset(seed + i)
            for _ in range(env.config.max_steps):
                obs, _, terminated, truncated, _ = env.step(expert.act(obs))
                if terminated or truncated:
                    break
            for f, o in sink:
                features.append(f)
                offsets.append(o)
                ids.append(p * episodes + i)
            if progress is not None:
                progress(1)
        env.close()
    return Presses(np.array(features), np.array(offsets), np.array(ids), clearance, sensor)


def side_accuracy(readout: TouchReadout, presses: Presses) -> list[float]:
    """Per axis, how often the readout puts the socket on the right side, balanced (the mean of
    the rates on presses with the socket on either side, so that always answering one side
    scores 0.5), over presses off by more than the clearance on that axis."""
    probs = np.array([readout.beyond(f) for f in presses.features])  # (n, 2)
    out = []
    for axis in range(2):
        far = np.abs(presses.offsets[:, axis]) > presses.clearance
        beyond = presses.offsets[far, axis] > 0
        said = probs[far, axis] > 0.5
        out.append(float((said[beyond].mean() + (~said[~beyond]).mean()) / 2))
    return out


def subset(presses: Presses, keep: NDArray[np.bool_]) -> Presses:
    return Presses(
        presses.features[keep],
        presses.offsets[keep],
        presses.episodes[keep],
        presses.clearance,
        presses.sensor,
    )


def calibrate(presses: Presses) -> tuple[TouchReadout, list[float]]:
    """Fit on the even episodes, score on the odd ones, refit on all -> (readout, accuracy)."""
    even = presses.episodes % 2 == 0
    half = subset(presses, even)
    held_out = side_accuracy(
        fit_readout(half.features, half.offsets, half.clearance), subset(presses, ~even)
    )
    readout = fit_readout(presses.features, presses.offsets, presses.clearance, presses.sensor)
    return readout, held_out


def write_readout(
    path: Path, readout: TouchReadout, accuracy: list[float], presses: Presses, meta: dict[str, Any]
) -> None:
    """The readout file `TouchReadout.load` reads, with what it was fitted on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = meta | {
        "sensor": readout.sensor,
        "features": feature_layout(profile(presses.sensor["profile"])),
        "weights": readout.weights.round(8).tolist(),
        "presses": len(presses.features),
        "episodes_with_presses": len(np.unique(presses.episodes)),
        "heldout_side_accuracy": {"x": round(accuracy[0], 4), "y": round(accuracy[1], 4)},
    }
    path.write_text(json.dumps(record, indent=1) + "\n")
