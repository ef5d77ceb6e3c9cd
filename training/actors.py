"""What acts in the env during evaluation: a trained policy and the baselines it is compared to.

An actor is anything with `reset(env, seed)` and `act(obs) -> action`: a trained policy, or
the baselines every result is compared against (hold still, act at random) and the task's
scripted expert as a reference. A spec (`PolicySpec`, `BaselineSpec`) is a picklable
description of an actor; `build()` makes the actor in whichever process will run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from policies import Policy, load_policy
from sim import EXPERTS, TASKS
from sim.tasks import task_env


class Actor(Protocol):
    name: str

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None: ...

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray: ...


class PolicyActor:
    """A trained policy, stepping through its action chunks."""

    def __init__(self, policy: Policy, name: str = "policy") -> None:
        self.policy, self.name = policy.eval(), name

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        self.policy.reset()

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.policy.select_action(obs)


class HoldActor:
    """Baseline: command the pose the robot is already in (a zero-motion action)."""

    name = "hold (zero motion)"

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        self._task = task_env(env)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self._task.hold_action()


class RandomActor:
    """Baseline: uniform samples from the action space."""

    name = "random"

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        self._space = env.action_space
        self._space.seed(seed)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        sample: np.ndarray = self._space.sample()
        return sample


class ExpertActor:
    """Reference: the task's scripted expert (privileged state, so an upper bound, not a rival)."""

    name = "scripted expert"

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        unwrapped = type(env.unwrapped)
        tasks = [name for name, entry in TASKS.items() if entry.env_cls is unwrapped]
        if not tasks or tasks[0] not in EXPERTS:
            raise ValueError(
                f"no scripted expert for {unwrapped.__name__}; tasks with one: {sorted(EXPERTS)}"
            )
        self._expert = EXPERTS[tasks[0]](env)
        self._expert.reset(seed)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self._expert.act()


BASELINES: dict[str, type[HoldActor] | type[RandomActor] | type[ExpertActor]] = {
    "hold": HoldActor,
    "random": RandomActor,
    "expert": ExpertActor,
}


# ------------------------------------------------------------------ picklable specs


class ActorSpec(Protocol):
    """A picklable description of an actor; `build()` makes the actor where it will run."""

    @property
    def key(self) -> str:
        """Short, file-name-safe label: the video directory, unique within one run."""
        ...

    @property
    def name(self) -> str:
        """The label results and plots show (the built actor's `name`)."""
        ...

    def build(self) -> Actor: ...


@dataclass(frozen=True)
class PolicySpec:
    """A trained policy, loaded from its checkpoint directory in whichever process runs it."""

    checkpoint: Path
    key: str = "policy"

    @property
    def name(self) -> str:
        return self.key

    def build(self) -> Actor:
        return PolicyActor(load_policy(self.checkpoint), self.key)


@dataclass(frozen=True)
class BaselineSpec:
    """One of `BASELINES`, by its key ("hold", "random" or "expert")."""

    key: str

    def __post_init__(self) -> None:
        if self.key not in BASELINES:
            raise ValueError(f"unknown baseline {self.key!r}; available: {sorted(BASELINES)}")

    @property
    def name(self) -> str:
        return BASELINES[self.key].name

    def build(self) -> Actor:
        return BASELINES[self.key]()
