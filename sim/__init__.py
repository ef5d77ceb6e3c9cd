"""MuJoCo world: the rig twin, tasks as gymnasium envs, tactile rendering, scripted experts.

Every built-in task is listed in `TASKS` below and registered with gymnasium here, explicitly,
when `sim` is imported (`gym.make("vitac/PegInsertion-v0", config={...})` then works).
`make_env(name, config)` validates the config and builds the env through gymnasium.

Offscreen rendering defaults to EGL (`MUJOCO_GL=egl`), set before MuJoCo is first imported;
an explicit `MUJOCO_GL` in the environment wins. See `sim.gl` for why Triton's library is
loaded here too.
"""

from __future__ import annotations

from sim.gl import prepare_offscreen_gl

prepare_offscreen_gl()

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from pydantic import BaseModel

from sim.experts import (
    EXPERTS,
    PegInsertionExpert,
    PickExpert,
    StackExpert,
    TactileInsertionExpert,
)
from sim.robosuite_adapter import (
    RobosuiteLiftConfig,
    RobosuiteLiftEnv,
    RobosuiteSquareConfig,
    RobosuiteSquareEnv,
    RobosuiteStackConfig,
    RobosuiteStackEnv,
)
from sim.tasks.lift import LiftConfig, LiftEnv
from sim.tasks.peg_insertion import PegInsertionEnv
from sim.tasks.peg_insertion_config import PegInsertionConfig
from sim.tasks.stack import StackConfig, StackEnv
from sim.tasks.tactile_insertion import TactileInsertionConfig, TactileInsertionEnv


@dataclass(frozen=True)
class TaskEntry:
    """A built-in task: its gymnasium id, env class and config model."""

    gym_id: str
    env_cls: type[gym.Env[Any, Any]]
    config_cls: type[BaseModel]


TASKS: dict[str, TaskEntry] = {
    # the rig twin: 6-DoF tactile arm (sim.tasks.arm_env)
    "tactile_insertion": TaskEntry(
        "vitac/TactileInsertion-v0", TactileInsertionEnv, TactileInsertionConfig
    ),
    "lift": TaskEntry("vitac/Lift-v0", LiftEnv, LiftConfig),
    "stack": TaskEntry("vitac/Stack-v0", StackEnv, StackConfig),
    # a gantry gripper with tactile pads: the quick-to-learn task of the demo
    "peg_insertion": TaskEntry("vitac/PegInsertion-v0", PegInsertionEnv, PegInsertionConfig),
    # robosuite tasks: need the `robosuite` extra, in its own venv (`make robosuite-venv`)
    "robosuite_lift": TaskEntry("vitac/RobosuiteLift-v0", RobosuiteLiftEnv, RobosuiteLiftConfig),
    "robosuite_stack": TaskEntry(
        "vitac/RobosuiteStack-v0", RobosuiteStackEnv, RobosuiteStackConfig
    ),
    "robosuite_square": TaskEntry(
        "vitac/RobosuiteSquare-v0", RobosuiteSquareEnv, RobosuiteSquareConfig
    ),
}


def _register_with_gymnasium(tasks: Mapping[str, TaskEntry]) -> None:
    for entry in tasks.values():
        if entry.gym_id not in gym.registry:
            entry_point = f"{entry.env_cls.__module__}:{entry.env_cls.__qualname__}"
            gym.register(id=entry.gym_id, entry_point=entry_point)


_register_with_gymnasium(TASKS)


def make_env(
    name: str,
    config: Mapping[str, Any] | BaseModel | None = None,
    render_mode: str | None = None,
) -> gym.Env[Any, Any]:
    """Build task `name` of `TASKS` with `config` (a dict or the task's config model).

    Raises KeyError for an unknown task and pydantic's ValidationError (naming the key and its
    allowed range) for a bad config.
    """
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; available: {sorted(TASKS)}")
    entry = TASKS[name]
    if isinstance(config, BaseModel) and not isinstance(config, entry.config_cls):
        raise TypeError(f"task {name!r} takes a {entry.config_cls.__name__}, got {type(config)}")
    if not isinstance(config, entry.config_cls):
        config = entry.config_cls.model_validate(dict(config or {}))
    return gym.make(entry.gym_id, config=config, render_mode=render_mode)


__all__ = [
    "EXPERTS",
    "TASKS",
    "LiftConfig",
    "LiftEnv",
    "PegInsertionConfig",
    "PegInsertionEnv",
    "PegInsertionExpert",
    "PickExpert",
    "StackConfig",
    "StackEnv",
    "StackExpert",
    "TactileInsertionConfig",
    "TactileInsertionEnv",
    "TactileInsertionExpert",
    "TaskEntry",
    "make_env",
]
