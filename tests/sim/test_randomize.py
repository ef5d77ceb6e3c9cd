"""Domain randomisation of the arm tasks (sim.tasks.randomize): seeded, and restored on reset."""

from __future__ import annotations

import numpy as np

from sim.tasks.lift import LiftEnv


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
