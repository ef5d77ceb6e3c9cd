"""`vitac/PegInsertion-v0`: gymnasium API, spec, determinism, action limits, baselines."""

from __future__ import annotations

import warnings
from typing import cast

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pydantic import ValidationError

from sim import PegInsertionConfig, PegInsertionEnv, make_env
from tests.sim.conftest import warning_counts


@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
def test_check_env_passes_without_warnings(render_mode: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = make_env("peg_insertion", {"max_steps": 20}, render_mode=render_mode)
        check_env(env.unwrapped)
        env.close()


def test_observations_match_the_spec(env: PegInsertionEnv) -> None:
    obs, info = env.reset(seed=3)
    spec = env.observation_spec()
    space = cast(gym.spaces.Dict, env.observation_space)
    assert set(obs) == set(spec) == set(space.spaces)
    for key, field in spec.items():
        field.check(key, obs[key])
        assert space[key].shape == field.shape
    assert spec["rgb.scene"].sensor == "scene" and spec["proprio.ee_pos"].units == "m"
    assert obs in env.observation_space
    assert set(info) == {"is_success", "force.left_pad", "force.right_pad"}
    assert env.action_spec()["action"].shape == env.action_space.shape


def test_custom_sizes_follow_the_config() -> None:
    env = PegInsertionEnv({"image_size": 32, "tactile_size": 16})
    obs, _ = env.reset(seed=0)
    assert obs["rgb.scene"].shape == (32, 32, 3) and obs["tactile.left"].shape == (16, 16, 3)
    for key, field in env.observation_spec().items():
        field.check(key, obs[key])
    env.close()


def test_same_seed_gives_identical_trajectories() -> None:
    envs = [PegInsertionEnv(), PegInsertionEnv()]
    rollouts = []
    for env in envs:
        obs, _ = env.reset(seed=11)
        frames = [obs]
        for k in range(4):
            action = np.array([0.33 + 0.01 * k, 0.02, 0.17, 0.0], dtype=np.float32)
            frames.append(env.step(action)[0])
        rollouts.append((frames, env.privileged_state()))
        env.close()
    (frames_a, state_a), (frames_b, state_b) = rollouts
    for obs_a, obs_b in zip(frames_a, frames_b, strict=True):
        for key in obs_a:
            np.testing.assert_array_equal(obs_a[key], obs_b[key], err_msg=key)
    for key in state_a:
        np.testing.assert_array_equal(state_a[key], state_b[key], err_msg=key)


def test_seed_changes_the_layout(env: PegInsertionEnv) -> None:
    env.reset(seed=1)
    first = env.privileged_state()
    env.reset(seed=2)
    second = env.privileged_state()
    assert not np.allclose(first["socket_xy"], second["socket_xy"])
    assert not np.allclose(first["grasp_offset"], second["grasp_offset"])
    home = np.array(env.scene.home[:2])
    assert np.all(np.abs(second["socket_xy"] - home) <= env.config.socket_range_m)


def test_reset_grasps_the_peg(env: PegInsertionEnv) -> None:
    obs, info = env.reset(seed=4)
    state = env.privileged_state()
    assert info["force.left_pad"] > 1.0 and info["force.right_pad"] > 1.0
    assert obs["proprio.gripper"][0] == pytest.approx(env.scene.peg_side, abs=0.002)
    assert state["peg_bottom_z"][0] > state["socket_rim_z"][0] + 0.03  # starts well above
    depth = env.tactile_depth()
    assert all(d.max() > 0 for d in depth.values())  # both pads feel the peg
    assert not np.array_equal(obs["tactile.left"], env.tactile_sensors["left_pad"].reference)
    assert warning_counts(env) == [0] * len(warning_counts(env))


def test_actions_are_clipped_to_the_workspace_and_rate_limited(env: PegInsertionEnv) -> None:
    env.reset(seed=0)
    cfg = env.config
    previous = env.command
    for _ in range(40):
        env.step(np.array([1.0, 1.0, 1.0, 1.0], dtype=np.float32))
        command = env.command
        assert np.linalg.norm(command[:3] - previous[:3]) <= cfg.max_step_m + 1e-12
        assert np.all(command[:3] <= cfg.workspace_high) and command[3] <= cfg.max_width_m
        previous = command
    np.testing.assert_allclose(command[:3], cfg.workspace_high)  # it got there, no further
    assert command[3] == cfg.max_width_m
    assert np.all(env.privileged_state()["hand_pos"] <= np.array(cfg.workspace_high) + 0.002)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.3, 0.2, 0.0], dtype=np.float32))


def test_truncates_at_max_steps() -> None:
    env = PegInsertionEnv(PegInsertionConfig(max_steps=3))
    env.reset(seed=0)
    outcomes = [env.step(env.hold_action())[2:4] for _ in range(3)]
    assert outcomes == [(False, False), (False, False), (False, True)]
    env.close()


@pytest.mark.parametrize("policy", ["zero", "hold"])
def test_trivial_policies_do_not_succeed(policy: str) -> None:
    env = PegInsertionEnv({"max_steps": 25})
    for seed in range(3):
        env.reset(seed=seed)
        done, success = False, False
        while not done:
            action = np.zeros(4, np.float32) if policy == "zero" else env.hold_action()
            _, reward, terminated, truncated, info = env.step(action)
            success = success or info["is_success"] or reward > 0
            done = terminated or truncated
        assert not success and truncated
    assert warning_counts(env) == [0] * len(warning_counts(env))
    env.close()


def test_reset_options(env: PegInsertionEnv) -> None:
    env.reset(seed=0, options={"socket_xy": (0.31, -0.04)})
    np.testing.assert_allclose(env.privileged_state()["socket_xy"], (0.31, -0.04))
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"socket": 1})


def test_render_and_close() -> None:
    env = gym.make("vitac/PegInsertion-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.shape == (240, 320, 3)
    assert frame.dtype == np.uint8 and frame.std() > 5
    env.close()
    env.close()  # closing twice is allowed
    with pytest.raises(RuntimeError, match="closed"):
        env.unwrapped.step(np.zeros(4, np.float32))
    plain = PegInsertionEnv()
    plain.reset(seed=0)
    assert plain.render() is None
    plain.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"clearance_mm": 0.0}, "clearance_mm"),
        ({"unknown_key": 1}, "unknown_key"),
        ({"control_hz": 7.0}, "whole number"),
        ({"workspace_low": (0.5, -0.1, 0.1), "workspace_high": (0.4, 0.1, 0.3)}, "below"),
        ({"tactile_profile": "gelsight"}, r"unknown tactile profile 'gelsight'.*digit"),
    ],
)
def test_bad_config_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PegInsertionConfig.model_validate(overrides)


def test_tactile_profile_and_gel_thickness_follow_the_config() -> None:
    env = PegInsertionEnv({"tactile_profile": "digit", "gel_thickness_mm": 0.5, "tactile_size": 16})
    obs, _ = env.reset(seed=0)
    sensor = env.tactile_sensors["left_pad"]
    assert sensor.profile.name == "digit" and sensor.profile.gel_thickness_m == 0.0005
    assert obs["tactile.left"].shape == (16, 16, 3)
    assert 0.0001 < env.tactile_depth()["left_pad"].max() <= np.float32(0.0005)  # within the gel
    env.close()
