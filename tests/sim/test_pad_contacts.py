"""The force on a pad geom, summed over its contacts: a block resting on a pad pushes it down
with its weight at its own centre, whichever order MuJoCo lists the two geoms in."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim.pad_contacts import pad_contacts, pad_normal_force

MASS_KG = 0.2
PAD = '<body><geom name="pad" type="box" size="0.05 0.05 0.01" pos="0 0 -0.01"/></body>'  # fixed
BLOCK = """<body name="block" pos="0.012 -0.007 0.0101"><freejoint/>
  <geom name="block" type="box" size="0.01 0.01 0.01" pos="0 0 0.01" mass="{m}"/></body>"""


def _settled(pad_first: bool) -> tuple[mujoco.MjModel, mujoco.MjData]:
    pieces = [PAD, BLOCK.format(m=MASS_KG)]
    body = "".join(pieces if pad_first else pieces[::-1])
    xml = f'<mujoco><option timestep="0.002"/><worldbody>{body}</worldbody></mujoco>'
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    for _ in range(500):  # 1 s: the block settles on the pad
        mujoco.mj_step(model, data)
    return model, data


@pytest.mark.parametrize("pad_first", [True, False])
def test_a_resting_block_pushes_the_pad_down_with_its_weight_at_its_centre(
    pad_first: bool,
) -> None:
    model, data = _settled(pad_first)
    pad = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "pad")
    assert data.ncon and all((data.contact.geom1[: data.ncon] == pad) == pad_first)
    contacts = pad_contacts(model, data, pad)
    weight = MASS_KG * 9.81
    assert contacts.normal == pytest.approx(weight, rel=0.02)
    assert contacts.force == pytest.approx([0.0, 0.0, -weight], rel=0.02, abs=1e-3)
    assert contacts.centre[:2] == pytest.approx([0.012, -0.007], abs=5e-4)
    # the moment about the world origin of a downward force at the centre: r x F
    expected = np.cross(contacts.centre, contacts.force)
    assert contacts.moment == pytest.approx(expected, abs=1e-4)
    assert not contacts.sliding
    assert pad_normal_force(model, data, pad) == contacts.normal


def test_a_geom_touching_nothing_feels_nothing() -> None:
    model, data = _settled(True)
    block = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "block")
    data.qpos[2] += 0.05  # lifted clear of the pad
    mujoco.mj_forward(model, data)
    contacts = pad_contacts(model, data, block)
    assert contacts.normal == 0.0 and not contacts.force.any() and not contacts.sliding
