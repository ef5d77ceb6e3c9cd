from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from sim import make_env
from sim.touch_expert import TouchInsertionExpert
from tests.conftest import TINY_TASK
from tests.policies.conftest import tiny_policy_config
from training.actors import BASELINES, BaselineSpec, PolicySpec, RandomActor
from training.evaluate import evaluate
from training.trainer import TrainConfig, train


def test_random_baseline_is_reproducible() -> None:
    env = make_env("peg_insertion", TINY_TASK | {"max_steps": 4})
    try:
        actor = RandomActor()
        actor.reset(env, seed=7)
        first = [actor.act({}) for _ in range(3)]
        actor.reset(env, seed=7)
        again = [actor.act({}) for _ in range(3)]
    finally:
        env.close()
    assert all((a == b).all() for a, b in zip(first, again, strict=True))


def test_expert_baseline_is_the_tasks_scripted_expert() -> None:
    env = make_env("peg_insertion", TINY_TASK)
    try:
        result = evaluate(env, BASELINES["expert"](), episodes=2, seed=0, progress=False)
    finally:
        env.close()
    assert result.successes == [True, True]
    with pytest.raises(ValueError, match="no scripted expert for CartPoleEnv"):
        BASELINES["expert"]().reset(gym.make("CartPole-v1"), 0)


def test_an_unknown_baseline_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown baseline 'wave'"):
        BaselineSpec("wave")


def test_an_expert_variant_is_the_registered_expert_with_its_arguments() -> None:
    spec = BaselineSpec("expert", "open_loop")
    assert (spec.key, spec.name) == ("open_loop", "scripted expert (open_loop)")
    assert (BaselineSpec("expert").key, BaselineSpec("hold").key) == ("expert", "hold")
    env = make_env("tactile_insertion", TINY_TASK | {"tactile_size": (16, 16)})
    try:
        actor = spec.build()
        actor.reset(env, 0)
        expert = actor._expert  # type: ignore[attr-defined]
        assert isinstance(expert, TouchInsertionExpert) and expert.correct is False
    finally:
        env.close()


def test_the_default_variant_is_the_default_expert() -> None:
    assert BaselineSpec("expert", "default") == BaselineSpec("expert")
    assert BaselineSpec.parse("expert:default") == BaselineSpec.parse("expert")
    assert BaselineSpec.parse("expert:open_loop") == BaselineSpec("expert", "open_loop")
    assert BaselineSpec.parse("hold") == BaselineSpec("hold")
    with pytest.raises(ValueError, match="'expert:' names no variant"):
        BaselineSpec.parse("expert:")
    assert BaselineSpec("expert", "default").key == "expert"
    with pytest.raises(ValueError, match="only 'expert' has variants"):
        BaselineSpec("hold", "default")


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="only 'expert' has variants"):
        BaselineSpec("hold", "oracle")
    with pytest.raises(ValueError, match="no variant 'wave'"):
        BaselineSpec("expert", "wave")
    env = make_env("peg_insertion", TINY_TASK)
    try:
        with pytest.raises(ValueError, match="no expert variant 'oracle' for PegInsertionEnv"):
            BaselineSpec("expert", "oracle").build().reset(env, 0)
    finally:
        env.close()


def test_a_diffusion_actor_acts_by_the_episode_seed_not_the_global_generator(
    demo_store: Path, tmp_path: Path
) -> None:
    """Eval workers share episodes out differently, so an episode's noise must come from its
    own seed (it came from whatever the process's global generator held, and a 2-worker eval
    of one checkpoint gave 45/50 where 1 worker gave 49/50)."""
    config = TrainConfig(steps=2, batch_size=4, val_ratio=0.0, checkpoint_every=2, threads=1)
    checkpoint = train(tiny_policy_config("diffusion"), config, demo_store, tmp_path).checkpoint
    env = make_env("peg_insertion", TINY_TASK)
    obs, _ = env.reset(seed=0)

    def actions(seed: int, global_seed: int) -> np.ndarray:
        actor = PolicySpec(checkpoint).build()
        torch.manual_seed(global_seed)
        actor.reset(env, seed)
        return np.stack([actor.act(obs) for _ in range(4)])

    np.testing.assert_array_equal(actions(7, global_seed=1), actions(7, global_seed=2))
    assert not np.allclose(actions(7, global_seed=1), actions(8, global_seed=1))
