"""Ray-cast tactile images: exact reference without contact, a blob that grows with depth."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim.tactile import GelShader, TactilePad, pad_normal_force

GEL = 0.0015
HALF = 0.012
SIZE = 24
Rig = tuple[mujoco.MjModel, mujoco.MjData, TactilePad, GelShader]
# A pad (gripper group 1) whose face is the plane z = 0 looking up (+z), and a sphere above it.
_XML = f"""
<mujoco>
  <worldbody>
    <geom name="pad" type="box" group="1" pos="0 0 -0.002" size="{HALF} {HALF} 0.002"/>
    <site name="pad" pos="0 0 0"/>
    <body name="ball" mocap="true" pos="0 0 0.1">
      <geom name="ball" type="sphere" size="0.01"/>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.fixture(scope="module")
def rig() -> Rig:
    model = mujoco.MjModel.from_xml_string(_XML)
    data = mujoco.MjData(model)
    pad = TactilePad(model, "pad", (HALF, HALF), SIZE, GEL)
    return model, data, pad, GelShader(SIZE, pad.pixel_pitch[0], GEL)


def press(
    rig: Rig,
    gap: float,
    x: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sphere bottom `gap` above the pad face (negative: inside it) -> (depth map, image)."""
    model, data, pad, shader = rig
    data.mocap_pos[0] = (x, 0.0, 0.01 + gap)
    mujoco.mj_forward(model, data)
    depth = pad.indentation(model, data)
    return depth, shader.shade(depth)


def test_no_contact_gives_exactly_the_reference_image(rig: Rig) -> None:
    shader = rig[3]
    for gap in (0.05, GEL + 0.0002):
        depth, image = press(rig, gap)
        assert not depth.any()
        np.testing.assert_array_equal(image, shader.reference)
    assert image is not shader.reference  # a copy: callers may keep or modify it


def test_contact_blob_grows_with_depth(rig: Rig) -> None:
    shader = rig[3]
    areas, changed = [], []
    for gap in (0.001, 0.0005, 0.0, -0.0005):
        depth, image = press(rig, gap)
        assert depth.max() <= GEL and depth.min() >= 0.0
        areas.append(int((depth > 0).sum()))
        changed.append(int(np.any(image != shader.reference, axis=-1).sum()))
    assert areas[0] > 0
    assert areas == sorted(areas) and len(set(areas)) == len(areas), areas
    assert changed == sorted(changed) and changed[0] > 0, changed


def test_blob_follows_the_object(rig: Rig) -> None:
    depth_left, _ = press(rig, 0.0, x=-0.006)
    depth_right, _ = press(rig, 0.0, x=0.006)
    cols = np.arange(SIZE)
    centre_left = (depth_left.sum(axis=0) * cols).sum() / depth_left.sum()
    centre_right = (depth_right.sum(axis=0) * cols).sum() / depth_right.sum()
    assert centre_right - centre_left == pytest.approx(0.012 / rig[2].pixel_pitch[0], abs=1.0)


def test_reference_is_smooth_and_not_flat(rig: Rig) -> None:
    reference = rig[3].reference.astype(int)
    assert reference.shape == (SIZE, SIZE, 3)
    assert np.abs(np.diff(reference, axis=0)).max() <= 4
    assert np.abs(np.diff(reference, axis=1)).max() <= 4
    assert reference.std() > 1.0


def test_pad_normal_force_is_zero_without_contact(rig: Rig) -> None:
    model, data, _, _ = rig
    data.mocap_pos[0] = (0.0, 0.0, 0.1)
    mujoco.mj_forward(model, data)
    pad = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "pad")
    assert pad_normal_force(model, data, pad) == 0.0


def test_bad_site_is_refused() -> None:
    model = mujoco.MjModel.from_xml_string(_XML)
    with pytest.raises(ValueError, match="no site"):
        TactilePad(model, "nope", (HALF, HALF), SIZE, GEL)
