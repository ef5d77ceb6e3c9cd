"""`sim.TASKS` lists every built-in task, registered with gymnasium; `make_env` validates."""

from __future__ import annotations

import gymnasium as gym
import pytest
from pydantic import BaseModel, ValidationError

from sim import TASKS, PegInsertionConfig, PegInsertionEnv, make_env


class _OtherConfig(BaseModel):
    pass


def test_tasks_are_registered_with_gymnasium() -> None:
    assert set(TASKS) == {
        "peg_insertion",
        "tactile_insertion",
        "lift",
        "stack",
        "robosuite_lift",
        "robosuite_stack",
        "robosuite_square",
    }
    for entry in TASKS.values():
        assert entry.gym_id in gym.registry


def test_make_env_accepts_a_dict_or_the_config_model() -> None:
    for config in ({"clearance_mm": 2.0}, PegInsertionConfig(clearance_mm=2.0)):
        env = make_env("peg_insertion", config)
        assert isinstance(env.unwrapped, PegInsertionEnv)
        assert env.unwrapped.config.clearance_mm == 2.0
        assert env.spec is not None and env.spec.id == "vitac/PegInsertion-v0"
        env.close()


def test_gym_make_takes_the_config_keyword() -> None:
    env = gym.make("vitac/PegInsertion-v0", config={"max_steps": 7})
    assert env.unwrapped.config.max_steps == 7  # type: ignore[attr-defined]
    env.close()


def test_make_env_errors_name_the_problem() -> None:
    with pytest.raises(KeyError, match="peg_insertion"):
        make_env("nope")
    with pytest.raises(ValidationError, match="clearance_mm"):
        make_env("peg_insertion", {"clearance_mm": -1.0})
    with pytest.raises(TypeError, match="PegInsertionConfig"):
        make_env("peg_insertion", _OtherConfig())
