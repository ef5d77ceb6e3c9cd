"""What `scripts/bootstrap.sh` promises a fresh machine: the extras import, registries are full."""

from __future__ import annotations

from launch.bench import describe
from launch.benchmarks import BENCHMARKS
from policies import POLICIES, make_policy
from sim import TASKS
from sim.experts import EXPERTS
from tests.policies.conftest import IO


def test_realsense_extra_works_without_a_camera() -> None:
    """The library loads (it needs Debian's libusb-1.0-0, installed by the bootstrap) and its
    software device, which the sensing tests record with, runs; plugged cameras do not matter."""
    import pyrealsense2 as rs

    devices = rs.context().query_devices()  # enumerates USB: fails without libusb
    assert len(devices) >= 0
    device = rs.software_device()
    sensor = device.add_sensor("Depth")
    intrinsics = rs.intrinsics()
    intrinsics.width, intrinsics.height = 4, 3
    stream = rs.video_stream()
    stream.type, stream.fmt, stream.width, stream.height = rs.stream.depth, rs.format.z16, 4, 3
    stream.intrinsics = intrinsics
    profile = sensor.add_video_stream(stream).as_video_stream_profile()
    assert (profile.width(), profile.height()) == (4, 3)


def test_every_registered_task_has_what_its_commands_need() -> None:
    """`vitac collect` needs an expert per own task; every policy builds from its defaults;
    every benchmark describes itself for `vitac bench --list`."""
    for name, task in TASKS.items():
        assert name in EXPERTS or name.startswith("robosuite_"), f"{name}: no scripted expert"
        assert task.config_cls().model_dump(), name  # the defaults validate
    assert set(EXPERTS) <= set(TASKS)
    for name, policy in POLICIES.items():
        built = make_policy(policy.config_cls(), IO)  # builds from its defaults alone
        assert built.config.name == name
    for name, benchmark in BENCHMARKS.items():
        assert describe(benchmark), f"bench {name} has no module docstring"
