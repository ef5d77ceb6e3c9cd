"""The rig twin's envs (sim.tasks.arm_env): scenes compile cleanly, check_env, seeding, video.

The controller, observations, randomisation and config have their own test modules
(test_arm_control, test_arm_observation, test_randomize, test_arm_config).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim import make_env
from sim.sensor_unit import pool_unit
from sim.tasks.arm_env import ArmTaskEnv
from sim.tasks.lift import LiftEnv
from sim.tasks.tactile_insertion import TactileInsertionEnv

ARM_TASKS = ["tactile_insertion", "lift", "stack"]


def warning_counts(env: ArmTaskEnv) -> list[int]:
    return [int(w.number) for w in env.data.warning]


@pytest.mark.parametrize(
    ("task", "params"),
    [
        ("tactile_insertion", {"part": "switch3"}),
        ("tactile_insertion", {"part": "usb12"}),
        ("tactile_insertion", {"part": "vga17", "clearance_mm": 0.2}),
        ("lift", {}),
        ("stack", {}),
    ],
)
def test_scenes_compile_and_step_without_mujoco_warnings(
    task: str, params: dict[str, object]
) -> None:
    env = make_env(task, params).unwrapped
    assert isinstance(env, ArmTaskEnv)
    try:
        for seed in range(2):
            env.reset(seed=seed)
            for _ in range(5):
                env.step(env.hold_action())
            assert warning_counts(env) == [0] * len(env.data.warning)
            assert np.all(np.isfinite(env.data.qpos))
    finally:
        env.close()


@pytest.mark.parametrize("task", ARM_TASKS)
def test_check_env_passes_with_warnings_as_errors(task: str) -> None:
    env = make_env(task)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_same_seed_same_episode_other_seed_other_layout() -> None:
    env = TactileInsertionEnv()
    try:
        first, _ = env.reset(seed=3)
        state = env.privileged_state()
        again, _ = env.reset(seed=3)
        for key in first:
            np.testing.assert_array_equal(first[key], again[key], err_msg=key)
        env.reset(seed=4)
        assert not np.allclose(env.privileged_state()["socket_xy"], state["socket_xy"])
    finally:
        env.close()


def test_render_gives_video_frames() -> None:
    env = LiftEnv({"render_height": 48, "render_width": 64}, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        frame = env.render()
        assert frame is not None and frame.shape == (48, 64, 3)
    finally:
        env.close()


def test_sensor_units_change_the_pads_alone_and_are_drawn_from_the_seed() -> None:
    nominal = TactileInsertionEnv()
    units = TactileInsertionEnv({"tactile_units": 8})
    other_lab = TactileInsertionEnv({"tactile_units": 8, "tactile_unit_seed": 1})
    try:
        plain, _ = nominal.reset(seed=5)
        assert nominal.tactile_unit == -1
        seen = units.reset(seed=5)[0]
        for key in plain:  # the scene draws the same with units as without
            same = np.array_equal(plain[key], seen[key])
            assert same != key.startswith("tactile."), key
        np.testing.assert_array_equal(
            nominal.privileged_state()["socket_xy"], units.privileged_state()["socket_xy"]
        )
        unit = units.tactile_unit
        pads = tuple(sensor.unit for sensor in units.sensors)
        assert 0 <= unit < 8 and pads == pool_unit(0, unit, 1.0)
        again, _ = units.reset(seed=5)
        assert units.tactile_unit == unit
        np.testing.assert_array_equal(again["tactile.left"], seen["tactile.left"])
        drawn = set()
        for seed in range(12):
            units.reset(seed=seed)
            drawn.add(units.tactile_unit)
        assert len(drawn) >= 4  # each episode its own gripper, from a pool of 8
        other_lab.reset(seed=5)
        assert other_lab.tactile_unit == unit  # the same draw, another pool's units
        assert tuple(s.unit for s in other_lab.sensors) == pool_unit(1, unit, 1.0) != pads
    finally:
        for env in (nominal, units, other_lab):
            env.close()
