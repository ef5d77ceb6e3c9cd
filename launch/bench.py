"""`vitac bench`: run named benchmarks, print a table, write JSON.

Every figure is reported against a reference measured in the same run (a peer
implementation) or a stated limit (a frame budget, a control rate), never on its own; the
table says which direction is better and, where a goal is stated, whether it is met.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from launch.config import ConfigError


@dataclass(frozen=True)
class BenchResult:
    """One measured figure and the reference it is judged against."""

    name: str  # e.g. "store.write"
    value: float  # the measured figure, in `unit`
    unit: str  # e.g. "frames/s"
    reference: float  # the peer's figure or the limit, in the same unit
    reference_name: str  # e.g. "numpy memmap (same run)" or "real time at 10 Hz"
    higher_is_better: bool = True
    goal: float | None = None  # the ratio the figure should reach (at least, or at most)

    @property
    def ratio(self) -> float:
        """value / reference, so > 1 means better when higher_is_better."""
        return self.value / self.reference if self.reference else float("inf")

    @property
    def meets_goal(self) -> bool | None:
        """None without a stated goal."""
        if self.goal is None:
            return None
        return self.ratio >= self.goal if self.higher_is_better else self.ratio <= self.goal

    def goal_text(self) -> str:
        if self.goal is None:
            return "-"
        sign = ">=" if self.higher_is_better else "<="
        return f"{sign}{self.goal:g}x: {'met' if self.meets_goal else 'NOT met'}"


@dataclass(frozen=True)
class BenchOptions:
    workdir: Path  # scratch space for files the benchmark writes
    quick: bool = False  # smaller sizes, for smoke tests
    checkpoint: Path | None = None  # a trained policy, for benchmarks that run one


Benchmark = Callable[[BenchOptions], list[BenchResult]]


def describe(benchmark: Benchmark) -> str:
    """The first line of the benchmark module's docstring (what `vitac bench --list` shows)."""
    import sys

    doc = sys.modules[benchmark.__module__].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def format_table(results: Sequence[BenchResult]) -> str:
    header = ("benchmark", "value", "better", "reference", "ratio", "goal")
    rows = [
        (
            r.name,
            f"{r.value:,.1f} {r.unit}",
            "higher" if r.higher_is_better else "lower",
            f"{r.reference:,.1f} ({r.reference_name})",
            f"{r.ratio:.3g}x",
            r.goal_text(),
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    rule = "  ".join("-" * w for w in widths)
    head = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    return "\n".join([head, rule, *lines])


def run_benchmarks(
    names: Sequence[str],
    registry: dict[str, Benchmark],
    options: BenchOptions,
    json_path: Path | None = None,
    on_done: Callable[[str, list[BenchResult], float], None] | None = None,
) -> list[BenchResult]:
    """Run `names` (all, in registry order, when empty).

    After each benchmark, `on_done(name, its results, its seconds)` is called and the JSON at
    `json_path` (if given) is rewritten with everything so far and the names still pending,
    so a run stopped part-way (Ctrl-C, a device lease running out) keeps what it measured.
    """
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ConfigError(f"unknown benchmark(s) {unknown}; available: {sorted(registry)}")
    order = list(names) or list(registry)
    results: list[BenchResult] = []
    started, machine = time.time(), _machine()
    for done, name in enumerate(order, start=1):
        options.workdir.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        new = registry[name](options)
        results.extend(new)
        if on_done is not None:
            on_done(name, new, time.perf_counter() - began)
        if json_path is not None:
            _write_json(json_path, started, machine, options, results, pending=order[done:])
    return results


def _write_json(
    path: Path,
    started: float,
    machine: dict[str, object],
    options: BenchOptions,
    results: Sequence[BenchResult],
    pending: Sequence[str],
) -> None:
    payload = {
        "started": started,
        "machine": machine,
        "quick": options.quick,
        "pending": list(pending),  # benchmarks not yet run: [] once the run is complete
        "results": [asdict(r) | {"ratio": r.ratio, "meets_goal": r.meets_goal} for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)  # a reader never sees half a file


def _machine() -> dict[str, object]:
    """Where the figures were measured: interpreter, OS, CPU count, torch and its GPU if any."""
    import os

    import torch

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "cuda_device": cuda,
    }
