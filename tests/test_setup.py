"""What `scripts/bootstrap.sh` promises a fresh machine: the extras import, registries are full."""

from __future__ import annotations

from launch.benchmarks import BENCHMARKS
from policies import POLICIES
from sim import TASKS
from sim.experts import EXPERTS


def test_realsense_extra_imports_and_sees_no_device() -> None:
    import pyrealsense2 as rs  # needs Debian's libusb-1.0-0, installed by the bootstrap

    assert len(rs.context().query_devices()) == 0  # no camera on a CI machine


def test_registries_list_every_built_in() -> None:
    assert set(POLICIES) == {"bc"}
    own_tasks = {name for name in TASKS if not name.startswith("robosuite_")}  # no experts there
    assert own_tasks == set(EXPERTS) == {"peg_insertion", "tactile_insertion", "lift", "stack"}
    assert set(TASKS) - own_tasks == {"robosuite_lift", "robosuite_stack", "robosuite_square"}
    assert list(BENCHMARKS) == ["store", "sim", "tactile"]  # the store benchmark runs first
