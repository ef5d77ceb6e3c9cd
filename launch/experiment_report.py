"""The tactile-insertion experiment's results: rows (one per policy, part, arm and seed),
the table pooled over seeds with Wilson 95% intervals, the goal's verdict, and the plot.

The goal (issue 11, after T3's real-robot result): pooled over seeds, the pretrained arm
succeeds at least 80% of the time, at least 15 points above the scratch arm and 30 above the
no-touch arm, with intervals that do not overlap.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from training.eval_stats import wilson_interval
from training.video import contact_sheet, read_frames

ALL_PARTS = "all"
GOAL_RATE, GOAL_OVER_SCRATCH, GOAL_OVER_NO_TOUCH = 0.80, 0.15, 0.30
STEM = "tactile_insertion"  # <out>/tactile_insertion.{json,md,png}, <out>/..._videos.png
SHEET_COLUMNS, SHEET_HEIGHT = 6, 120  # frames per example episode, pixels each


@dataclass(frozen=True)
class Row:
    policy: str
    part: str
    arm: str
    seed: int
    successes: int
    episodes: int

    def json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Pooled:
    """One cell of the table: a policy's arm on a part (or all parts), over every seed."""

    policy: str
    part: str
    arm: str
    successes: int
    episodes: int
    seeds: int

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)

    def cell(self) -> str:
        lo, hi = self.interval
        return f"{self.rate:.0%} ({lo:.0%}-{hi:.0%}; {self.successes}/{self.episodes})"


def pooled(rows: list[dict[str, Any]]) -> list[Pooled]:
    """Rows summed over seeds per (policy, part, arm), and per (policy, arm) over all parts
    when there are several; ordered by policy, then part (all parts last), then arm."""

    def unique(key: str) -> list[str]:
        return list(dict.fromkeys(r[key] for r in rows))

    parts = unique("part")
    scopes = parts + [ALL_PARTS] * (len(parts) > 1)
    out = []
    for policy in unique("policy"):
        for part in scopes:
            for arm in unique("arm"):
                chosen = [
                    r
                    for r in rows
                    if (r["policy"], r["arm"]) == (policy, arm) and part in (r["part"], ALL_PARTS)
                ]
                if chosen:
                    wins, n = (
                        sum(r["successes"] for r in chosen),
                        sum(r["episodes"] for r in chosen),
                    )
                    seeds = len({r["seed"] for r in chosen})
                    out.append(Pooled(policy, part, arm, wins, n, seeds))
    return out


def verdicts(cells: list[Pooled]) -> dict[str, list[str]]:
    """Per policy, the goal's tests on its arms pooled over parts: each line says PASS or FAIL
    with the numbers (an arm that did not run is said to be missing)."""
    out: dict[str, list[str]] = {}
    parts = {c.part for c in cells}
    scope = ALL_PARTS if ALL_PARTS in parts else next(iter(parts))
    for policy in dict.fromkeys(c.policy for c in cells):
        arms = {c.arm: c for c in cells if c.policy == policy and c.part == scope}
        lines = []
        pre = arms.get("pretrained")
        if pre is None:
            out[policy] = ["the pretrained arm did not run: no verdict"]
            continue
        ok = pre.rate >= GOAL_RATE
        lines.append(f"{_mark(ok)} pretrained {pre.rate:.0%} >= {GOAL_RATE:.0%}")
        for arm, margin in (("scratch", GOAL_OVER_SCRATCH), ("no_touch", GOAL_OVER_NO_TOUCH)):
            other = arms.get(arm)
            if other is None:
                lines.append(f"the {arm} arm did not run")
                continue
            gap = pre.rate - other.rate
            apart = pre.interval[0] > other.interval[1]
            lines.append(
                f"{_mark(gap >= margin and apart)} pretrained - {arm} = {_points(gap)} points "
                f"(goal >= {margin * 100:.0f}), intervals " + ("apart" if apart else "overlap")
            )
        out[policy] = lines
    return out


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _points(rate_gap: float) -> str:
    """A rate difference in signed whole points; one that rounds to none is "0", not "-0"."""
    points = round(rate_gap * 100)
    return f"{points:+d}" if points else "0"


@dataclass(frozen=True)
class SeedGaps:
    """The pretrained arm's lead over another arm on each seed the two share (all parts): how
    far apart the seeds are, against what drawing each seed's episodes alone would give."""

    policy: str
    arm: str
    gaps: tuple[float, ...]  # pretrained - arm, per shared seed, as a rate difference
    episode_sd: float  # the per-seed gap's standard deviation from episode sampling alone

    @property
    def mean(self) -> float:
        return statistics.fmean(self.gaps)

    @property
    def seed_sd(self) -> float:
        """The sample standard deviation of the per-seed gaps (training runs and episodes)."""
        return statistics.stdev(self.gaps)

    def line(self) -> str:
        each = " / ".join(_points(g) for g in self.gaps)
        return (
            f"Seeds, {self.policy}: pretrained - {self.arm} per seed {each} points (mean "
            f"{_points(self.mean)}); standard deviation between seeds {self.seed_sd * 100:.0f} "
            f"points, from the episodes alone {self.episode_sd * 100:.0f}."
        )


def seed_gaps(rows: list[dict[str, Any]]) -> list[SeedGaps]:
    """Per policy and arm other than pretrained, the pretrained arm's lead on each seed both
    ran (summed over parts), where they share at least two seeds. The pooled intervals count
    episodes as independent draws; a seed-to-seed spread well above `episode_sd` says the
    training runs themselves differ, which those intervals leave out."""
    out = []
    for policy in dict.fromkeys(r["policy"] for r in rows):
        per: dict[tuple[str, int], list[int]] = {}
        for r in rows:
            if r["policy"] == policy:
                wins = per.setdefault((r["arm"], r["seed"]), [0, 0])
                wins[0] += r["successes"]
                wins[1] += r["episodes"]
        arms = dict.fromkeys(arm for arm, _ in per)
        for arm in [a for a in arms if a != "pretrained"]:
            seeds = sorted(s for a, s in per if a == arm and ("pretrained", s) in per)
            if len(seeds) < 2:
                continue
            pre = [per["pretrained", s] for s in seeds]
            other = [per[arm, s] for s in seeds]
            gaps = tuple(p[0] / p[1] - o[0] / o[1] for p, o in zip(pre, other, strict=True))
            p1 = sum(p[0] for p in pre) / sum(p[1] for p in pre)
            p2 = sum(o[0] for o in other) / sum(o[1] for o in other)
            n1, n2 = (sum(x[1] for x in xs) / len(seeds) for xs in (pre, other))
            sd = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
            out.append(SeedGaps(policy, arm, gaps, sd))
    return out


def markdown(record: dict[str, Any]) -> str:
    """The pooled table (a line per policy and part, a column per arm) and the verdicts."""
    cells = pooled(record["results"])
    arms = list(dict.fromkeys(c.arm for c in cells))
    seeds = record["settings"]["seeds"]
    lines = [
        f"Success over {record['settings']['episodes']} episodes per part and seed, pooled over "
        f"{seeds} seed{'s' * (seeds > 1)} (Wilson 95% interval; successes/episodes).",
        "",
        "| policy | part | " + " | ".join(arms) + " | expert | hold |",
        "|---|---|" + "---:|" * (len(arms) + 2),
    ]
    references = {r["part"]: r for r in record.get("references", [])}
    for policy, part in dict.fromkeys((c.policy, c.part) for c in cells):
        row = {c.arm: c.cell() for c in cells if c.policy == policy and c.part == part}
        ref = _reference(references, part)
        lines.append(
            f"| {policy} | {part} | "
            + " | ".join(row.get(a, "-") for a in arms)
            + f" | {ref['expert']} | {ref['hold']} |"
        )
    lines.append("")
    for policy, tests in verdicts(cells).items():
        lines.append(f"Goal, {policy} (all parts): " + "; ".join(tests) + ".")
    spreads = seed_gaps(record["results"])
    if spreads:  # the intervals above treat episodes as independent; the seeds may not agree
        lines += ["", *(s.line() for s in spreads)]
    return "\n".join(lines) + "\n"


def _reference(references: dict[str, dict[str, Any]], part: str) -> dict[str, str]:
    chosen = list(references.values()) if part == ALL_PARTS else [references.get(part, {})]
    out = {}
    for name in ("expert", "hold"):
        counts = [r[name] for r in chosen if name in r]
        wins, n = sum(c[0] for c in counts), sum(c[1] for c in counts)
        out[name] = f"{wins}/{n}" if n else "-"
    return out


def plot(record: dict[str, Any], path: Path) -> Path:
    """Bars per part (and all parts) per arm with Wilson intervals; one panel per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = pooled(record["results"])
    policies = list(dict.fromkeys(c.policy for c in cells))
    arms = list(dict.fromkeys(c.arm for c in cells))
    parts = list(dict.fromkeys(c.part for c in cells))
    fig, axes = plt.subplots(1, len(policies), figsize=(1.6 + 2.2 * len(parts) * len(policies), 4))
    width = 0.8 / len(arms)
    for ax, policy in zip(list(getattr(axes, "flat", [axes])), policies, strict=True):
        for j, arm in enumerate(arms):
            found = {(c.policy, c.part, c.arm): c for c in cells}
            at = [
                (i, found[policy, p, arm]) for i, p in enumerate(parts) if (policy, p, arm) in found
            ]
            if not at:  # this arm has not run for this policy yet
                continue
            xs = [i + (j - (len(arms) - 1) / 2) * width for i, _ in at]
            chosen = [c for _, c in at]
            rates = [c.rate for c in chosen]
            errors = [
                [c.rate - c.interval[0] for c in chosen],
                [c.interval[1] - c.rate for c in chosen],
            ]
            ax.bar(xs, rates, width, yerr=errors, capsize=3, label=arm)
        ax.axhline(GOAL_RATE, color="k", lw=0.8, ls="--")
        ax.set(xticks=range(len(parts)), xticklabels=parts, ylim=(0, 1.05), title=policy)
        ax.set_ylabel("success rate (95% Wilson CI)")
        ax.legend(fontsize=8)
    fig.suptitle("tactile insertion, 0.4 mm clearance: pooled over seeds")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def example_sheet(record: dict[str, Any], out: Path) -> Path | None:
    """<out>/tactile_insertion_videos.png: the first evaluation episode of every run of the
    first seed (<out>/runs/<policy>/<arm>/s<first>), a row per part, policy and arm, each a
    strip of frames from its first step to its last, labelled with its outcome. None when no
    run kept one."""
    rows = []
    first = min((r["seed"] for r in record["results"]), default=0)
    chosen = [r for r in record["results"] if r["seed"] == first]
    for r in sorted(chosen, key=lambda r: (r["part"], r["policy"])):
        run = out / "runs" / r["policy"] / r["arm"] / f"s{first}"
        found = run / "eval" / f"{r['part']}.json"
        result = json.loads(found.read_text()) if found.is_file() else {}
        if not result.get("videos"):
            continue
        seed = result["seeds"][0]
        video = next((run / "videos" / r["part"]).rglob(f"seed_{seed}.mp4"), None)
        if video is None:
            continue
        outcome = "inserted" if result["outcomes"][0] else "not inserted"
        label = f"{r['policy']} {r['arm']}, {r['part']}, seed {seed}: {outcome}, "
        rows.append((label + f"{result['lengths'][0]} steps", read_frames(video)))
    if not rows:
        return None
    import cv2

    path = out / f"{STEM}_videos.png"
    sheet = contact_sheet(rows, SHEET_COLUMNS, SHEET_HEIGHT)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path


class GatherError(ValueError):
    """Records that cannot be pooled into one table; the message names the file and why."""


def gather(paths: Sequence[Path]) -> dict[str, Any]:
    """One record of the rows of several experiment records (each a tactile_insertion.json,
    or a result file with the same rows): made by runs of different sessions, seeds or arms,
    pooled as one experiment's. Each row must come from one record only and every row must
    have as many episodes; references must agree where two records have them. The record
    lists its sources (file, command, commit, rows) and keeps each row's six fields."""
    keys = [f.name for f in fields(Row)]
    rows: dict[tuple[Any, ...], tuple[dict[str, Any], Path]] = {}
    references: dict[str, tuple[dict[str, Any], Path]] = {}
    sources = []
    for path in paths:
        try:
            record = json.loads(path.read_text())
            found = record["results"]
            picked = [{k: r[k] for k in keys} for r in found]
        except (OSError, ValueError, KeyError, TypeError) as err:
            why = f"{type(err).__name__}: {err}"
            raise GatherError(
                f"{path}: not an experiment record with rows of {keys} ({why})"
            ) from None
        for row in picked:
            key = tuple(row[k] for k in ("policy", "part", "arm", "seed"))
            if key in rows:
                raise GatherError(f"{path}: row {key} is also in {rows[key][1]}: keep one of them")
            rows[key] = (row, path)
        for ref in record.get("references", []):
            before = references.setdefault(ref["part"], (ref, path))
            if before[0] != ref:
                raise GatherError(
                    f"{path}: references of {ref['part']} {ref} differ from {before[1]}'s "
                    f"{before[0]}: runs evaluated otherwise cannot share a table"
                )
        sources.append({"file": str(path), "command": record.get("command"),
                        "commit": record.get("commit"), "rows": len(picked)})  # fmt: skip
    if not rows:
        raise GatherError("no rows in " + ", ".join(map(str, paths)))
    episodes = sorted({row["episodes"] for row, _ in rows.values()})
    if len(episodes) > 1:
        raise GatherError(f"the rows have {episodes} episodes: one count per table")
    results = [row for row, _ in rows.values()]
    return {
        "settings": {"seeds": len({r["seed"] for r in results}), "episodes": episodes[0]},
        "references": [ref for ref, _ in references.values()],
        "sources": sources,
        "results": results,
    }


def write_report(record: dict[str, Any], out: Path) -> None:
    """<out>/tactile_insertion.json (the record), .md (table and verdicts), .png (plot) and
    _videos.png (example episodes, when the runs kept videos)."""
    (out / f"{STEM}.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / f"{STEM}.md").write_text(markdown(record))
    plot(record, out / f"{STEM}.png")
    example_sheet(record, out)
