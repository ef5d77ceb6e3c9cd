"""`vitac bench realtime` at quick size (it trains a toy policy): every figure is there with its
reference, and the latency includes the modelled devices' delays."""

from __future__ import annotations

from pathlib import Path

from launch.bench import BenchOptions
from launch.benchmarks.realtime import bench_realtime


def test_the_realtime_bench_reports_success_latency_and_seams_against_their_references(
    tmp_path: Path,
) -> None:
    results = {r.name.split(" ")[0]: r for r in bench_realtime(BenchOptions(tmp_path, quick=True))}
    assert set(results) == {
        "realtime.success.switch@0ms", "realtime.seam_accel.switch@0ms",
        "realtime.sensor_to_command.p50.switch@0ms", "realtime.sensor_to_command.p99.switch@0ms",
        "realtime.inference.p99.switch@0ms", "realtime.success.ensemble@100ms",
        "realtime.seam_accel.ensemble@100ms",
    }  # fmt: skip
    assert results["realtime.success.switch@0ms"].unit == "%"
    # the pads deliver 110 ms late (demo.toml): no command can follow their frames sooner
    assert results["realtime.sensor_to_command.p50.switch@0ms"].value > 110.0
    assert results["realtime.sensor_to_command.p50.switch@0ms"].reference == 100.0  # 10 Hz
    assert results["realtime.seam_accel.switch@0ms"].reference > 0  # the policy moves
