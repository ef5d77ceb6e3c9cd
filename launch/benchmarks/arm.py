"""Arm: sync reads of nine servos against the wire and DynamixelSDK; the 100 Hz loop's lateness.

The emulated wx250s (`vitac arm emulate`, nine servos) runs in its own process, as a real arm
would be on the other side of the adapter. Reported:
- the round trip of a sync read of Present Position from all nine servos (and the one-packet
  fast sync read), against the time its bytes take on the wire at 1 and 4 Mbps (a pty moves
  bytes at memory speed, so the figure is the software's cost, the floor a real bus adds its
  wire time to), and against ROBOTIS's DynamixelSDK doing the same read in the same run;
- the control loop at 100 Hz (read joints, supervisor, write goals) following a moving plan:
  lateness p50/p99 against its 10 ms period, and deadlines missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from drivers.dynamixel.tables import X_SERIES
from launch.bench import BenchOptions, BenchResult
from launch.cli_arm import emulator_process

if TYPE_CHECKING:
    from drivers.arm_loop import LoopStats

SECONDS, QUICK_SECONDS = 10.0, 1.5  # of the control loop
READS, QUICK_READS = 2000, 200
PRESENT_POSITION, SIZE = X_SERIES["present_position"].address, X_SERIES["present_position"].size
PERIOD_US = 10_000.0


def wire_us(servos: int, bps: float, fast: bool) -> float:
    """Microseconds a sync read of `servos` x 4 bytes occupies the bus: the instruction
    (10 bytes + 4 parameters + one id each), then the replies (15 bytes each, or one fast
    reply of 8 bytes + 8 per servo), 10 bits per byte (8N1), no return delay."""
    sent = 14 + servos
    replies = 8 + 8 * servos if fast else 15 * servos
    return (sent + replies) * 10 / bps * 1e6


def timed(read: Callable[[], object], count: int) -> float:
    """Median microseconds of `read`, after a few to warm up."""
    for _ in range(10):
        read()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e6


def bench_arm(options: BenchOptions) -> list[BenchResult]:
    from drivers.dynamixel.arm_spec import ARMS

    count = QUICK_READS if options.quick else READS
    seconds = QUICK_SECONDS if options.quick else SECONDS
    ids = sorted(ARMS["wx250s"].servos())
    with emulator_process(seconds * 3 + 60) as port:
        ours, fast, sdk = _reads(port, ids, count)
        loop = _loop(port, seconds)
    n = len(ids)
    results = [
        BenchResult("arm.sync_read", ours, "us", wire_us(n, 1e6, False),
                    f"{n} servos' bytes on the wire at 1 Mbps", higher_is_better=False),
        BenchResult("arm.sync_read_4mbps", ours, "us", wire_us(n, 4e6, False),
                    f"{n} servos' bytes on the wire at 4 Mbps", higher_is_better=False),
        BenchResult("arm.fast_sync_read", fast, "us", wire_us(n, 1e6, True),
                    f"{n} servos' one-packet reply on the wire at 1 Mbps", higher_is_better=False),
    ]  # fmt: skip
    if sdk is not None:
        results.append(BenchResult("arm.sync_read_vs_sdk", ours, "us", sdk,
                                   "DynamixelSDK GroupSyncRead (same run)",
                                   higher_is_better=False))  # fmt: skip
    late50, late99 = (1000.0 * ms for ms in loop.lateness_ms)
    results += [
        BenchResult("arm.loop_lateness_p50", late50, "us", PERIOD_US, "100 Hz period",
                    higher_is_better=False),
        BenchResult("arm.loop_lateness_p99", late99, "us", PERIOD_US, "100 Hz period",
                    higher_is_better=False, goal=0.5),
        BenchResult("arm.loop_missed", 100.0 * loop.missed / max(loop.ticks, 1), "%", 100.0,
                    "every deadline", higher_is_better=False),
    ]  # fmt: skip
    return results


def _reads(port: str, ids: list[int], count: int) -> tuple[float, float, float | None]:
    from drivers.dynamixel.bus import DynamixelBus

    with DynamixelBus(port) as bus:
        ours = timed(lambda: bus.sync_read(ids, PRESENT_POSITION, SIZE), count)
        fast = timed(lambda: bus.fast_sync_read(ids, PRESENT_POSITION, SIZE), count)
    try:
        import dynamixel_sdk as sdk
    except ImportError:  # the peer is a dev extra
        return ours, fast, None
    handle = sdk.PortHandler(port)
    handle.openPort()
    handle.setBaudRate(1_000_000)
    group = sdk.GroupSyncRead(handle, sdk.PacketHandler(2.0), PRESENT_POSITION, SIZE)
    for id in ids:
        group.addParam(id)
    theirs = timed(group.txRxPacket, count)
    handle.closePort()
    return ours, fast, theirs


def _loop(port: str, seconds: float) -> LoopStats:
    from drivers.arm_loop import ControlLoop
    from drivers.dynamixel.arm import DynamixelArm
    from drivers.dynamixel.arm_spec import ARMS, default_calibration
    from drivers.dynamixel.bus import DynamixelBus
    from drivers.kinematics import ArmKinematics
    from drivers.safety import SafetyLimits, SafetySupervisor

    kin = ArmKinematics()
    with DynamixelBus(port) as bus:
        arm = DynamixelArm(bus, ARMS["wx250s"], default_calibration("wx250s"), kin.limits)
        arm.connect()
        arm.configure()
        start = arm.joints()
        arm.torque(True)
        limits = SafetyLimits(tuple(kin.limits[:, 0]), tuple(kin.limits[:, 1]),
                              (-1.0, -1.0, -1.0), (1.0, 1.0, 1.0))  # fmt: skip
        supervisor = SafetySupervisor(limits, lambda q: kin.fk(q)[0], start)
        with ControlLoop(arm, supervisor) as loop:
            now = time.monotonic()
            times = now + np.linspace(0.1, seconds, 50)
            wave = 0.2 * np.sin(2 * np.pi * (times - now) / 2.0)[:, None]  # a joint-space sway
            loop.send_joints(times, start + wave * np.array([1, 0.5, -0.5, 0, 0.5, 1]))
            time.sleep(seconds)
        loop.check()
        return loop.stats()
