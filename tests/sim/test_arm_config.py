"""The arm tasks' settings (sim.tasks.arm_config): bad configs name the problem."""

from __future__ import annotations

import pytest

from sim.tasks.lift import LiftEnv


def test_bad_configs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="tactile_profile"):
        LiftEnv({"tactile_profile": "nope"})
    with pytest.raises(ValueError, match="depth_cameras"):
        LiftEnv({"cameras": ("scene",), "depth_cameras": ("wrist",)})
    with pytest.raises(ValueError, match="whole number of substeps"):
        LiftEnv({"control_hz": 7.0})
