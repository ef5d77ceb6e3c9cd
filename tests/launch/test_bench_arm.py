"""`vitac bench arm` at quick size against the emulator in its own process: every figure is
there with its reference, the loop keeps its deadlines, and the wire limits are the bytes'."""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.bench import BenchOptions
from launch.benchmarks.arm import bench_arm, wire_us


def test_the_arm_bench_reports_reads_against_the_wire_and_the_loop_against_its_period(
    tmp_path: Path,
) -> None:
    results = {r.name: r for r in bench_arm(BenchOptions(workdir=tmp_path, quick=True))}
    assert set(results) == {
        "arm.sync_read", "arm.sync_read_4mbps", "arm.fast_sync_read", "arm.sync_read_vs_sdk",
        "arm.loop_lateness_p50", "arm.loop_lateness_p99", "arm.loop_missed",
    }  # fmt: skip
    assert 0 < results["arm.sync_read"].value < 50_000.0  # us, over a pty
    assert results["arm.sync_read_vs_sdk"].reference > 0
    assert 0 <= results["arm.loop_lateness_p50"].value < results["arm.loop_lateness_p50"].reference
    assert results["arm.loop_missed"].value < 20.0


def test_wire_time_is_the_packets_bytes_at_ten_bits_each() -> None:
    from drivers.dynamixel import protocol as p

    ids = list(range(1, 10))
    sent = len(p.sync_read(ids, 132, 4))
    replies = sum(len(p.status(i, 0, bytes(4))) for i in ids)
    fast = len(p.fast_reply([(i, 0, bytes(4)) for i in ids]))
    assert wire_us(9, 1e6, fast=False) == pytest.approx((sent + replies) * 10 / 1e6 * 1e6)
    assert wire_us(9, 4e6, fast=True) == pytest.approx((sent + fast) * 10 / 4e6 * 1e6)
