"""Built-in tasks: one module per gymnasium env (and one for its config where it is large).

The arm tasks extend `arm_env.ArmTaskEnv`, which composes the rig's parts: `arm_config`
(settings and scene), `arm_control` (actions and controller), `arm_observation` (cameras,
tactile pads, proprioception) and `randomize` (domain randomisation).

Every task env implements `TaskEnv` on its unwrapped env, which is all that collectors,
evaluators and baselines outside sim/ rely on. The helpers below are what every task env
(including the robosuite adapter) shares: config and render-mode checks and the
observation space of a spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray
from pydantic import BaseModel

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


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def validated_config(
    config_cls: type[ConfigT], config: ConfigT | Mapping[str, Any] | None, env_name: str
) -> ConfigT:
    """`config` as a `config_cls` (validating a dict); TypeError for another config model."""
    if isinstance(config, config_cls):
        return config
    if isinstance(config, BaseModel):
        raise TypeError(f"{env_name} takes a {config_cls.__name__}, got {type(config).__name__}")
    return config_cls.model_validate(dict(config or {}))


def check_render_mode(render_mode: str | None, metadata: Mapping[str, Any]) -> None:
    """ValueError unless `render_mode` is None or one of `metadata["render_modes"]`."""
    if render_mode is not None and render_mode not in metadata["render_modes"]:
        raise ValueError(f"render_mode {render_mode!r} not in {metadata['render_modes']}")


def check_control_settings(
    workspace_low: Sequence[float],
    workspace_high: Sequence[float],
    control_hz: float,
    physics_dt: float,
) -> None:
    """The config checks every task shares: a proper workspace box, whole physics substeps."""
    if not all(lo < hi for lo, hi in zip(workspace_low, workspace_high, strict=True)):
        raise ValueError(
            f"workspace_low {tuple(workspace_low)} must be below workspace_high "
            f"{tuple(workspace_high)} on every axis"
        )
    ratio = 1.0 / (control_hz * physics_dt)
    if abs(ratio - round(ratio)) > 1e-6:
        raise ValueError(
            f"1 / (control_hz * physics_dt) = {ratio:.4f} must be a whole number of substeps"
        )


_DIVERGENCE_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQACC,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQPOS,
)


def physics_diverged(data: mujoco.MjData) -> bool:
    """Whether MuJoCo flagged diverging physics since the last mj_resetData.

    MuJoCo then resets the state itself, so an env must end the episode rather than carry on
    from the reset state as if nothing happened.
    """
    return any(int(data.warning[w].number) > 0 for w in _DIVERGENCE_WARNINGS)


def observation_space(
    spec: Mapping[str, FieldSpec], bounds: Mapping[str, tuple[NDArray[Any], NDArray[Any]]]
) -> spaces.Dict:
    """gymnasium space of an observation spec: images over their integer type's range
    (uint8 colour, uint16 depth in millimetres), every other key float32 within its
    `bounds` (low, high)."""
    out: dict[str, spaces.Space[Any]] = {}
    for key, field in spec.items():
        if field.is_image:
            dtype = field.np_dtype
            out[key] = spaces.Box(0, np.iinfo(dtype).max, shape=field.shape, dtype=dtype)
        else:
            low, high = bounds[key]
            out[key] = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
    return spaces.Dict(out)
