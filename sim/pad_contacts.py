"""What the other geoms exert on a pad geom, summed over its contacts: the forces a tactile pad
(`sim.tactile`) turns into an image, and a task's grip check reads.

MuJoCo's contact frame has its normal pointing from geom1 to geom2 and the force acting on
geom2, so a contact's force changes sign where the pad is geom1 (`pad_contacts` undoes it:
the result is the force on the pad, whichever order the contact lists them in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PadContacts:
    """What the other geoms exert on a pad geom, summed over its contacts (world frame)."""

    normal: float  # sum of the normal forces, N
    force: FloatArray  # (3,) total force on the pad, N
    moment: FloatArray  # (3,) total moment of those forces about the world origin, N m
    centre: FloatArray  # (3,) centre of pressure: contact points weighted by normal force
    sliding: bool  # their tangential forces are at the friction limit (>= 95% of mu * normal)


def pad_contacts(model: mujoco.MjModel, data: mujoco.MjData, geom_id: int) -> PadContacts:
    """The contacts on geom `geom_id`, summed, as forces on it (see the module's note on
    MuJoCo's contact frame); see `PadContacts`."""
    force, moment, centre = np.zeros(3), np.zeros(3), np.zeros(3)
    if data.ncon == 0:
        return PadContacts(0.0, force, moment, centre, False)
    contacts = data.contact
    hits = np.flatnonzero((contacts.geom1 == geom_id) | (contacts.geom2 == geom_id))
    normal, tangential, limit, wrench = 0.0, 0.0, 0.0, np.zeros(6)
    for i in hits:
        mujoco.mj_contactForce(model, data, int(i), wrench)
        normal += float(wrench[0])
        centre += float(wrench[0]) * contacts.pos[i]
        tangential += math.hypot(wrench[1], wrench[2])
        limit += float(contacts.friction[i][0]) * float(wrench[0])
        world = contacts.frame[i].reshape(3, 3).T @ wrench[:3]
        world = world if contacts.geom2[i] == geom_id else -world
        force += world
        moment += np.cross(contacts.pos[i], world)
    sliding = normal > 0.0 and tangential >= 0.95 * limit
    if normal > 0.0:
        centre /= normal
    return PadContacts(normal, force, moment, centre, sliding)


def pad_normal_force(model: mujoco.MjModel, data: mujoco.MjData, geom_id: int) -> float:
    """Sum of the normal forces (N) of all active contacts that involve geom `geom_id`."""
    return pad_contacts(model, data, geom_id).normal
