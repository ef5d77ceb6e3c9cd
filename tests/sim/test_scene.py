"""The peg-insertion MJCF compiles for a range of parameters and steps without MuJoCo warnings."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim.scene import PADS, SCENE_CAMERA, PegInsertionScene, look_at_xyaxes


@pytest.mark.parametrize("clearance", [0.0005, 0.004, 0.01])
def test_scene_compiles_and_steps_without_warnings(clearance: float) -> None:
    scene = PegInsertionScene(clearance=clearance)
    model = mujoco.MjModel.from_xml_string(scene.to_xml())
    data = mujoco.MjData(model)
    # hold the home pose with the gripper squeezing the peg, let it all settle
    data.ctrl[:3] = scene.home
    data.ctrl[3:] = 0.0
    for _ in range(500):
        mujoco.mj_step(model, data)
    assert [w.number for w in data.warning] == [0] * len(data.warning)
    assert np.all(np.isfinite(data.qpos))
    for name in (*PADS, SCENE_CAMERA):
        kind = mujoco.mjtObj.mjOBJ_CAMERA if name == SCENE_CAMERA else mujoco.mjtObj.mjOBJ_SITE
        assert mujoco.mj_name2id(model, kind, name) >= 0
    # the hole is the peg plus the clearance on each side
    assert scene.hole_half == pytest.approx(scene.peg_side / 2 + clearance)


def test_hand_joints_are_world_coordinates() -> None:
    scene = PegInsertionScene()
    model = mujoco.MjModel.from_xml_string(scene.to_xml())
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    hand = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "hand")
    np.testing.assert_allclose(data.xpos[hand], scene.home)
    np.testing.assert_allclose(data.qpos[:3], scene.home)


def test_look_at_gives_a_right_handed_orthonormal_frame() -> None:
    pos, target = (0.6, -0.2, 0.3), (0.35, 0.0, 0.05)
    axes = np.array(look_at_xyaxes(pos, target)).reshape(2, 3)
    x, y = axes
    z = np.cross(x, y)
    forward = np.subtract(target, pos) / np.linalg.norm(np.subtract(target, pos))
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(-z, forward, atol=1e-12)  # cameras look along -z
    assert y[2] > 0  # world up is up in the image
