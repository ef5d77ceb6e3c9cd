from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

import sim.experts
from sensing.errors import DatasetError
from sensing.store import EpisodeStore
from sim import PegInsertionConfig, TactileInsertionConfig, make_env
from sim.tasks import task_env
from tests.conftest import TINY_TASK
from training.collect import CollectConfig, collect
from training.interrupt import Interrupted


def test_store_schema_is_the_env_spec_plus_action(demo_store: Path) -> None:
    store = EpisodeStore.open(demo_store)
    env = make_env("peg_insertion", TINY_TASK)
    try:
        task = task_env(env)
        expected = {**task.observation_spec(), **task.action_spec()}
    finally:
        env.close()
    assert store.schema == expected
    assert store.n_episodes == 4
    assert store.attrs["task"] == "peg_insertion"
    assert store.attrs["task_config"]["image_size"] == 32
    for i in range(store.n_episodes):
        meta = store.episode_meta(i)
        assert meta["success"] is True and meta["seed"] == i and meta["rig"] == "sim"
        times = store.episode(i, ["timestamp"])["timestamp"]
        np.testing.assert_allclose(np.diff(times), 0.1)  # control at 10 Hz


def test_labels_are_the_clean_expert_actions(demo_store: Path) -> None:
    """With executed-action noise, recorded labels still point the hand towards the goal."""
    store = EpisodeStore.open(demo_store)
    episode = store.episode(0, ["action", "proprio.ee_pos"])
    step = np.linalg.norm(episode["action"][:, :3] - episode["proprio.ee_pos"], axis=1)
    assert step.max() <= 0.0061  # the expert's speed limit, never the noise


def test_failures_are_discarded_unless_kept(tmp_path: Path) -> None:
    hopeless = PegInsertionConfig.model_validate(TINY_TASK | {"max_steps": 3})
    dropped = collect(
        "peg_insertion", hopeless, CollectConfig(episodes=2), tmp_path / "a.zarr", progress=False
    )
    assert (dropped.stored, dropped.expert_successes) == (0, 0)
    assert EpisodeStore.open(tmp_path / "a.zarr").n_episodes == 0
    kept = collect(
        "peg_insertion",
        hopeless,
        CollectConfig(episodes=2, keep_failures=True),
        tmp_path / "b.zarr",
        progress=False,
    )
    store = EpisodeStore.open(kept.path)
    assert kept.stored == 2 and store.n_frames == 6
    assert store.episode_meta(1)["success"] is False


def test_never_overwrites_an_existing_store(demo_store: Path) -> None:
    with pytest.raises(DatasetError):
        collect(
            "peg_insertion",
            PegInsertionConfig.model_validate(TINY_TASK),
            CollectConfig(episodes=1),
            demo_store,
            progress=False,
        )


def test_arm_task_demonstrations_go_straight_into_the_store(tmp_path: Path) -> None:
    """The flagship: 10-d absolute-pose actions, two cameras, two tactile streams, noise kept."""
    config = TactileInsertionConfig(image_size=32)  # the tactile size its readout is calibrated on
    result = collect(
        "tactile_insertion",
        config,
        CollectConfig(episodes=2, noise_std=0.0005),
        tmp_path / "insertion.zarr",
        progress=False,
    )
    assert result.stored == result.expert_successes >= 1  # failed demonstrations are not kept
    store = EpisodeStore.open(result.path)
    assert store.schema["action"].shape == (10,)
    assert store.schema["tactile.left"].shape == (60, 80, 3)
    assert {"rgb.scene", "rgb.wrist", "proprio.ee_pose", "proprio.joints"} <= set(store.keys)
    episode = store.episode(0, ["action", "proprio.ee_pose"])
    # labels are top-down poses: rot6d's first column is the TCP x axis, horizontal
    assert np.abs(episode["action"][:, 5]).max() < 0.05
    assert store.attrs["task_config"]["clearance_mm"] == pytest.approx(0.4)


class _SignalAt:
    """The real expert, which sends the process SIGINT on its `at`-th action (a Ctrl-C)."""

    def __init__(self, expert: object, at: int) -> None:
        self.expert, self.at, self.calls = expert, at, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.expert, name)

    def act(self, obs: object) -> object:
        self.calls += 1
        if self.calls == self.at:
            signal.raise_signal(signal.SIGINT)
        return self.expert.act(obs)  # type: ignore[attr-defined]


def test_an_interrupted_collection_keeps_its_episodes_and_resumes_to_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = PegInsertionConfig.model_validate(TINY_TASK)
    config = CollectConfig(episodes=3, seed=7, noise_std=0.001)
    straight = collect("peg_insertion", task, config, tmp_path / "a.zarr", progress=False)
    assert straight.stored == 3
    before = signal.getsignal(signal.SIGINT)  # default, or SIG_IGN in a background job

    real = sim.experts.EXPERTS["peg_insertion"]
    first_length = EpisodeStore.open(straight.path).episode_slice(0).stop
    with monkeypatch.context() as patch:  # Ctrl-C a few steps into the second episode
        patch.setitem(
            sim.experts.EXPERTS,
            "peg_insertion",
            lambda env, **kw: _SignalAt(real(env, **kw), at=first_length + 3),
        )
        with pytest.raises(Interrupted, match=r"during episode 1 of 3; .* keeps its 1 committed"):
            collect("peg_insertion", task, config, tmp_path / "b.zarr", progress=False)
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored
    kept = EpisodeStore.open(tmp_path / "b.zarr")
    assert kept.n_episodes == 1 and kept.n_frames == first_length  # nothing of episode 1

    resumed = collect(
        "peg_insertion", task, config, tmp_path / "b.zarr", progress=False, resume=True
    )
    assert (resumed.attempted, resumed.stored) == (2, 2)
    a, b = EpisodeStore.open(straight.path), EpisodeStore.open(tmp_path / "b.zarr")
    np.testing.assert_array_equal(a.episode_ends, b.episode_ends)
    for key in (*a.keys, "timestamp"):
        np.testing.assert_array_equal(a.load([key])[key], b.load([key])[key], err_msg=key)
    with pytest.raises(DatasetError, match="already holds the 3 attempted episodes"):
        collect("peg_insertion", task, config, tmp_path / "b.zarr", progress=False, resume=True)


def test_resume_with_another_collect_config_is_refused(demo_store: Path) -> None:
    task = PegInsertionConfig.model_validate(TINY_TASK)
    other = CollectConfig(episodes=6, seed=0, noise_std=0.002)
    with pytest.raises(
        DatasetError, match=r"collected differently.*collect\.noise_std: 0\.001 -> 0\.002\)"
    ):
        collect("peg_insertion", task, other, demo_store, progress=False, resume=True)
    assert EpisodeStore.open(demo_store).n_episodes == 4


def test_the_demonstrator_can_be_a_named_expert_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """collect.expert picks a variant of the task's expert, built with its arguments."""
    import sim.touch_expert

    built: list[dict[str, object]] = []
    real_init = sim.touch_expert.TouchInsertionExpert.__init__

    def spy(self: object, env: object, **kwargs: object) -> None:
        built.append(kwargs)
        real_init(self, env, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sim.touch_expert.TouchInsertionExpert, "__init__", spy)
    config = TactileInsertionConfig(image_size=32)
    result = collect(
        "tactile_insertion",
        config,
        CollectConfig(episodes=1, expert="memoryless"),
        tmp_path / "memoryless.zarr",
        progress=False,
    )
    assert built == [{"noise_std": 0.0, "memory": False}]
    assert EpisodeStore.open(result.path).attrs["collect"]["expert"] == "memoryless"
