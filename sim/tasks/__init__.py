"""Built-in tasks: one module per gymnasium env (and one for its config where it is large).

Every task env implements `TaskEnv` on its unwrapped env, which is all that collectors,
evaluators and baselines outside sim/ rely on.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from drivers.spec import FieldSpec


@runtime_checkable
class TaskEnv(Protocol):
    """What every vitac task env offers beyond gymnasium's API."""

    @property
    def control_hz(self) -> float: ...

    def observation_spec(self) -> dict[str, FieldSpec]:
        """Key -> per-frame layout of each observation (the episode store's schema)."""
        ...

    def action_spec(self) -> dict[str, FieldSpec]:
        """`{"action": FieldSpec}`: the action vector's layout."""
        ...

    def hold_action(self) -> NDArray[np.float32]:
        """The action that keeps the robot where it is commanded to be (zero motion)."""
        ...


def task_env(env: gym.Env[Any, Any]) -> TaskEnv:
    """The unwrapped env as a `TaskEnv`; TypeError for an env that is not a vitac task."""
    unwrapped = env.unwrapped
    if not isinstance(unwrapped, TaskEnv):
        raise TypeError(f"{type(unwrapped).__name__} is not a vitac task env")
    return unwrapped
