from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.bench import BenchOptions, BenchResult, format_table, run_benchmarks
from launch.config import ConfigError


def _fake(options: BenchOptions) -> list[BenchResult]:
    return [
        BenchResult("fake.speed", 50.0, "frames/s", 25.0, "peer (same run)"),
        BenchResult("fake.latency", 2.0, "ms", 40.0, "frame budget", higher_is_better=False),
    ]


def test_ratios_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    results = run_benchmarks([], {"fake": _fake}, BenchOptions(tmp_path / "w"), json_path=out)
    assert [r.ratio for r in results] == [2.0, 0.05]
    table = format_table(results).splitlines()
    assert table[2].split()[-1] == "2x" and table[3].split()[-1] == "0.05x"
    payload = json.loads(out.read_text())
    assert payload["results"][0] | {"ratio": 2.0} == payload["results"][0]
    assert payload["results"][1]["higher_is_better"] is False


def test_unknown_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown benchmark\(s\) \['nope'\]; available: \['fake'\]"
    ):
        run_benchmarks(["nope"], {"fake": _fake}, BenchOptions(tmp_path))
