"""What every scripted expert shares: the `Expert` protocol, DART noise, TCP yaw helpers.

`sim.experts` holds the task experts and their registries; `sim.touch_expert` the
observation-honest insertion expert. Both build on `ScriptedExpert`.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray


class Expert(Protocol):
    """What the demo collector needs from a scripted expert."""

    def reset(self, seed: int | None = None) -> None: ...

    def act(self, obs: Obs | None = None) -> NDArray[np.float32]: ...

    def perturb(self, action: NDArray[np.float32]) -> NDArray[np.float32]: ...


class ExpertFactory(Protocol):
    """An expert class: built from the env it drives and the DART noise level."""

    def __call__(self, env: gym.Env[Any, Any], noise_std: float = 0.0) -> Expert: ...


Obs = dict[str, NDArray[Any]]
EnvT = TypeVar("EnvT", bound=gym.Env[Any, Any])


class ScriptedExpert(Generic[EnvT]):
    """What every expert shares: the env check, the seeded DART noise, `perturb`."""

    def __init__(self, env: gym.Env[Any, Any], env_type: type[EnvT], noise_std: float) -> None:
        unwrapped = env.unwrapped
        if not isinstance(unwrapped, env_type):
            raise TypeError(
                f"{type(self).__name__} needs a {env_type.__name__}, got {type(unwrapped)}"
            )
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.env: EnvT = unwrapped
        self.noise_std = noise_std
        self._rng = np.random.default_rng()

    def reset(self, seed: int | None = None) -> None:
        """Start an episode; `seed` fixes the perturbation noise."""
        self._rng = np.random.default_rng(seed)

    def act(self, obs: Obs | None = None) -> NDArray[np.float32]:
        raise NotImplementedError

    def perturb(self, action: NDArray[np.float32]) -> NDArray[np.float32]:
        """The action to execute: `action` plus N(0, noise_std^2) on x, y, z (its first three)."""
        out = action.astype(np.float64).copy()
        if self.noise_std > 0:
            out[:3] += self._rng.normal(0.0, self.noise_std, 3)
        return out.astype(np.float32)


def tcp_yaw(rotation: NDArray[np.float64]) -> float:
    """Yaw of a top-down TCP rotation: the angle of its closing (y) axis from world +y."""
    return float(np.arctan2(-rotation[0, 1], rotation[1, 1]))


def wrap_half_turn(angle: float) -> float:
    """`angle` wrapped into [-pi/2, pi/2) (for parts symmetric under a half turn)."""
    return float((angle + np.pi / 2) % np.pi - np.pi / 2)
