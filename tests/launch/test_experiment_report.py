"""The experiment's table: seeds pooled per part and over parts, Wilson intervals, and the
goal's verdict with its three tests."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from launch.experiment_report import (
    SHEET_COLUMNS,
    SHEET_HEIGHT,
    GatherError,
    Row,
    example_sheet,
    gather,
    markdown,
    plot,
    pooled,
    seed_gaps,
    verdicts,
)
from training.eval_stats import wilson_interval
from training.video import BAND_HEIGHT, write_video


def rows(counts: dict[tuple[str, str, str], list[int]], episodes: int = 50) -> list[dict[str, Any]]:
    """{(policy, part, arm): successes per seed} -> rows."""
    return [
        Row(policy, part, arm, seed, wins, episodes).json()
        for (policy, part, arm), per_seed in counts.items()
        for seed, wins in enumerate(per_seed)
    ]


def record(counts: dict[tuple[str, str, str], list[int]]) -> dict[str, Any]:
    seeds = len(next(iter(counts.values())))
    return {
        "settings": {"seeds": seeds, "episodes": 50},
        "references": [{"part": "a", "expert": [48, 50], "hold": [0, 50]}],
        "results": rows(counts),
    }


def test_seeds_pool_per_part_and_over_parts() -> None:
    cells = pooled(rows({("bc", "a", "x"): [10, 20, 30], ("bc", "b", "x"): [1, 2, 3]}))
    by = {(c.part, c.arm): c for c in cells}
    assert [c.part for c in cells] == ["a", "b", "all"]
    assert (by["a", "x"].successes, by["a", "x"].episodes, by["a", "x"].seeds) == (60, 150, 3)
    assert (by["all", "x"].successes, by["all", "x"].episodes) == (66, 300)
    assert by["all", "x"].interval == wilson_interval(66, 300)
    one = pooled(rows({("bc", "a", "x"): [5]}))
    assert [c.part for c in one] == ["a"]  # no "all" row for a single part


ARMS_MET = {
    ("p", "a", "pretrained"): [45, 44, 46],
    ("p", "a", "scratch"): [30, 31, 29],
    ("p", "a", "no_touch"): [10, 9, 12],
}


def test_the_goal_passes_only_when_every_test_does() -> None:
    (lines,) = verdicts(pooled(record(ARMS_MET)["results"])).values()
    assert [line.split()[0] for line in lines] == ["PASS", "PASS", "PASS"]
    close = dict(ARMS_MET) | {("p", "a", "scratch"): [38, 39, 37]}  # +12 points, too little
    (lines,) = verdicts(pooled(record(close)["results"])).values()
    assert [line.split()[0] for line in lines] == ["PASS", "FAIL", "PASS"]
    low = {k: [w - 6 for w in v] for k, v in ARMS_MET.items()}  # 78%: under 80
    (lines,) = verdicts(pooled(record(low)["results"])).values()
    assert lines[0].startswith("FAIL pretrained 78%")


def test_a_large_gap_with_overlapping_intervals_fails() -> None:
    few = {("p", "a", "pretrained"): [5], ("p", "a", "scratch"): [3]}  # of 50: 10% vs 6%
    tiny = [dict(r, episodes=6) for r in rows(few)]  # 5/6 vs 3/6: +33 points, 6 episodes each
    (lines,) = verdicts(pooled(tiny)).values()
    assert lines[1].startswith("FAIL pretrained - scratch = +33 points") and "overlap" in lines[1]
    assert "no_touch arm did not run" in lines[2]


def test_a_gap_that_rounds_to_no_points_reads_0_not_minus_0() -> None:
    # 212/450 against 214/450 (-0.4 points) and 216/450 (-0.9): "0" and "-1"
    counts = {
        ("p", "a", "pretrained"): [212],
        ("p", "a", "scratch"): [214],
        ("p", "a", "no_touch"): [216],
    }
    (lines,) = verdicts(pooled([dict(r, episodes=450) for r in rows(counts)])).values()
    assert lines[1].startswith("FAIL pretrained - scratch = 0 points")
    assert lines[2].startswith("FAIL pretrained - no_touch = -1 points")


def test_seed_gaps_sum_parts_per_seed_and_compare_the_spread_with_the_episodes() -> None:
    counts = {
        ("bc", "a", "pretrained"): [30, 40, 20],
        ("bc", "b", "pretrained"): [10, 10, 10],
        ("bc", "a", "scratch"): [25, 25, 25],
        ("bc", "b", "scratch"): [5, 15, 10],
    }
    # per seed, of 100 episodes: pretrained 40 / 50 / 30, scratch 30 / 40 / 35
    table = [
        *rows(counts),
        Row("bc", "a", "no_touch", 0, 3, 50).json(),  # one seed: no gaps
        Row("bc", "a", "scratch", 7, 50, 50).json(),  # a seed pretrained lacks: left out
    ]
    (gap,) = seed_gaps(table)
    assert (gap.policy, gap.arm) == ("bc", "scratch")
    assert gap.gaps == pytest.approx((0.10, 0.10, -0.05))
    assert gap.mean == pytest.approx(0.05)
    assert gap.seed_sd == pytest.approx(np.std([0.10, 0.10, -0.05], ddof=1))
    # pooled rates 120/300 and 105/300, 100 episodes a seed each
    assert gap.episode_sd == pytest.approx(np.sqrt(0.4 * 0.6 / 100 + 0.35 * 0.65 / 100))
    text = markdown({**record(counts), "results": table})
    line = (
        "Seeds, bc: pretrained - scratch per seed +10 / +10 / -5 points (mean +5); standard "
        "deviation between seeds 9 points, from the episodes alone 7."
    )
    assert line in text.splitlines()
    assert "no_touch per seed" not in text
    one_seed = {("bc", "a", "pretrained"): [5], ("bc", "a", "scratch"): [6]}
    assert "Seeds," not in markdown(record(one_seed))


def test_markdown_has_a_line_per_policy_and_part_and_the_references(tmp_path: Path) -> None:
    text = markdown(record(ARMS_MET))
    assert "| policy | part | pretrained | scratch | no_touch | expert | hold |" in text
    assert "| p | a | 90% (84%-94%; 135/150) | 60% (52%-67%; 90/150) |" in text
    (goal,) = [line for line in text.splitlines() if line.startswith("Goal, p")]
    assert goal.endswith("intervals apart.") and "pooled over 3 seeds" in text
    assert text.rstrip().splitlines()[-1].startswith("Seeds, p: pretrained - no_touch per seed")
    assert "| 48/50 | 0/50 |" in text
    path = plot(record(ARMS_MET), tmp_path / "x.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("missing", ["pretrained"])
def test_no_verdict_without_the_pretrained_arm(missing: str) -> None:
    counts = {k: v for k, v in ARMS_MET.items() if k[2] != missing}
    assert verdicts(pooled(rows(counts))) == {"p": ["the pretrained arm did not run: no verdict"]}


def test_the_plot_takes_a_table_with_arms_still_missing(tmp_path: Path) -> None:
    """Written after every run: one policy has every arm, the other only its first so far."""
    partial = dict(ARMS_MET) | {("q", "a", "pretrained"): [20, 21, 22]}
    path = plot(record(partial), tmp_path / "partial.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert "| q | a | 42% (34%-50%; 63/150) | - | - |" in markdown(record(partial))


def test_the_example_sheet_has_a_row_per_seed_0_run_that_kept_a_video(tmp_path: Path) -> None:
    """Runs as the experiment leaves them: eval/<part>.json and videos/<part>/<key>/seed_S.mp4;
    a run without a video (or a later seed) has no row; the row's colour is its video's."""
    kept = {("bc", "b", "scratch"): 160, ("bc", "a", "pretrained"): 40}  # grey level
    for (policy, part, arm), grey in kept.items():
        run = tmp_path / "runs" / policy / arm / "s0"
        frames = [np.full((40, 60, 3), grey, np.uint8)] * 9
        write_video(run / "videos" / part / "policy_0" / "seed_7.mp4", frames, fps=10)
        result = {"outcomes": [True], "lengths": [9], "seeds": [7], "videos": ["elsewhere.mp4"]}
        (run / "eval").mkdir(parents=True)
        (run / "eval" / f"{part}.json").write_text(json.dumps(result))
    counts = {k: [1, 2] for k in kept} | {("bc", "a", "no_touch"): [0, 0]}  # no video kept
    assert example_sheet(record(counts), tmp_path / "empty") is None
    path = example_sheet(record(counts), tmp_path)
    assert path == tmp_path / "tactile_insertion_videos.png"
    sheet = cv2.imread(str(path))
    assert sheet.shape[0] == 2 * (BAND_HEIGHT + SHEET_HEIGHT)  # seed 1 adds no row
    assert sheet.shape[1] == SHEET_COLUMNS * SHEET_HEIGHT * 60 // 40
    middle = [BAND_HEIGHT + SHEET_HEIGHT * 3 // 4, 2 * BAND_HEIGHT + SHEET_HEIGHT * 7 // 4]
    greys = [int(sheet[y, 100, 0]) for y in middle]  # first part a, then part b
    assert np.allclose(greys, [40, 160], atol=4), greys


def _saved(path: Path, counts: dict[tuple[str, str, str], list[int]], **extra: Any) -> Path:
    path.write_text(json.dumps({"command": f"made {path.name}", "commit": "c0ffee", **extra,
                                "results": rows(counts)}))  # fmt: skip
    return path


def test_gather_pools_the_rows_of_records_made_apart(tmp_path: Path) -> None:
    """Seeds 0-1 of two arms in one record, seed 2 of each in two others: one table, as if
    one run had made them all; extra fields of a row are dropped, sources named."""
    first = {k: v[:2] for k, v in ARMS_MET.items()}
    refs = [{"part": "a", "expert": [48, 50], "hold": [0, 50]}]
    paths = [_saved(tmp_path / "s01.json", first, references=refs)]
    for arm in ("pretrained", "scratch", "no_touch"):
        later = {k: v[2:] for k, v in ARMS_MET.items() if k[2] == arm}
        path = _saved(tmp_path / f"{arm}.json", later)
        found = json.loads(path.read_text())
        found["results"] = [{**r, "seed": 2, "n_action_steps": 4} for r in found["results"]]
        path.write_text(json.dumps(found))
        paths.append(path)
    gathered = gather(paths)
    assert markdown(gathered) == markdown(record(ARMS_MET))  # the same table and verdict
    assert gathered["settings"] == {"seeds": 3, "episodes": 50}
    assert all(set(r) == {f.name for f in fields(Row)} for r in gathered["results"])
    assert [(s["file"], s["rows"], s["commit"]) for s in gathered["sources"]] == [
        (str(paths[0]), 6, "c0ffee"), *((str(p), 1, "c0ffee") for p in paths[1:])]  # fmt: skip


def test_gather_refuses_what_cannot_share_a_table(tmp_path: Path) -> None:
    a = _saved(tmp_path / "a.json", {("p", "a", "scratch"): [3]})
    with pytest.raises(GatherError, match=r"row \('p', 'a', 'scratch', 0\) is also in .*a\.json"):
        gather([a, _saved(tmp_path / "b.json", {("p", "a", "scratch"): [4]})])
    fewer = tmp_path / "c.json"
    fewer.write_text(json.dumps({"results": rows({("p", "a", "no_touch"): [1]}, episodes=20)}))
    with pytest.raises(GatherError, match=r"\[20, 50\] episodes"):
        gather([a, fewer])
    refs = [{"part": "a", "expert": [48, 50], "hold": [0, 50]}]
    other = [{"part": "a", "expert": [40, 50], "hold": [0, 50]}]
    b = _saved(tmp_path / "d.json", {("p", "a", "pretrained"): [5]}, references=refs)
    c = _saved(tmp_path / "e.json", {("p", "a", "no_touch"): [5]}, references=other)
    with pytest.raises(GatherError, match=r"references of a .* differ from"):
        gather([b, c])
    (tmp_path / "bad.json").write_text('{"results": [{"policy": "p"}]}')
    with pytest.raises(GatherError, match=r"bad\.json: not an experiment record .*KeyError"):
        gather([tmp_path / "bad.json"])
    with pytest.raises(GatherError, match=r"missing\.json: not an experiment record"):
        gather([tmp_path / "missing.json"])
