"""robosuite adapter: vitac's spec and actions on Lift, Stack and NutAssemblySquare.

Tests marked `robosuite` run in .venv-robosuite (`make test-robosuite`); in the main venv they
skip, and the tests below them check the missing-robosuite error and the configs instead.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from typing import Any, cast

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pydantic import ValidationError

from policies import BCPolicy, PolicyIO
from sim import TASKS, make_env
from sim.robosuite_adapter import (
    PANDA_MAX_OPENING_M,
    RobosuiteEnv,
    RobosuiteLiftConfig,
    RobosuiteLiftEnv,
    RobosuiteNotInstalledError,
    RobosuiteSquareConfig,
    RobosuiteStackConfig,
    action_spec,
    observation_spec,
)
from sim.tasks import task_env
from tests.policies.conftest import tiny_config
from tests.robosuite_marks import needs_robosuite

ROBOSUITE_TASKS = {
    "robosuite_lift": ("vitac/RobosuiteLift-v0", "Lift"),
    "robosuite_stack": ("vitac/RobosuiteStack-v0", "Stack"),
    "robosuite_square": ("vitac/RobosuiteSquare-v0", "NutAssemblySquare"),
}


def check_obs(env: RobosuiteEnv, obs: dict[str, np.ndarray]) -> None:
    spec = env.observation_spec()
    assert set(obs) == set(spec)
    for key, field in spec.items():
        field.check(key, obs[key])
    assert obs in env.observation_space


@pytest.fixture(scope="module")
def lift() -> Iterator[RobosuiteLiftEnv]:
    env = RobosuiteLiftEnv()
    yield env
    env.close()


@pytest.fixture(scope="module")
def lift_delta() -> Iterator[RobosuiteLiftEnv]:
    env = RobosuiteLiftEnv({"action_mode": "delta_pose"})
    yield env
    env.close()


def settle(env: RobosuiteEnv, action: np.ndarray, steps: int) -> dict[str, np.ndarray]:
    obs: dict[str, np.ndarray] = {}
    for _ in range(steps):
        obs = env.step(action)[0]
    return obs


# ---------------------------------------------------------------------- with robosuite
@needs_robosuite
@pytest.mark.parametrize("name", sorted(ROBOSUITE_TASKS))
def test_each_task_makes_resets_and_steps(name: str) -> None:
    env = make_env(name, {"horizon": 3})
    assert env.spec is not None and env.spec.id == ROBOSUITE_TASKS[name][0]
    unwrapped = cast(RobosuiteEnv, env.unwrapped)
    assert unwrapped.suite_env.__class__.__name__ == ROBOSUITE_TASKS[name][1]
    task = task_env(env)  # the TaskEnv protocol
    assert task.control_hz == 20.0
    assert task.action_spec()["action"].shape == env.action_space.shape == (10,)
    obs, info = env.reset(seed=0)
    check_obs(unwrapped, obs)
    assert info == {"is_success": False}
    for k in range(3):
        obs, reward, terminated, truncated, info = env.step(task.hold_action())
        check_obs(unwrapped, obs)
        assert (reward, terminated, info["is_success"]) == (0.0, False, False)
        assert truncated == (k == 2)  # horizon 3
    env.close()


@needs_robosuite
def test_check_env_passes_and_renders_upright() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = make_env("robosuite_lift", {"horizon": 5}, render_mode="rgb_array").unwrapped
        check_env(env)
    env.reset(seed=1)
    frame = env.render()
    assert frame is not None and frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert _top_bottom_brightness(frame)[1] > _top_bottom_brightness(frame)[0] + 40
    env.close()


@needs_robosuite
def test_images_are_upright(lift: RobosuiteLiftEnv) -> None:
    obs, _ = lift.reset(seed=0)
    # agentview looks at the robot across the table: floor and robot at the top, white table
    # at the bottom; an upside-down image has them the other way round.
    top, bottom = _top_bottom_brightness(obs["rgb.scene"])
    assert bottom > top + 40
    # the wrist camera sees the fingers (dark) at the bottom and the table (white) above
    top, bottom = _top_bottom_brightness(obs["rgb.wrist"])
    assert top > bottom + 40


@needs_robosuite
def test_images_do_not_depend_on_other_envs(lift: RobosuiteLiftEnv) -> None:
    before, _ = lift.reset(seed=6)
    other = RobosuiteLiftEnv({"image_size": 32})  # its GL context becomes current
    other.reset(seed=0)
    after, _ = lift.reset(seed=6)
    other.close()  # leaves no context current
    closed, _ = lift.reset(seed=6)
    for key in ("rgb.scene", "rgb.wrist"):
        np.testing.assert_array_equal(before[key], after[key])
        np.testing.assert_array_equal(before[key], closed[key])


@needs_robosuite
def test_hold_action_keeps_the_arm_still(lift: RobosuiteLiftEnv) -> None:
    obs, _ = lift.reset(seed=2)
    start = obs["proprio.ee_pose"].copy()
    for _ in range(10):
        obs = lift.step(lift.hold_action())[0]
    assert np.abs(obs["proprio.ee_pose"][:3] - start[:3]).max() < 0.003
    assert np.abs(obs["proprio.ee_pose"][3:] - start[3:]).max() < 0.01


@needs_robosuite
def test_abs_pose_target_is_approached(lift: RobosuiteLiftEnv) -> None:
    obs, _ = lift.reset(seed=3)
    action = lift.hold_action()
    target = obs["proprio.ee_pose"][:3] + np.array([0.03, -0.04, 0.0], dtype=np.float32)
    action[:3] = target  # 5 cm away
    obs = settle(lift, action, 20)
    assert np.linalg.norm(obs["proprio.ee_pose"][:3] - target) < 0.01
    np.testing.assert_allclose(lift.hold_action(), action, atol=1e-6)  # the command is held


@needs_robosuite
def test_delta_action_moves_the_arm_in_x(lift_delta: RobosuiteLiftEnv) -> None:
    obs, _ = lift_delta.reset(seed=4)
    start = obs["proprio.ee_pose"][:3].copy()
    hold = lift_delta.hold_action()
    assert hold.shape == (7,) and np.all(hold[:6] == 0.0)
    step = hold.copy()
    step[0] = 0.02  # +2 cm in x
    lift_delta.step(step)
    obs = settle(lift_delta, hold, 10)
    moved = obs["proprio.ee_pose"][:3] - start
    assert 0.015 < moved[0] < 0.025, moved
    assert np.abs(moved[1:]).max() < 0.005, moved


@needs_robosuite
def test_gripper_width_opens_and_closes_the_fingers(lift: RobosuiteLiftEnv) -> None:
    lift.reset(seed=5)
    action = lift.hold_action()
    for width, low, high in [
        (0.0, 0.0, 0.005),
        (PANDA_MAX_OPENING_M, 0.07, 0.081),
        (0.05, 0.045, 0.055),
    ]:
        action[9] = width
        opening = float(settle(lift, action, 15)["proprio.gripper"][0])
        assert low <= opening <= high, (width, opening)


@needs_robosuite
def test_same_seed_same_start_across_envs(
    lift: RobosuiteLiftEnv, lift_delta: RobosuiteLiftEnv
) -> None:
    lift.step(lift.hold_action())  # a used env and another instance agree
    a, _ = lift.reset(seed=7)
    b, _ = lift_delta.reset(seed=7)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    c, _ = lift.reset(seed=8)
    assert not np.array_equal(a["rgb.scene"], c["rgb.scene"])  # the cube moved
    assert not np.array_equal(a["proprio.joints"], c["proprio.joints"])  # initial joint noise


@needs_robosuite
def test_success_gives_reward_and_terminates(
    lift: RobosuiteLiftEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    lift.reset(seed=9)
    monkeypatch.setattr(lift.suite_env, "_check_success", lambda: True)
    _, reward, terminated, truncated, info = lift.step(lift.hold_action())
    assert (reward, terminated, truncated, info["is_success"]) == (1.0, True, False, True)


@needs_robosuite
def test_bad_actions_are_refused(lift: RobosuiteLiftEnv) -> None:
    lift.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        lift.step(np.zeros(7, dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        lift.step(np.full(10, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="unknown reset options"):
        lift.reset(options={"cube_xy": (0, 0)})


@needs_robosuite
def test_a_vitac_policy_drives_the_env(lift: RobosuiteLiftEnv) -> None:
    """The same policy code path as on the vitac rig: spec -> PolicyIO -> select_action -> step."""
    spec, act = lift.observation_spec(), lift.action_spec()["action"]
    io = PolicyIO(
        obs_shapes={key: field.shape for key, field in spec.items()},
        image_keys=[key for key, field in spec.items() if field.is_image],
        action_dim=act.shape[0],
    )
    policy = BCPolicy(tiny_config(), io)
    obs, _ = lift.reset(seed=0)
    rng = np.random.default_rng(0)
    hold = lift.hold_action()
    data: dict[str, Any] = {key: np.stack([obs[key]] * 8) for key in io.lowdim_keys}
    data["action"] = hold + rng.normal(0.0, 0.01, (8, act.shape[0]))  # actions near the pose
    policy.fit_normalizer(data)
    policy.eval()
    policy.reset()
    for _ in range(3):
        action = policy.select_action(obs)
        assert action.shape == act.shape and action.dtype == act.np_dtype
        obs = lift.step(action)[0]
        check_obs(lift, obs)


@needs_robosuite
def test_mujoco_too_new_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import mujoco

    monkeypatch.setattr(mujoco, "__version__", "3.10.0")
    with pytest.raises(RobosuiteNotInstalledError, match=r"mujoco 3\.10\.0.*make robosuite-venv"):
        RobosuiteLiftEnv()


# ---------------------------------------------------------------------- without robosuite
def test_missing_robosuite_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "robosuite", None)  # as in the main venv
    for name in ROBOSUITE_TASKS:
        with pytest.raises(RobosuiteNotInstalledError) as caught:
            make_env(name)
        message = str(caught.value)
        for hint in ("make robosuite-venv", ".[robosuite]", "numpy<2", "mujoco<3.10"):
            assert hint in message
    with pytest.raises(RobosuiteNotInstalledError, match="make robosuite-venv"):
        gym.make("vitac/RobosuiteStack-v0")


def test_tasks_are_registered_with_their_configs() -> None:
    for name, (gym_id, env_name) in ROBOSUITE_TASKS.items():
        entry = TASKS[name]
        assert entry.gym_id == gym_id and gym_id in gym.registry
        config = entry.config_cls()
        assert isinstance(
            config, RobosuiteLiftConfig | RobosuiteStackConfig | RobosuiteSquareConfig
        )
        assert config.env_name == env_name


def test_configs_are_validated_before_robosuite_is_needed() -> None:
    with pytest.raises(ValidationError, match="image_size"):
        make_env("robosuite_lift", {"image_size": 8})
    with pytest.raises(ValidationError, match="env_name"):
        make_env("robosuite_lift", {"env_name": "Stack"})
    with pytest.raises(ValidationError, match="control_hz"):
        RobosuiteLiftConfig(control_hz=30.0)  # not a whole number of 2 ms physics steps
    with pytest.raises(ValidationError, match="extra"):
        RobosuiteLiftConfig.model_validate({"shadow": True})


def test_specs_follow_the_config() -> None:
    spec = observation_spec(RobosuiteLiftConfig(image_size=64))
    assert spec["rgb.scene"].shape == spec["rgb.wrist"].shape == (64, 64, 3)
    assert spec["rgb.scene"].sensor == "agentview"
    assert spec["proprio.ee_pose"].shape == (9,) and spec["proprio.joints"].shape == (7,)
    assert spec["proprio.gripper"].units == "m"
    assert action_spec(RobosuiteLiftConfig())["action"].shape == (10,)
    assert action_spec(RobosuiteLiftConfig(action_mode="delta_pose"))["action"].shape == (7,)


def _top_bottom_brightness(image: np.ndarray) -> tuple[float, float]:
    """Mean brightness of the top and bottom sixths of an (H, W, 3) image."""
    band = image.shape[0] // 6
    return float(image[:band].mean()), float(image[-band:].mean())
