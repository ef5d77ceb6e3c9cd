"""TactileInsertion: part variants, socket geometry, the success test and what touch sees."""

from __future__ import annotations

from collections.abc import Iterator

import mujoco
import numpy as np
import pytest

from sim.tasks.tactile_insertion import PARTS, TactileInsertionEnv
from sim.touch_expert import TouchInsertionExpert


@pytest.fixture(scope="module")
def env() -> Iterator[TactileInsertionEnv]:
    made = TactileInsertionEnv({"randomize": False, "tactile_noise": False})
    yield made
    made.close()


def test_three_variants_of_increasing_pin_count() -> None:
    counts = [PARTS[name].pin_count for name in ("switch3", "usb12", "vga17")]
    assert counts == [3, 12, 17]
    for part in PARTS.values():
        xs = [x for x, _ in part.pin_positions()]
        assert max(xs) + part.pin_width / 2 < part.housing[0] / 2  # pins inside the footprint


@pytest.mark.parametrize("part", sorted(PARTS))
def test_the_cavity_is_the_housing_plus_the_clearance(part: str) -> None:
    clearance_mm = 0.4
    env = TactileInsertionEnv({"part": part, "clearance_mm": clearance_mm})
    try:
        m = env.model
        wall_px, wall_nx = m.geom("wall_px"), m.geom("wall_nx")
        wall_py, wall_ny = m.geom("wall_py"), m.geom("wall_ny")
        gap_x = (wall_px.pos[0] - wall_px.size[0]) - (wall_nx.pos[0] + wall_nx.size[0])
        gap_y = (wall_py.pos[1] - wall_py.size[1]) - (wall_ny.pos[1] + wall_ny.size[1])
        housing = PARTS[part].housing
        assert gap_x == pytest.approx(housing[0] + 2 * clearance_mm / 1000)
        assert gap_y == pytest.approx(housing[1] + 2 * clearance_mm / 1000)
        pins = [
            g
            for g in range(m.ngeom)
            if mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g)
            and m.geom(g).name.startswith("pin_")
        ]
        assert len(pins) == PARTS[part].pin_count
    finally:
        env.close()


def test_the_part_starts_grasped_and_touch_sees_it(env: TactileInsertionEnv) -> None:
    obs, info = env.reset(seed=0)
    assert info["force.left_pad"] > 1.0 and info["force.right_pad"] > 1.0
    for sensor, key in zip(env.sensors, ("tactile.left", "tactile.right"), strict=True):
        assert not np.array_equal(obs[key], sensor.reference)
    readings = env.tactile_readings()
    assert all(float(r.depth.max()) > 0 for r in readings)
    state = env.privileged_state()
    start = state["part_pos"].copy()
    for _ in range(10):  # holding still keeps the part in the grasp
        env.step(env.hold_action())
    assert float(np.linalg.norm(env.privileged_state()["part_pos"] - start)) < 1e-3


def test_socket_estimate_error_is_bounded_by_the_config(env: TactileInsertionEnv) -> None:
    errors = []
    for seed in range(20):
        env.reset(seed=seed)
        s = env.privileged_state()
        errors.append(float(np.linalg.norm(s["socket_estimate_xy"] - s["socket_xy"])))
    limit = env.config.socket_error_mm / 1000
    assert max(errors) <= limit + 1e-12
    assert np.mean(errors) > 0.4 * limit  # uniform in the disk: mean radius is 2/3 of it


def test_success_needs_the_housing_inside_the_cavity_and_in_the_grasp(
    env: TactileInsertionEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.reset(seed=0, options={"socket_xy": [0.3, 0.0]})
    assert env.grasped(env._part_geoms) and not env._is_success()
    adr = env._part_qpos  # put the part into the socket by hand, 7 mm deep, out of the grasp
    rim = env.socket_height
    env.data.qpos[adr : adr + 3] = [0.3, 0.0, rim - 0.007 + PARTS["switch3"].housing[2] / 2]
    env.data.qpos[adr + 3 : adr + 7] = [1, 0, 0, 0]
    mujoco.mj_forward(env.model, env.data)
    assert env._insertion_depth() > 0.006 and not env.grasped(env._part_geoms)
    assert not env._is_success()  # let go of and dropped in: not inserted
    monkeypatch.setattr(env, "grasped", lambda geoms: True)
    assert env._is_success()
    env.data.qpos[adr] += 0.01  # same depth beside the cavity: not a success
    mujoco.mj_forward(env.model, env.data)
    assert not env._is_success()


def test_the_socket_estimate_is_an_observation_off_by_the_wrist_cameras_error() -> None:
    """The estimate is what the (mis-mounted) wrist camera gives: socket minus its mount error."""
    env = TactileInsertionEnv()
    cam = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_CAMERA, "wrist")
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        state = env.privileged_state()
        estimate = obs["task.socket_estimate"]
        space = env.observation_space["task.socket_estimate"]  # type: ignore[index]
        assert estimate.dtype == np.float32 and space.contains(estimate)
        np.testing.assert_allclose(estimate[:2], state["socket_estimate_xy"], atol=1e-6)
        assert estimate[2] == pytest.approx(state["socket_yaw"][0], abs=1e-6)
        error = state["socket_xy"] - state["socket_estimate_xy"]
        assert 0 < np.linalg.norm(error) <= env.config.socket_error_mm / 1000
        # the camera sits `error` (world xy at the start pose) away from its nominal mount
        link = env.data.xmat[env.model.cam_bodyid[cam]].reshape(3, 3)
        offset = link @ (env.model.cam_pos[cam] - np.array(env.wrist_mount[0]))
        np.testing.assert_allclose(offset[:2], error, atol=2e-4)  # the arm moved a little since
    env.close()


def _grasp_turn(env: TactileInsertionEnv) -> float:
    """The part's rotation in the grasp about the TCP y axis (the pads' normal), radians."""
    _, tcp_rot = env.tcp_pose()
    rel = tcp_rot.T @ env.data.xmat[env._part_body].reshape(3, 3)  # part axes in the TCP frame
    return float(np.arctan2(rel[0, 2] - rel[2, 0], rel[0, 0] + rel[2, 2]))


def test_the_grasp_holds_the_part_against_repeated_presses_on_the_rim() -> None:
    """MuJoCo's soft friction lets a grasped part creep under sustained torque; with impratio
    100 five presses on the rim turn it 1.2-1.6 mrad each (6-7 mrad each with impratio 10)."""
    env = TactileInsertionEnv()
    expert = TouchInsertionExpert(env, correct=False)  # presses at the estimate, again and again
    obs, _ = env.reset(seed=124)  # estimate 1 mm off the socket: the housing lands on the rim
    expert.reset(124)
    start, presses, loaded = _grasp_turn(env), 0, False
    while presses < 5:
        obs, *_ = env.step(expert.act(obs))
        force = env.task_state()["socket_contact_force"][0]
        presses += loaded and force < 0.5
        loaded = force > 5.0 if not loaded else force >= 0.5
    turn = abs(np.angle(np.exp(1j * (_grasp_turn(env) - start))))
    assert 0.0005 < turn < 0.0125, (turn, presses)  # between 0.1 and 2.5 mrad a press
    env.close()
