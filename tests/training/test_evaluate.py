from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import gymnasium as gym
import numpy as np
import pytest

from sim import PegInsertionExpert, make_env
from sim.touch_readout import ReadoutMismatchError
from tests.conftest import TINY_TASK
from tests.policies.conftest import tiny_config
from training.actors import Actor, BaselineSpec, HoldActor, PolicySpec
from training.eval_pool import EvalError
from training.evaluate import evaluate, evaluate_parallel
from training.trainer import TrainConfig, train
from training.video import TILE_HEIGHT


def test_hold_baseline_never_succeeds_and_video_has_every_step(tmp_path: Path) -> None:
    env = make_env("peg_insertion", TINY_TASK | {"max_steps": 5}, render_mode="rgb_array")
    try:
        result = evaluate(
            env, HoldActor(), episodes=2, seed=3, video_path=tmp_path / "v.mp4", progress=False
        )
    finally:
        env.close()
    assert result.successes == [False, False] and result.lengths == [5, 5]
    assert result.seeds == [3, 4]
    video = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 6  # reset + 5 steps
    # the 64x48 render above the 32x32 camera and two 16x16 tactile images, each TILE_HEIGHT high
    width, height = video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT)
    assert (width, height) == (3 * TILE_HEIGHT, 48 + TILE_HEIGHT)


# ------------------------------------------------------------------ parallel evaluation
# Actors defined here must be picklable and importable by name: spawned workers rebuild them.


class _ExpertActor:
    """The noisy scripted expert: fails or succeeds after a seed-dependent number of steps."""

    name = "expert"

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        self._expert = PegInsertionExpert(env, noise_std=0.002)
        self._expert.reset(seed)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self._expert.perturb(self._expert.act())


@dataclass(frozen=True)
class ExpertSpec:
    key: str = "expert"
    name: str = "expert"

    def build(self) -> Actor:
        return _ExpertActor()


class _SabotageActor(HoldActor):
    """Holds still, then raises on the chosen seed's second step."""

    name = "sabotage"

    def __init__(self, seed: int) -> None:
        self.bad_seed, self._steps = seed, 0

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        super().reset(env, seed)
        self._seed, self._steps = seed, 0

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        self._steps += 1
        if self._seed == self.bad_seed and self._steps == 2:
            raise ValueError(f"sabotaged at seed {self._seed}")
        return super().act(obs)


@dataclass(frozen=True)
class SabotageSpec:
    seed: int
    key: str = "sabotage"
    name: str = "sabotage"

    def build(self) -> Actor:
        return _SabotageActor(self.seed)


@pytest.fixture(scope="module")
def tiny_checkpoint(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step BC policy: untrained, but loads and acts like any checkpoint."""
    config = TrainConfig(steps=2, batch_size=4, val_ratio=0.0, checkpoint_every=2, threads=1)
    out = tmp_path_factory.mktemp("tiny_policy")
    return train(tiny_config(), config, demo_store, out, progress=False).checkpoint


def test_parallel_results_equal_serial_ones_and_videos_are_named_by_seed(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    task = TINY_TASK | {"max_steps": 30}
    actors = [PolicySpec(tiny_checkpoint), ExpertSpec(), BaselineSpec("random")]
    run = dict(task="peg_insertion", task_config=task, actors=actors, episodes=4, seed=10)
    serial = evaluate_parallel(**run, workers=1, progress=False)  # type: ignore[arg-type]
    parallel = evaluate_parallel(
        **run,  # type: ignore[arg-type]
        workers=2,
        video_dir=tmp_path,
        video_episodes=2,
        progress=False,
    )
    for s, p in zip(serial, parallel, strict=True):
        assert (s.name, s.successes, s.lengths, s.seeds) == (
            p.name,
            p.successes,
            p.lengths,
            p.seeds,
        )
    assert [r.name for r in parallel] == ["policy", "expert", "random"]
    expert = parallel[1]
    assert expert.seeds == [10, 11, 12, 13]
    assert any(expert.successes) and len(set(expert.lengths)) > 1  # order would show

    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.mp4"))
    assert written == [
        f"{k}/seed_{s}.mp4" for k in ("expert", "policy", "random") for s in (10, 11)
    ]
    assert parallel[1].videos == [tmp_path / "expert/seed_10.mp4", tmp_path / "expert/seed_11.mp4"]
    video = cv2.VideoCapture(str(tmp_path / "expert/seed_11.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == expert.lengths[1] + 1  # reset + steps


def test_an_episode_that_raises_names_its_seed(tmp_path: Path) -> None:
    run: dict[str, Any] = dict(
        task="peg_insertion",
        task_config=TINY_TASK | {"max_steps": 4},
        actors=[BaselineSpec("hold"), SabotageSpec(seed=22)],
        episodes=3,
        seed=20,
        progress=False,
    )
    with pytest.raises(EvalError, match=r"'sabotage' episode 2 \(seed 22\) failed: ValueError"):
        evaluate_parallel(**run, workers=1)
    started = time.perf_counter()
    with pytest.raises(EvalError) as err:
        evaluate_parallel(**run, workers=2)
    message = str(err.value)
    assert "'sabotage' episode 2 (seed 22) failed in worker" in message
    assert "ValueError: sabotaged at seed 22" in message and "worker traceback" in message
    assert time.perf_counter() - started < 60


def test_bad_arguments_are_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match="workers >= 1"):
        evaluate_parallel("peg_insertion", TINY_TASK, [BaselineSpec("hold")], 2, 0, workers=0)
    with pytest.raises(ValueError, match="unique actor keys"):
        evaluate_parallel("peg_insertion", TINY_TASK, [BaselineSpec("hold")] * 2, 2, 0)
    with pytest.raises(ValueError, match="unknown task 'juggling'"):
        evaluate_parallel("juggling", {}, [BaselineSpec("hold")], 2, 0)


def test_a_policy_spec_builds_its_actor_with_the_inference_settings(
    tiny_checkpoint: Path,
) -> None:
    """The spec is what crosses into eval workers: the settings must travel inside it."""
    import pickle

    from policies.inference import InferenceConfig

    spec = PolicySpec(tiny_checkpoint, inference=InferenceConfig(n_action_steps=1))
    actor = pickle.loads(pickle.dumps(spec)).build()
    assert actor.policy.config.n_action_steps == 1  # type: ignore[attr-defined]
    assert PolicySpec(tiny_checkpoint).build().policy.config.n_action_steps == 3  # type: ignore[attr-defined]


def test_an_expert_that_cannot_run_on_the_settings_fails_here_before_any_worker() -> None:
    """Pads of units at a spread no touch readout was calibrated for: the expert's own error
    (an operator error: one line), not an episode's EvalError, with or without workers."""
    units = {"tactile_units": 3, "tactile_unit_spread": 0.3, "max_steps": 5}
    for workers in (1, 2):
        with pytest.raises(ReadoutMismatchError, match="no touch readout is calibrated"):
            evaluate_parallel("tactile_insertion", units, [BaselineSpec("expert")], 4, 0, workers)
