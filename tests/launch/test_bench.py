from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from launch.bench import Benchmark, BenchOptions, BenchResult, format_table, run_benchmarks
from launch.benchmarks import BENCHMARKS
from launch.cli import main
from launch.config import ConfigError


def _fake(options: BenchOptions) -> list[BenchResult]:
    return [
        BenchResult("fake.speed", 50.0, "frames/s", 25.0, "peer (same run)"),
        BenchResult(
            "fake.latency", 2.0, "ms", 40.0, "frame budget", higher_is_better=False, goal=0.01
        ),
    ]


def test_ratios_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    results = run_benchmarks([], {"fake": _fake}, BenchOptions(tmp_path / "w"), json_path=out)
    assert [r.ratio for r in results] == [2.0, 0.05]
    table = format_table(results).splitlines()
    assert table[0].split() == ["benchmark", "value", "better", "reference", "ratio", "goal"]
    assert table[2].split()[-2:] == ["2x", "-"] and " higher " in table[2]  # no goal stated
    assert table[3].split()[-4:] == ["0.05x", "<=0.01x:", "NOT", "met"] and " lower " in table[3]
    payload = json.loads(out.read_text())
    machine = payload["machine"]
    assert machine["cpus"] == os.cpu_count() and machine["torch"] == torch.__version__
    assert machine["cuda_device"] == (torch.cuda.get_device_name(0) if torch.cuda.is_available()
                                      else None)  # fmt: skip
    assert payload["results"][0] | {"ratio": 2.0, "meets_goal": None} == payload["results"][0]
    assert payload["results"][1]["higher_is_better"] is False
    assert payload["results"][1]["meets_goal"] is False and payload["results"][1]["goal"] == 0.01


def test_a_goal_is_met_in_the_better_direction() -> None:
    faster = BenchResult("x", 30.0, "steps/s", 10.0, "peer", goal=3.0)
    slower = BenchResult("y", 30.0, "ms", 10.0, "budget", higher_is_better=False, goal=3.0)
    assert faster.meets_goal is True and slower.meets_goal is True  # 3x at least / at most
    assert BenchResult("z", 29.0, "steps/s", 10.0, "peer", goal=3.0).meets_goal is False
    assert (
        BenchResult("w", 31.0, "ms", 10.0, "b", higher_is_better=False, goal=3.0).meets_goal
        is False
    )


def test_list_describes_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(BENCHMARKS)
    assert all(len(line.split(maxsplit=1)[1]) > 20 for line in lines)


def test_unknown_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown benchmark\(s\) \['nope'\]; available: \['fake'\]"
    ):
        run_benchmarks(["nope"], {"fake": _fake}, BenchOptions(tmp_path))


def test_each_benchmark_is_reported_and_saved_as_it_ends(tmp_path: Path) -> None:
    """A run stopped part-way (here: the second benchmark fails) keeps the first's figures."""

    def broken(options: BenchOptions) -> list[BenchResult]:
        raise KeyboardInterrupt

    out, seen = tmp_path / "b.json", []
    registry: dict[str, Benchmark] = {"fake": _fake, "broken": broken, "late": _fake}
    with pytest.raises(KeyboardInterrupt):
        run_benchmarks(
            [],
            registry,
            BenchOptions(tmp_path / "w"),
            json_path=out,
            on_done=lambda name, results, seconds: seen.append((name, len(results), seconds)),
        )
    assert [(name, n) for name, n, _ in seen] == [("fake", 2)] and seen[0][2] >= 0
    payload = json.loads(out.read_text())
    assert payload["pending"] == ["broken", "late"]
    assert [r["name"] for r in payload["results"]] == ["fake.speed", "fake.latency"]
    assert not list(tmp_path.glob("*.tmp"))
    done = run_benchmarks(["late", "fake"], registry, BenchOptions(tmp_path / "w"), json_path=out)
    assert len(done) == 4 and json.loads(out.read_text())["pending"] == []
