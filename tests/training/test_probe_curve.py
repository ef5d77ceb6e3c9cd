"""The probe's learning curve: fewer training episodes, lower R^2; no held-out episode leaks."""

from __future__ import annotations

import numpy as np
import pytest

from training.probe import PHASES, ProbeData, ProbeError
from training.probe_curve import (
    curve_sizes,
    format_curve,
    learning_curve,
    training_pool,
    transfer_curve,
)


def data_of(inputs: dict[str, np.ndarray], y: np.ndarray, episodes: np.ndarray) -> ProbeData:
    features = {phase: dict(inputs) for phase in PHASES}
    return ProbeData(features, y, episodes, len(np.unique(episodes)), 0, {}, {})


def two_readers(n: int = 100, seed: int = 0) -> ProbeData:
    """A 2-D target read from `tactile_few` (3 features, as a good pretrained feature would give
    it) or from `tactile_many` (the same signal in 4 of 300 features, the rest noise)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, 2))
    few = np.column_stack([y + 0.2 * rng.normal(size=(n, 2)), rng.normal(size=n)])
    many = rng.normal(size=(n, 300))
    many[:, :4] = np.tile(y, 2) + 0.2 * rng.normal(size=(n, 4))
    return data_of({"tactile_few": few, "tactile_many": many}, y, np.arange(n))


def test_a_compact_input_is_read_from_fewer_episodes_than_a_spread_one() -> None:
    points = {(p.input, p.episodes): np.mean(p.r2) for p in learning_curve(two_readers(), [8, 80])}
    assert points["tactile_few", 8] > 0.8  # 3 features: a handful of episodes is enough
    assert points["tactile_few", 80] > 0.9
    assert points["tactile_many", 8] < 0.2  # 300 features: 8 episodes are far too few
    assert points["tactile_many", 80] > 0.4
    assert points["tactile_few", 8] > points["tactile_many", 8] + 0.3


def test_no_held_out_episode_is_in_the_fit() -> None:
    # every episode repeats one random sample; a fit that saw the episode would recall it
    rng = np.random.default_rng(1)
    n_episodes = 50
    x = np.repeat(rng.normal(size=(n_episodes, 60)), 3, axis=0)
    y = np.repeat(rng.normal(size=(n_episodes, 2)), 3, axis=0)
    data = data_of({"tactile": x}, y, np.repeat(np.arange(n_episodes), 3))
    (point,) = learning_curve(data, [training_pool(data)], repeats=2)
    assert max(point.r2) < 0.1


def test_draws_differ_and_repeat_exactly() -> None:
    data = two_readers(60)
    first = learning_curve(data, [10], ["tactile_many"], repeats=3)
    again = learning_curve(data, [10], ["tactile_many"], repeats=3)
    assert first == again
    assert len(set(first[0].r2)) == 3  # three different subsets, three scores


def test_sizes_are_checked_and_lowered_to_the_pool() -> None:
    data = two_readers(50)
    assert training_pool(data) == 40
    assert curve_sizes(data, [8, 45, 40, 100]) == [8, 40]
    for bad in ([3], [41]):
        with pytest.raises(ProbeError, match="out of range"):
            learning_curve(data, bad)
    with pytest.raises(ProbeError, match="no input"):
        learning_curve(data, [8], ["tactile_t3"])


def test_the_default_inputs_are_the_tactile_ones_and_the_table_names_them() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(30, 2))
    inputs = {k: rng.normal(size=(30, 4)) for k in ("tactile", "wrist", "tactile_pose")}
    points = learning_curve(data_of(inputs, y, np.arange(30)), [8, 16], repeats=2)
    assert [(p.input, p.episodes) for p in points] == [("tactile", 8), ("tactile", 16)]
    table = format_curve(points)
    assert table.splitlines()[0].split()[-2:] == ["8", "16"]
    assert table.splitlines()[1].startswith("tactile")
    record = points[0].to_json()
    assert record["episodes"] == 8 and len(record["r2"]) == 2
    assert record["r2_mean"] == pytest.approx(np.mean(points[0].r2))


def units(n: int, first: int, gain: float, seed: int) -> ProbeData:
    """`tactile_raw`: the target seen through a pad whose gain scales it (a unit's lights);
    `tactile_level`: the same read against the pad's own scale (what a reader of units should
    learn). Episodes `first`..`first + n - 1`."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, 2))
    raw = np.column_stack([gain * y, rng.normal(size=n)]) + 0.05 * rng.normal(size=(n, 3))
    level = np.column_stack([y, rng.normal(size=n)]) + 0.05 * rng.normal(size=(n, 3))
    inputs = {"tactile_raw": raw, "tactile_level": level}
    return data_of(inputs, y, np.arange(first, first + n))


def test_a_reader_moved_to_other_units_keeps_only_what_does_not_depend_on_them() -> None:
    """Fitted on one unit, scored on another whose gain is twice as high: the raw reader
    overshoots every target (R^2 1 - 1 = 0), the unit-free one keeps its score."""
    train, test = units(80, 0, 1.0, seed=0), units(80, 1000, 2.0, seed=1)
    curve = transfer_curve(train, test, [8, 80])
    points = {(p.input, p.episodes): np.mean(p.r2) for p in curve}
    assert points["tactile_level", 8] > 0.9 and points["tactile_level", 80] > 0.95
    assert points["tactile_raw", 80] < 0.1
    # twice too long, but the right way: the raw reader's direction survives the swap
    cosine = {(p.input, p.episodes): p.to_json()["cosine_mean"] for p in curve}
    assert cosine["tactile_raw", 80] > 0.95 and len(curve[0].to_json()["cosine"]) == 5
    assert "cosine by training episodes" in format_curve(curve, cosine=True)
    same = {p.input: np.mean(p.r2) for p in transfer_curve(train, units(80, 1000, 1.0, 1), [80])}
    assert same["tactile_raw"] > 0.95  # on a unit like the training one, both read it


def test_a_transfer_needs_apart_episodes_and_sizes_within_the_training_condition() -> None:
    train = units(20, 0, 1.0, seed=0)
    with pytest.raises(ProbeError, match="share episodes"):
        transfer_curve(train, units(20, 10, 1.0, seed=1), [8])
    with pytest.raises(ProbeError, match=r"transfer sizes \[21\]"):
        transfer_curve(train, units(20, 100, 1.0, seed=1), [8, 21])
