"""What acts in the env during evaluation: a trained policy and the baselines it is compared to.

An actor is anything with `reset(env, seed)` and `act(obs) -> action`: a trained policy, or
the baselines every result is compared against (hold still, act at random) and the task's
scripted expert, or one of its named variants (`sim.experts.EXPERT_VARIANTS`), as a
reference. A spec (`PolicySpec`, `BaselineSpec`) is a picklable description of an actor;
`build()` makes the actor in whichever process will run it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from policies import Policy, load_policy
from policies.inference import InferenceConfig, prepare_inference
from sim import TASKS
from sim.experts import DEFAULT_EXPERT, EXPERT_VARIANTS, expert_for
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
        self.policy.reset(seed)  # the episode's seed fixes a sampling policy's noise too

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
    """Reference: the task's scripted expert (privileged state, so an upper bound, not a rival),
    or, given a `variant`, one of the task's named scripted variants (`EXPERT_VARIANTS`)."""

    name = "scripted expert"

    def __init__(self, variant: str | None = None) -> None:
        self.variant = variant
        if variant is not None:
            self.name = f"{ExpertActor.name} ({variant})"

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        unwrapped = type(env.unwrapped)
        tasks = [name for name, entry in TASKS.items() if entry.env_cls is unwrapped]
        task = tasks[0] if tasks else None
        factory, kwargs = expert_for(task, self.variant, label=unwrapped.__name__)
        self._expert = factory(env, **kwargs)
        self._expert.reset(seed)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self._expert.act(obs)


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
    device: str = "cpu"
    inference: InferenceConfig = field(default_factory=InferenceConfig)

    @property
    def name(self) -> str:
        return self.key

    def build(self) -> Actor:
        policy = prepare_inference(load_policy(self.checkpoint, self.device), self.inference)
        return PolicyActor(policy, self.key)


@dataclass(frozen=True)
class BaselineSpec:
    """One of `BASELINES` by its kind ("hold", "random" or "expert"); an expert may name one of
    its task's scripted variants (`EXPERT_VARIANTS`), which is then its key. The variant
    `DEFAULT_EXPERT` is the default expert itself (variant None, key "expert")."""

    kind: str
    variant: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in BASELINES:
            raise ValueError(f"unknown baseline {self.kind!r}; available: {sorted(BASELINES)}")
        if self.kind == "expert" and self.variant == DEFAULT_EXPERT:
            object.__setattr__(self, "variant", None)
        if self.variant is not None:
            known = sorted({v for variants in EXPERT_VARIANTS.values() for v in variants})
            if self.kind != "expert" or self.variant not in known:
                raise ValueError(
                    f"baseline {self.kind!r} has no variant {self.variant!r}; only 'expert' "
                    f"has variants: {known}"
                )

    @classmethod
    def parse(cls, text: str) -> BaselineSpec:
        """A baseline as a config names it: its kind, or `expert:<variant>`."""
        kind, colon, variant = text.partition(":")
        if colon and not variant:
            raise ValueError(f"baseline {text!r} names no variant after ':'")
        return cls(kind, variant or None)

    @property
    def key(self) -> str:
        return self.variant if self.variant is not None else self.kind

    @property
    def name(self) -> str:
        return self.build().name

    def build(self) -> Actor:
        if self.variant is not None:
            return ExpertActor(self.variant)
        return BASELINES[self.kind]()
