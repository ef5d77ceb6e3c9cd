from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from sim import LiftConfig, TactileInsertionConfig
from tests.conftest import TINY_TASK
from training import task_report
from training.actors import ActorSpec
from training.eval_stats import EvalResult
from training.task_report import (
    TaskReportError,
    describe,
    format_table,
    report_baselines,
    report_parts,
    run_task_report,
)


def test_baselines_are_the_expert_its_variants_and_hold() -> None:
    assert [s.key for s in report_baselines("lift")] == ["expert", "hold"]
    specs = report_baselines("tactile_insertion")
    assert [s.key for s in specs] == [
        "expert",
        "oracle",
        "blind",
        "memoryless",
        "open_loop",
        "hold",
    ]
    described = {s.key: describe("tactile_insertion", s) for s in specs}
    assert described == {
        "expert": "TouchInsertionExpert",
        "oracle": "TactileInsertionExpert(feel=True)",
        "blind": "TouchInsertionExpert(read=False)",
        "memoryless": "TouchInsertionExpert(memory=False)",
        "open_loop": "TouchInsertionExpert(correct=False)",
        "hold": "zero motion",
    }
    with pytest.raises(TaskReportError, match="unknown task 'juggling'"):
        report_baselines("juggling")
    with pytest.raises(TaskReportError, match="'robosuite_lift' has no scripted expert"):
        report_baselines("robosuite_lift")


def test_parts_are_every_part_unless_one_is_set() -> None:
    assert report_parts(TactileInsertionConfig()) == ["switch3", "usb12", "vga17"]
    assert report_parts(TactileInsertionConfig(part="usb12")) == ["usb12"]
    assert report_parts(LiftConfig()) == [None]


def test_every_part_runs_every_baseline_on_the_same_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, list[str], int, int, int]] = []

    def fake_evaluate(
        task: str,
        config: BaseModel | Mapping[str, Any],
        actors: Sequence[ActorSpec],
        episodes: int,
        seed: int,
        workers: int = 1,
        progress: bool = True,
    ) -> list[EvalResult]:
        assert isinstance(config, TactileInsertionConfig) and config.clearance_mm == 0.6
        calls.append((task, config.part, [a.key for a in actors], episodes, seed, workers))
        successes = [[True, True, False], [False, False, False]]
        return [
            EvalResult(a.name, successes[i % 2], [10 * (i + 1)] * 3, [seed, seed + 1, seed + 2])
            for i, a in enumerate(actors)
        ]

    monkeypatch.setattr(task_report, "evaluate_parallel", fake_evaluate)
    config = TactileInsertionConfig(clearance_mm=0.6)
    report = run_task_report("tactile_insertion", config, episodes=3, seed=7, workers=2)
    keys = ["expert", "oracle", "blind", "memoryless", "open_loop", "hold"]
    assert calls == [("tactile_insertion", p, keys, 3, 7, 2) for p in ("switch3", "usb12", "vga17")]
    assert [(r.part, r.baseline) for r in report.rows] == [
        (p, k) for p in ("switch3", "usb12", "vga17") for k in keys
    ]
    first = report.rows[0].to_json()
    assert first == {
        "part": "switch3",
        "baseline": "expert",
        "successes": 2,
        "episodes": 3,
        "ci_low": pytest.approx(0.2077, abs=1e-4),
        "ci_high": pytest.approx(0.9385, abs=1e-4),
        "mean_length": 10.0,
    }
    data = report.to_json()
    assert (data["task"], data["episodes"], data["seed"]) == ("tactile_insertion", 3, 7)
    assert data["task_config"]["part"] == "switch3" and len(data["results"]) == 18
    table = [" ".join(line.split()) for line in format_table(report).splitlines()]
    assert table[0] == "task part baseline success rate 95% CI mean steps"
    assert table[1] == "tactile_insertion switch3 expert 2/3 67% 21%-94% 10.0"
    assert table[-1] == "tactile_insertion vga17 hold 0/3 0% 0%-56% 60.0"  # 6th fake actor


def test_lift_expert_succeeds_and_hold_fails() -> None:
    config = LiftConfig.model_validate(TINY_TASK | {"tactile_size": (16, 16)})
    report = run_task_report("lift", config, episodes=2, seed=100_000, progress=False)
    rows = {r.baseline: r for r in report.rows}
    assert list(rows) == ["expert", "hold"] and {r.part for r in report.rows} == {None}
    assert rows["expert"].result.successes == [True, True]
    assert rows["hold"].result.successes == [False, False]
    assert rows["hold"].result.lengths == [config.max_steps] * 2
    assert rows["expert"].result.seeds == rows["hold"].result.seeds == [100_000, 100_001]


def test_a_config_of_another_task_is_refused() -> None:
    with pytest.raises(TaskReportError, match="must be a LiftConfig"):
        run_task_report("lift", TactileInsertionConfig(), episodes=1, seed=0)
