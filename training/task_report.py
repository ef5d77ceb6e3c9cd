"""Task report: success rates of a task's scripted baselines, per part variant, with 95% CIs.

The figures the docs quote for a task's experts come from here (`vitac task report`).

- Baselines (`report_baselines`): `expert`, the task's default scripted expert (`sim.EXPERTS`);
  the task's named scripted variants (`sim.experts.EXPERT_VARIANTS`, e.g. `oracle` and
  `open_loop` on tactile_insertion); `hold`, zero motion.
- Variants of the task (`report_parts`): a task whose config has a `part` field with a fixed
  set of values (tactile_insertion) is run once per part, unless its config sets the part
  explicitly; any other task runs once (part None).
- Episode i of every baseline and every part uses seed `seed + i`, so the baselines see the
  same scenes. The episodes run through `evaluate_parallel` (training/evaluate.py); the rates
  carry Wilson intervals (training/eval_stats.py).
"""

from __future__ import annotations

import time
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sim import EXPERTS, TASKS
from sim.experts import EXPERT_VARIANTS
from training.actors import BaselineSpec
from training.eval_stats import EvalResult
from training.evaluate import evaluate_parallel

PART_FIELD = "part"  # the task-config field whose values are the task's part variants


class TaskReportError(ValueError):
    """The report cannot run as asked (unknown task, no scripted expert)."""


@dataclass(frozen=True)
class ReportRow:
    """One baseline on one part variant (`part` None: the task has no part variants)."""

    part: str | None
    baseline: str
    result: EvalResult

    def to_json(self) -> dict[str, Any]:
        lo, hi = self.result.interval
        lengths = self.result.lengths
        return {
            "part": self.part,
            "baseline": self.baseline,
            "successes": sum(self.result.successes),
            "episodes": self.result.episodes,
            "ci_low": lo,
            "ci_high": hi,
            "mean_length": sum(lengths) / len(lengths),
        }


@dataclass(frozen=True)
class TaskReport:
    task: str
    episodes: int
    seed: int
    task_config: BaseModel  # as given: the part of a part-variant task is set per row
    baselines: dict[str, str]  # baseline key -> what it runs
    rows: list[ReportRow]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "episodes": self.episodes,
            "seed": self.seed,
            "task_config": self.task_config.model_dump(mode="json"),
            "baselines": self.baselines,
            "seconds": self.seconds,
            "results": [row.to_json() for row in self.rows],
        }


def report_baselines(task: str) -> list[BaselineSpec]:
    """`expert`, then the task's scripted variants in their registry order, then `hold`."""
    if task not in TASKS:
        raise TaskReportError(f"unknown task {task!r}; available: {sorted(TASKS)}")
    if task not in EXPERTS:
        raise TaskReportError(
            f"task {task!r} has no scripted expert; tasks with one: {sorted(EXPERTS)}"
        )
    variants = [BaselineSpec("expert", v) for v in EXPERT_VARIANTS.get(task, {})]
    return [BaselineSpec("expert"), *variants, BaselineSpec("hold")]


def describe(task: str, spec: BaselineSpec) -> str:
    """What a baseline runs, e.g. "TactileInsertionExpert(feel=False)" or "zero motion"."""
    if spec.kind != "expert":
        return "zero motion" if spec.kind == "hold" else spec.name
    if spec.variant is None:
        return _name(EXPERTS[task])
    factory, kwargs = EXPERT_VARIANTS[task][spec.variant]
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"{_name(factory)}({args})"


def _name(factory: object) -> str:
    return str(getattr(factory, "__name__", factory))


def report_parts(config: BaseModel) -> list[str | None]:
    """The part variants to run: every value of the config's `part` Literal field, unless the
    config sets it explicitly (then that one); [None] for a task without part variants."""
    field = type(config).model_fields.get(PART_FIELD)
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return [None]
    if PART_FIELD in config.model_fields_set:
        return [getattr(config, PART_FIELD)]
    return list(typing.get_args(field.annotation))


def run_task_report(
    task: str,
    config: BaseModel,
    episodes: int,
    seed: int,
    workers: int = 1,
    progress: bool = True,
) -> TaskReport:
    """Every baseline of `task` for `episodes` episodes (seeds seed, seed+1, ...) per part.

    `config` is the task's validated config; `workers` processes run the episodes.
    """
    baselines = report_baselines(task)
    if not isinstance(config, TASKS[task].config_cls):
        raise TaskReportError(
            f"config for {task!r} must be a {TASKS[task].config_cls.__name__}, "
            f"got {type(config).__name__}"
        )
    started = time.perf_counter()
    rows: list[ReportRow] = []
    for part in report_parts(config):
        part_config = config
        if part is not None:
            values = config.model_dump() | {PART_FIELD: part}
            part_config = type(config).model_validate(values)
        results = evaluate_parallel(
            task, part_config, baselines, episodes, seed, workers=workers, progress=progress
        )
        rows += [ReportRow(part, s.key, r) for s, r in zip(baselines, results, strict=True)]
    return TaskReport(
        task,
        episodes,
        seed,
        config,
        {s.key: describe(task, s) for s in baselines},
        rows,
        time.perf_counter() - started,
    )


def format_table(report: TaskReport) -> str:
    """One line per part and baseline: successes/episodes, rate, 95% CI, mean episode length."""
    header = ("task", "part", "baseline", "success", "rate", "95% CI", "mean steps")
    lines = [header]
    for row in report.rows:
        r = row.result
        lo, hi = r.interval
        lines.append(
            (
                report.task,
                row.part or "-",
                row.baseline,
                f"{sum(r.successes)}/{r.episodes}",
                f"{r.success_rate:.0%}",
                f"{lo:.0%}-{hi:.0%}",
                f"{sum(r.lengths) / r.episodes:.1f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {3, 4, 5, 6}  # numbers align right
    return "\n".join(
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )
