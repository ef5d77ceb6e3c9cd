"""`vitac bench sensing` at quick size: the pipeline keeps every tactile frame and delivers
it within a frame period, where the naive read-in-turn loop loses about half of them to the
RGB-D cameras' slower rate and reads the rest from a stale queue."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from launch.bench import BenchOptions
from launch.benchmarks.sensing import _gaps, bench_sensing, cpu_seconds


def test_the_pipeline_beats_the_naive_loop_on_tactile_frames(tmp_path: Path) -> None:
    results = {r.name: r for r in bench_sensing(BenchOptions(workdir=tmp_path, quick=True))}
    assert set(results) == {
        f"sensing.{kind}.{figure}"
        for kind in ("tactile", "rgbd")
        for figure in (
            "frames",
            "frames_vs_naive",
            "latency_p50",
            "latency_p99",
            "latency_p99_vs_naive",
        )
    } | {"sensing.cpu"}
    frames = results["sensing.tactile.frames_vs_naive"]
    assert 95.0 <= frames.value <= 100.0 and frames.reference < 75.0  # naive: ~50%
    latency = results["sensing.tactile.latency_p99_vs_naive"]
    assert latency.value < latency.reference  # the naive loop reads queued, old frames
    assert 0 < results["sensing.tactile.latency_p50"].value < latency.reference
    assert 0 < results["sensing.cpu"].value < 100 and results["sensing.cpu"].reference > 0


def test_gaps_in_capture_times_count_lost_frames() -> None:
    assert _gaps([0.0, 1 / 60, 3 / 60, 4 / 60, 8 / 60], 60.0) == 1 + 3
    assert _gaps([0.0], 60.0) == 0


def test_cpu_time_counts_the_capture_processes() -> None:
    busy = subprocess.Popen(
        [sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<5: pass"]
    )
    try:
        time.sleep(1.0)
        assert cpu_seconds([busy.pid]) - time.process_time() > 0.3
        assert cpu_seconds([999_999_999]) - time.process_time() < 0.1  # gone: not counted
    finally:
        busy.kill()
        busy.wait()
