"""The information probe: the ridge scorer, the split by episode, features, collection."""

from __future__ import annotations

import numpy as np
import pytest

from training.probe import (
    FEATURE_BUDGET,
    GROUPS,
    PHASES,
    ProbeData,
    ProbeError,
    area_resize,
    collect_probe_data,
    fit_and_score,
    group_features,
)
from training.probe_ridge import (
    cross_validated_predictions,
    episode_folds,
    ridge_predictions,
    score,
)


def synthetic(n_episodes: int, per_episode: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """A 2-D target, an input that carries it (linearly, plus noise) and one that does not."""
    rng = np.random.default_rng(seed)
    n = n_episodes * per_episode
    groups = np.repeat(np.arange(n_episodes), per_episode)
    informative = rng.normal(size=(n, 40))
    y = informative[:, :2] @ np.array([[1.0, -0.5], [0.3, 2.0]]) + 0.1 * rng.normal(size=(n, 2))
    noise = rng.normal(size=(n, 40))
    return informative, noise, y, groups


def test_scorer_tells_the_informative_input_from_noise() -> None:
    informative, noise, y, groups = synthetic(n_episodes=40, per_episode=3)
    good = score(y, cross_validated_predictions(informative, y, groups).predictions)
    bad = score(y, cross_validated_predictions(noise, y, groups).predictions)
    assert good.r2 > 0.95 and good.cosine > 0.95 and good.quadrant_acc > 0.9
    assert -0.2 < bad.r2 < 0.1 and abs(bad.cosine) < 0.3 and bad.quadrant_acc < 0.45
    assert good.n == bad.n == len(y)


def test_folds_split_by_episode() -> None:
    groups = np.repeat(np.arange(23), [1, 2, 3, 4] * 5 + [2, 2, 2])
    folds = episode_folds(groups, 5)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(groups)))
    for test in folds:
        train = np.setdiff1d(np.arange(len(groups)), test)
        assert not set(groups[test]) & set(groups[train])
    sizes = [len(np.unique(groups[t])) for t in folds]
    assert max(sizes) - min(sizes) <= 1


def test_no_episode_leaks_into_its_own_prediction() -> None:
    # each episode repeats one random sample; a model that saw the episode would recall it
    rng = np.random.default_rng(1)
    x = np.repeat(rng.normal(size=(30, 200)), 4, axis=0)
    y = np.repeat(rng.normal(size=(30, 2)), 4, axis=0)
    groups = np.repeat(np.arange(30), 4)
    assert score(y, cross_validated_predictions(x, y, groups).predictions).r2 < 0.1


def test_ridge_does_not_depend_on_feature_units() -> None:
    # features are standardised with training statistics: metres or millimetres, same fit
    informative, _, y, _ = synthetic(n_episodes=20, per_episode=1)
    units = np.logspace(-3, 3, informative.shape[1])
    a = ridge_predictions(informative[:15], y[:15], informative[15:], (0.01, 1.0))
    b = ridge_predictions(informative[:15] * units, y[:15], informative[15:] * units, (0.01, 1.0))
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_score_extremes() -> None:
    y = np.array([[1.0, 2.0], [-1.0, 0.5], [0.5, -2.0], [-2.0, -1.0]])
    perfect = score(y, y)
    assert (perfect.r2, perfect.cosine, perfect.quadrant_acc) == pytest.approx((1, 1, 1))
    flipped = score(y, -y)
    assert flipped.cosine == pytest.approx(-1.0) and flipped.quadrant_acc == 0.0
    assert flipped.r2 < -1
    assert score(y, np.zeros_like(y)).cosine == 0.0


def test_area_resize_averages_blocks() -> None:
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    out = area_resize(image, 2, 2)[:, :, 0] * 255
    np.testing.assert_allclose(out, [[2.5, 4.5], [10.5, 12.5]])
    flat = np.full((60, 80, 3), 51, dtype=np.uint8)
    np.testing.assert_allclose(area_resize(flat, 10, 13), 0.2)


def test_every_image_input_gets_the_same_feature_budget() -> None:
    obs: dict[str, np.ndarray] = {
        "rgb.scene": np.zeros((84, 84, 3), np.uint8),
        "rgb.wrist": np.zeros((84, 84, 3), np.uint8),
        "tactile.left": np.zeros((60, 80, 3), np.uint8),
        "tactile.right": np.zeros((60, 80, 3), np.uint8),
        "proprio.ee_pose": np.zeros(9, np.float32),
        "proprio.gripper": np.zeros(1, np.float32),
        "proprio.joints": np.zeros(6, np.float32),
    }
    sizes = {g: group_features(obs, g).size for g in GROUPS}
    for group in ("tactile", "wrist", "scene", "cameras"):
        assert abs(sizes[group] - FEATURE_BUDGET) <= 0.05 * FEATURE_BUDGET, sizes
    assert sizes["proprio"] == 16


def test_too_few_episodes_with_a_decision_is_a_probe_error() -> None:
    data = ProbeData(
        {p: {"proprio": np.zeros((2, 3))} for p in PHASES},
        np.ones((2, 2)),
        np.array([0, 1]),
        attempted=5,
        skipped=3,
        layouts={},
    )
    with pytest.raises(ProbeError, match="only 2 of 5"):
        fit_and_score(data)


def test_the_change_input_reads_what_the_two_frames_differ_by() -> None:
    """Each episode's frames share a large random baseline (a grasp); the target is in their
    difference only: the change input finds it, the single frames do not."""
    rng = np.random.default_rng(0)
    n = 120
    baseline = 5.0 * rng.normal(size=(n, 40))
    y = rng.normal(size=(n, 2))
    signal = np.zeros((n, 40))
    signal[:, :2] = y
    data = ProbeData(
        {"before_contact": {"tactile": baseline}, "at_contact": {"tactile": baseline + signal}},
        y,
        np.arange(n),
        attempted=n,
        skipped=0,
        layouts={},
    )
    scores = {(r.input, r.phase): r.scores for r in fit_and_score(data)}
    assert scores[("tactile_change", "at_contact")].r2 > 0.95
    assert scores[("tactile", "at_contact")].r2 < 0.5
    assert ("tactile_change", "before_contact") not in scores
    assert not any(name == "cameras_change" for name, _ in scores)  # no cameras input here


def test_a_task_without_decisions_is_refused() -> None:
    with pytest.raises(ProbeError, match="no decision"):
        collect_probe_data("peg_insertion", 3, progress=False)
    with pytest.raises(ProbeError, match="no scripted expert"):
        collect_probe_data("robosuite_lift", 3, progress=False)


def test_collection_keeps_the_descent_start_and_the_contact() -> None:
    data = collect_probe_data("tactile_insertion", 4, seed=0, progress=False)
    assert data.attempted == 4 and len(data.targets) + data.skipped == 4
    assert len(data.targets) >= 3  # seed 2 lands within the clearance, the others hit the rim
    assert data.targets.shape == (len(data.episodes), 2)
    assert np.all(np.linalg.norm(data.targets, axis=1) <= 0.0025 + 1e-9)
    # proprio features start with proprio.ee_pose: x, y, z of the TCP
    z_before = data.features["before_contact"]["proprio"][:, 2]
    z_at = data.features["at_contact"]["proprio"][:, 2]
    assert np.all(z_before > z_at + 0.003)  # the descent starts above the rim: pins + 3 mm
    for phase in PHASES:
        assert set(data.features[phase]) == set(GROUPS) | {"tactile_since_first"}
    # the pads less the episode's first frame (after the grasp), here of the first episode kept
    from sim import make_env

    env = make_env("tactile_insertion")
    first, _ = env.reset(seed=int(data.episodes[0]))
    env.close()
    for phase in PHASES:
        np.testing.assert_allclose(
            data.features[phase]["tactile_since_first"][0],
            data.features[phase]["tactile"][0] - group_features(first, "tactile"),
        )
    assert "less the first frame" in data.layouts["tactile_since_first"]


def test_a_later_decision_is_the_target_when_asked() -> None:
    """decision=2: the target is each episode's second correction, made from the frame at the
    second press; the before frame is the top of that press (lifted off the rim)."""
    from sim import make_env
    from sim.touch_expert import TouchInsertionExpert

    data = collect_probe_data("tactile_insertion", 4, seed=100000, progress=False, decision=2)
    assert len(data.targets) >= 2
    env = make_env("tactile_insertion")
    expert = TouchInsertionExpert(env)
    for seed, target in zip(data.episodes, data.targets, strict=True):
        obs, _ = env.reset(seed=int(seed))
        expert.reset(int(seed))
        decisions = []
        while len(decisions) < 2:
            obs, *_ = env.step(expert.act(obs))
            if (d := expert.decision()) is not None:
                decisions.append(d)
        np.testing.assert_allclose(target, decisions[1])
        assert not np.allclose(target, decisions[0])
    env.close()
    z_before = data.features["before_contact"]["proprio"][:, 2]
    z_at = data.features["at_contact"]["proprio"][:, 2]
    assert np.all(z_before > z_at)  # the top of the second press, lifted off the rim
    with pytest.raises(ProbeError, match="count from 1"):
        collect_probe_data("tactile_insertion", 3, progress=False, decision=0)


def test_task_settings_reach_the_probed_env() -> None:
    """params: the same episodes on pads of sensor units: the scene and the grasp the same
    (the proprioception before contact), the pads not."""
    plain = collect_probe_data("tactile_insertion", 3, seed=0, progress=False)
    units = collect_probe_data(
        "tactile_insertion", 3, seed=0, progress=False, params={"tactile_units": 1000000}
    )
    before, seen = plain.features["before_contact"], units.features["before_contact"]
    assert list(plain.episodes[:1]) == list(units.episodes[:1])
    np.testing.assert_allclose(before["proprio"][0], seen["proprio"][0])
    assert np.abs(before["tactile"][0] - seen["tactile"][0]).mean() > 0.01  # features in [0, 1]
