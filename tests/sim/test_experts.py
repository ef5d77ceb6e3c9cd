"""The scripted peg-insertion expert succeeds, and its DART noise is seeded and corrected."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sim import EXPERTS, TASKS, PegInsertionEnv, PegInsertionExpert, make_env
from tests.sim.conftest import warning_counts


def run_episode(env: PegInsertionEnv, expert: PegInsertionExpert, seed: int) -> tuple[bool, int]:
    env.reset(seed=seed)
    expert.reset(seed)
    for step in range(1, env.config.max_steps + 1):
        action = expert.act()
        assert env.action_space.contains(action)
        _, _, terminated, truncated, info = env.step(expert.perturb(action))
        if terminated or truncated:
            return bool(info["is_success"]), step
    raise AssertionError("the env never ended the episode")


def test_expert_succeeds_on_a_handful_of_seeds(env: PegInsertionEnv) -> None:
    expert = PegInsertionExpert(env)
    results = [run_episode(env, expert, seed) for seed in range(4)]
    assert all(success for success, _ in results), results
    assert all(10 <= steps <= 40 for _, steps in results), results
    assert warning_counts(env) == [0] * len(warning_counts(env))


def test_expert_with_dart_noise_still_succeeds(env: PegInsertionEnv) -> None:
    expert = PegInsertionExpert(env, noise_std=0.001)
    assert all(run_episode(env, expert, seed)[0] for seed in (100, 101))


def test_perturbation_is_seeded_and_leaves_the_gripper_alone(env: PegInsertionEnv) -> None:
    env.reset(seed=0)
    expert = PegInsertionExpert(env, noise_std=0.002)
    action = expert.act()
    expert.reset(5)
    first = expert.perturb(action)
    expert.reset(5)
    np.testing.assert_array_equal(expert.perturb(action), first)
    assert not np.array_equal(first[:3], action[:3]) and first[3] == action[3]
    np.testing.assert_array_equal(PegInsertionExpert(env).perturb(action), action)


def test_every_task_has_an_expert_that_accepts_a_wrapped_env() -> None:
    assert set(EXPERTS) == set(TASKS)
    env = make_env("peg_insertion")
    env.reset(seed=0)
    expert = EXPERTS["peg_insertion"](env)
    assert expert.act().shape == (4,)
    env.close()


def test_expert_refuses_other_envs_and_negative_noise(env: PegInsertionEnv) -> None:
    with pytest.raises(ValueError, match="noise_std"):
        PegInsertionExpert(env, noise_std=-1.0)
    with pytest.raises(TypeError, match="PegInsertionEnv"):
        PegInsertionExpert(gym.make("CartPole-v1"))
