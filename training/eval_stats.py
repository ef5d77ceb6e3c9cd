"""Evaluation results: per-episode outcomes of one actor and its success rate with a 95% CI.

The interval is Wilson's score interval, which stays inside [0, 1] and is not degenerate at
0% or 100% success, the usual results for baselines and for good policies on small samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (well-behaved at 0% and 100%)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class EvalResult:
    name: str
    successes: list[bool] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)  # the episodes recorded, in episode order

    @property
    def episodes(self) -> int:
        return len(self.successes)

    @property
    def success_rate(self) -> float:
        return sum(self.successes) / self.episodes if self.episodes else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(sum(self.successes), self.episodes)

    def summary(self) -> str:
        lo, hi = self.interval
        return (
            f"{self.name}: success {self.success_rate:.0%} "
            f"({sum(self.successes)}/{self.episodes}, 95% CI {lo:.0%}-{hi:.0%})"
        )

    def to_json(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {
            "name": self.name,
            "success_rate": self.success_rate,
            "ci95": [lo, hi],
            "successes": self.successes,
            "lengths": self.lengths,
            "seeds": self.seeds,
            "videos": [str(v) for v in self.videos],
        }
