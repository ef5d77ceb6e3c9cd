"""The helpers every task env shares (sim/tasks/__init__.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.spec import FieldSpec
from sim import make_env
from sim.tasks import (
    check_control_settings,
    check_render_mode,
    observation_space,
    physics_diverged,
    task_env,
    validated_config,
)
from sim.tasks.lift import LiftConfig
from sim.tasks.stack import StackConfig


def test_validated_config_takes_dicts_and_its_own_model_only() -> None:
    assert validated_config(LiftConfig, None, "LiftEnv") == LiftConfig()
    assert validated_config(LiftConfig, {"max_steps": 5}, "LiftEnv").max_steps == 5
    own = LiftConfig(max_steps=7)
    assert validated_config(LiftConfig, own, "LiftEnv") is own
    with pytest.raises(TypeError, match="LiftEnv takes a LiftConfig, got StackConfig"):
        validated_config(LiftConfig, StackConfig(), "LiftEnv")


def test_render_mode_and_control_checks_name_the_problem() -> None:
    check_render_mode(None, {"render_modes": ["rgb_array"]})
    with pytest.raises(ValueError, match=r"'human' not in \['rgb_array'\]"):
        check_render_mode("human", {"render_modes": ["rgb_array"]})
    check_control_settings((0, 0, 0), (1, 1, 1), 10.0, 0.002)
    with pytest.raises(ValueError, match="below workspace_high"):
        check_control_settings((0, 2, 0), (1, 1, 1), 10.0, 0.002)
    with pytest.raises(ValueError, match="whole number of substeps"):
        check_control_settings((0, 0, 0), (1, 1, 1), 30.0, 0.002)


def test_observation_space_of_a_spec() -> None:
    spec = {
        "rgb.scene": FieldSpec(shape=(8, 8, 3), dtype="uint8", units="rgb", sensor="scene"),
        "depth.scene": FieldSpec(shape=(8, 8), dtype="uint16", units="mm", sensor="scene"),
        "proprio.x": FieldSpec(shape=(2,), dtype="float32", units="m", sensor="x"),
    }
    space = observation_space(spec, {"proprio.x": (np.array([-1.0, 0.0]), np.array([1.0, 2.0]))})
    assert space["rgb.scene"].dtype == np.uint8 and space["rgb.scene"].shape == (8, 8, 3)
    assert space["depth.scene"].contains(np.full((8, 8), 3000, np.uint16))
    assert space["depth.scene"].high.max() == 65535
    assert not space["proprio.x"].contains(np.array([0.0, 3.0], np.float32))
    with pytest.raises(KeyError):
        observation_space(spec, {})


@pytest.mark.parametrize("task", ["peg_insertion", "lift"])
def test_diverged_physics_ends_the_episode(
    task: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # MuJoCo appends its warning to ./MUJOCO_LOG.TXT
    env = make_env(task)
    try:
        env.reset(seed=0)
        unwrapped = env.unwrapped
        hold = task_env(env).hold_action()
        unwrapped.data.qvel[:] = 1e12  # MuJoCo resets this state
        _, _, terminated, truncated, info = env.step(hold)
        assert physics_diverged(unwrapped.data)
        assert truncated and not terminated and info["sim_unstable"] is True
        env.reset(seed=0)
        *_, truncated, info = env.step(task_env(env).hold_action())
        assert not truncated and "sim_unstable" not in info
    finally:
        env.close()
