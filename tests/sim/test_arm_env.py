"""The rig twin's envs: scenes compile cleanly, the controller, observations, randomisation."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from drivers.kinematics import top_down_rotation
from drivers.rotations import matrix_from_rot6d, rotation_error
from sim import make_env
from sim.tasks.arm_env import ArmTaskEnv
from sim.tasks.lift import LiftEnv
from sim.tasks.stack import StackEnv
from sim.tasks.tactile_insertion import TactileInsertionEnv

ARM_TASKS = ["tactile_insertion", "lift", "stack"]


@pytest.fixture(scope="module")
def lift() -> Iterator[LiftEnv]:
    env = LiftEnv({"randomize": False})
    yield env
    env.close()


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


def test_observations_match_the_spec(lift: LiftEnv) -> None:
    obs, info = lift.reset(seed=0)
    spec = lift.observation_spec()
    assert set(obs) == set(spec)
    for key, field in spec.items():
        field.check(key, obs[key])
    assert obs["rgb.scene"].shape == (84, 84, 3)
    assert obs["tactile.left"].shape == (60, 80, 3)
    assert set(info) == {"is_success", "force.left_pad", "force.right_pad"}


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


def test_hold_keeps_the_tcp_still(lift: LiftEnv) -> None:
    lift.reset(seed=1)
    start, _ = lift.tcp_pose()
    for _ in range(10):
        lift.step(lift.hold_action())
    end, _ = lift.tcp_pose()
    assert float(np.linalg.norm(end - start)) < 5e-4


def test_absolute_pose_targets_are_reached_at_the_rate_limit(lift: LiftEnv) -> None:
    lift.reset(seed=2)
    start, _ = lift.tcp_pose()
    goal, goal_rot = start + np.array([0.05, -0.04, -0.05]), top_down_rotation(0.6)
    action = lift.pose_action(goal, goal_rot, 0.03)
    lift.step(action)
    moved = lift.privileged_state()["command_pos"] - start
    assert float(np.linalg.norm(moved)) == pytest.approx(lift.config.max_step_m, abs=1e-4)
    for _ in range(15):
        lift.step(action)
    pos, rot = lift.tcp_pose()
    assert float(np.linalg.norm(pos - goal)) < 1e-3
    assert float(np.linalg.norm(rotation_error(goal_rot, rot))) < 0.01
    assert lift.privileged_state()["gripper"][0] == pytest.approx(0.03, abs=1e-3)


def test_delta_actions_move_along_the_commanded_direction() -> None:
    env = LiftEnv({"action_mode": "delta_pose", "randomize": False})
    try:
        obs, _ = env.reset(seed=0)
        assert env.action_space.shape == (7,)
        start = obs["proprio.ee_pose"][:3].astype(np.float64)
        rot0 = matrix_from_rot6d(obs["proprio.ee_pose"][3:])
        step = np.array([0.01, 0.0, 0.0, 0.0, 0.0, 0.1, 0.07], dtype=np.float32)
        for _ in range(3):
            obs, *_ = env.step(step)
        for _ in range(5):
            obs, *_ = env.step(env.hold_action())
        moved = obs["proprio.ee_pose"][:3] - start
        np.testing.assert_allclose(moved, [0.03, 0, 0], atol=1e-3)
        turn = rotation_error(matrix_from_rot6d(obs["proprio.ee_pose"][3:]), rot0)
        np.testing.assert_allclose(turn, [0, 0, 0.3], atol=0.01)
    finally:
        env.close()


def test_targets_are_clipped_to_the_workspace(lift: LiftEnv) -> None:
    lift.reset(seed=0)
    far = lift.pose_action(np.array([0.9, 0.0, -0.5]), top_down_rotation(0.0), 0.07)
    for _ in range(40):
        lift.step(far)
    cmd = lift.privileged_state()["command_pos"]
    assert cmd[0] == pytest.approx(lift.config.workspace_high[0], abs=1e-4)
    assert cmd[2] == pytest.approx(lift.config.workspace_low[2], abs=1e-4)


def test_bad_actions_are_clear_errors(lift: LiftEnv) -> None:
    lift.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        lift.step(np.zeros(7, dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        lift.step(np.full(10, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="degenerate"):
        lift.step(np.zeros(10, dtype=np.float32))


def test_domain_randomisation_is_seeded_and_restored() -> None:
    env = LiftEnv({"randomize": True})
    try:
        env.reset(seed=0)
        colours = env.model.geom_rgba.copy()
        cam = env.model.cam_pos.copy()
        env.reset(seed=1)
        assert not np.allclose(colours, env.model.geom_rgba)
        assert not np.allclose(cam, env.model.cam_pos)
        env.reset(seed=0)
        np.testing.assert_array_equal(colours, env.model.geom_rgba)
        np.testing.assert_array_equal(cam, env.model.cam_pos)
    finally:
        env.close()
    plain = LiftEnv({"randomize": False})
    try:
        plain.reset(seed=0)
        nominal = plain.model.geom_rgba.copy()
        plain.reset(seed=1)
        np.testing.assert_array_equal(nominal, plain.model.geom_rgba)
    finally:
        plain.close()


def test_depth_cameras_and_native_tactile_size() -> None:
    env = StackEnv(
        {"cameras": ("scene",), "depth_cameras": ("scene",), "tactile_size": None, "image_size": 32}
    )
    try:
        obs, _ = env.reset(seed=0)
        assert set(obs) >= {"rgb.scene", "depth.scene"} and "rgb.wrist" not in obs
        depth = obs["depth.scene"]
        assert depth.shape == (32, 32) and depth.dtype == np.float32
        assert 0.1 < float(np.median(depth)) < 2.0  # metres from the camera to the table
        assert obs["tactile.left"].shape == (240, 320, 3)  # GelSight Mini native
    finally:
        env.close()


def test_bad_configs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="tactile_profile"):
        LiftEnv({"tactile_profile": "nope"})
    with pytest.raises(ValueError, match="depth_cameras"):
        LiftEnv({"cameras": ("scene",), "depth_cameras": ("wrist",)})
    with pytest.raises(ValueError, match="whole number of substeps"):
        LiftEnv({"control_hz": 7.0})


def test_render_gives_video_frames() -> None:
    env = LiftEnv({"render_height": 48, "render_width": 64}, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        frame = env.render()
        assert frame is not None and frame.shape == (48, 64, 3)
    finally:
        env.close()
