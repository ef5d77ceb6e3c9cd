"""The scripted experts succeed, their DART noise is seeded, and touch matters for insertion."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sim import EXPERTS, TASKS, PegInsertionEnv, PegInsertionExpert, make_env
from sim.expert_base import Expert
from sim.experts import PickExpert, StackExpert, TactileInsertionExpert
from sim.tasks.arm_env import ArmTaskEnv
from sim.tasks.lift import LiftEnv
from sim.tasks.stack import StackEnv
from sim.tasks.tactile_insertion import TactileInsertionEnv
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
    own_tasks = {name for name in TASKS if not name.startswith("robosuite_")}
    assert set(EXPERTS) == own_tasks  # robosuite tasks come with robosuite's own demos
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


def run_arm_episode(env: ArmTaskEnv, expert: Expert, seed: int) -> bool:
    env.reset(seed=seed)
    expert.reset(seed)
    while True:
        action = expert.act()
        assert env.action_space.contains(action)
        _, _, terminated, truncated, info = env.step(expert.perturb(action))
        if terminated or truncated:
            assert [int(w.number) for w in env.data.warning] == [0] * len(env.data.warning)
            return bool(info["is_success"])


@pytest.mark.parametrize("part", ["switch3", "usb12", "vga17"])
def test_insertion_expert_feels_and_corrects(part: str) -> None:
    env = TactileInsertionEnv({"part": part})
    expert = TactileInsertionExpert(env)
    try:
        assert all(run_arm_episode(env, expert, seed) for seed in range(3))
    finally:
        env.close()


def test_open_loop_insertion_jams_when_the_estimate_is_off() -> None:
    """Seeds whose socket estimate is off by more than 1.5 mm: open loop fails, feel succeeds."""
    env = TactileInsertionEnv()
    try:
        seeds = []
        for seed in range(40):
            env.reset(seed=seed)
            s = env.privileged_state()
            if np.linalg.norm(s["socket_estimate_xy"] - s["socket_xy"]) > 0.0015:
                seeds.append(seed)
        seeds = seeds[:2]
        blind = TactileInsertionExpert(env, feel=False)
        assert not any(run_arm_episode(env, blind, seed) for seed in seeds)
        feeling = TactileInsertionExpert(env)
        assert all(run_arm_episode(env, feeling, seed) for seed in seeds)
        assert feeling.corrections >= 1
    finally:
        env.close()


@pytest.mark.parametrize(
    ("env_cls", "expert_cls"), [(LiftEnv, PickExpert), (StackEnv, StackExpert)]
)
def test_cube_experts_succeed(env_cls: type[ArmTaskEnv], expert_cls: type[PickExpert]) -> None:
    env = env_cls()
    try:
        expert = expert_cls(env, noise_std=0.001)
        assert all(run_arm_episode(env, expert, seed) for seed in range(2))
    finally:
        env.close()


def test_arm_experts_refuse_other_tasks() -> None:
    env = LiftEnv()
    try:
        with pytest.raises(TypeError, match="TactileInsertionEnv"):
            TactileInsertionExpert(env)
        with pytest.raises(TypeError, match="StackEnv"):
            StackExpert(env)
    finally:
        env.close()
