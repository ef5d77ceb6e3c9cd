"""Every command, driven with what an operator gets wrong: missing paths, files where
directories are expected (and the reverse), garbage files, bad --set values. Each must end in
exit 2 and one line naming the problem: no traceback, and nothing of the operator's touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.cli import main

# {file}: a text file; {garbage}: binary bytes; {empty}: an empty directory; {full}: a directory
# holding a file; {missing}: nothing there; {under}: a path below {file}
BAD_LAUNCH = [
    ["--config", "{missing}"],
    ["--config", "{empty}"],
    ["--config", "{garbage}"],
    ["--config", "{file}"],
    ["--set", "train.steps"],
    ["--set", "=5"],
    ["--set", "train.steps=-1"],
    ["--set", "train.stepz=5"],
    ["--set", "train=5"],
    ["--set", "train.steps.x=5"],
    ["--set", "task.name=nosuch"],
    ["--set", "task.params.clearance_mm=wide"],
]
CASES: list[list[str]] = [
    *(["demo", "--out", "{missing}", *bad] for bad in BAD_LAUNCH),
    *(["collect", "--out", "{missing}", *bad] for bad in BAD_LAUNCH),
    *(["train", "--dataset", "{missing}", "--out", "{missing}", *bad] for bad in BAD_LAUNCH),
    ["demo", "--out", "{file}"],
    ["demo", "--out", "{under}"],
    ["demo", "--out", "{full}"],
    ["collect", "--out", "{file}"],
    ["collect", "--out", "{under}"],
    ["collect", "--out", "{full}"],
    ["collect", "--out", "{empty}"],
    ["collect", "--out", "{missing}", "--resume"],
    ["collect", "--out", "{file}", "--resume"],
    ["collect", "--out", "{full}", "--resume"],
    *(["train", "--dataset", p, "--out", "{missing}"] for p in ("{missing}", "{file}", "{empty}")),
    ["train", "--dataset", "{full}", "--out", "{missing}"],
    ["train", "--dataset", "{garbage}", "--out", "{missing}"],
    ["train", "--dataset", "{missing}", "--out", "{file}"],
    ["train", "--dataset", "{missing}", "--out", "{under}"],
    *(["eval", p] for p in ("{missing}", "{file}", "{empty}", "{full}", "{garbage}", "{under}")),
    ["eval"],
    ["eval", "{full}", "--checkpoint", "{full}"],
    ["eval", "{full}", "--out", "{file}"],
    ["eval", "{full}", "--episodes", "0"],
    ["eval", "{full}", "--workers", "0"],
    ["eval", "{full}", "--videos", "2"],
    ["eval", "{full}", "--set", "eval.episodes=many"],
    ["eval", "{full}", "--config", "{garbage}"],
    *(
        ["dataset", action, p]
        for action in ("info", "verify", "repair", "view")
        for p in ("{missing}", "{file}", "{empty}", "{full}", "{garbage}", "{under}")
    ),
    ["dataset", "view", "{full}", "--out", "{file}"],
    *(
        ["dataset", "action-error", p, "--checkpoint", c]
        for p in ("{missing}", "{file}", "{empty}", "{garbage}")
        for c in ("{missing}", "{full}")
    ),
    ["dataset", "action-error", "{full}", "--checkpoint", "{full}", "--json", "{under}"],
    ["dataset", "action-error", "{full}", "--checkpoint", "{full}", "--windows", "0"],
    *(
        ["encoders", "import-t3", p, "--out", "{missing}"]
        for p in ("{missing}", "{file}", "{full}")
    ),
    ["encoders", "import-t3", "{full}", "--out", "{file}"],
    ["encoders", "import-t3", "{full}", "--out", "{under}"],
    ["encoders", "import-t3", "{full}", "--out", "{missing}", "--head", "cls"],
    *(["encoders", "make-data", "--out", p] for p in ("{file}", "{under}", "{full}", "{empty}")),
    ["encoders", "make-data", "--out", "{missing}", "--samples", "0"],
    *(["pretrain", "--data", p, "--out", "{missing}"] for p in ("{missing}", "{file}", "{full}")),
    ["pretrain", "--data", "{full}", "--out", "{file}"],
    ["pretrain", "--data", "{full}", "--out", "{missing}", "--set", "pretrain.tasks=['slip']"],
    *(["encoders", "transfer", "--out", p] for p in ("{file}", "{under}", "{full}")),
    *(["encoders", "transfer", "--out", "{missing}", "--data", p] for p in ("{file}", "{empty}")),
    ["encoders", "transfer", "--out", "{missing}", "--set", "transfer.tasks=['slip']"],
    ["encoders", "transfer", "--out", "{missing}", "--set", "transfer.target=sim_gelsight"],
    ["encoders", "transfer", "--out", "{missing}", "--set", "transfer.samples=[5000]"],
    ["pretrain", "--data", "{full}", "--out", "{missing}", "--device", "cuda:7"],
    ["task", "report", "nosuch"],
    ["task", "report", "peg_insertion", "--out", "{file}"],
    ["task", "report", "peg_insertion", "--out", "{full}"],
    ["task", "report", "peg_insertion", "--set", "task.params.clearance_mm=wide"],
    ["task", "report", "peg_insertion", "--set", "train.steps=3"],
    ["task", "probe", "nosuch"],
    ["task", "probe", "tactile_insertion", "--out", "{file}"],
    ["task", "probe", "tactile_insertion", "--expert", "nosuch"],
    ["task", "calibrate", "nosuch", "--out", "{missing}"],
    ["task", "calibrate", "tactile_insertion", "--out", "{full}"],
    ["task", "calibrate", "tactile_insertion", "--out", "{under}"],
    ["bench", "nosuch"],
    ["bench", "sim", "--json", "{under}"],
    ["bench", "sim", "--json", "{empty}"],
]


@pytest.mark.parametrize("argv", CASES, ids=" ".join)
def test_operator_mistakes_end_in_one_line_and_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {
        "file": tmp_path / "file",
        "garbage": tmp_path / "garbage",
        "empty": tmp_path / "empty",
        "full": tmp_path / "full",
        "missing": tmp_path / "missing",
        "under": tmp_path / "file" / "sub",
    }
    paths["file"].write_text("mine")
    paths["garbage"].write_bytes(b"\xff\xfe\x00\x9c" * 64)
    paths["empty"].mkdir()
    paths["full"].mkdir()
    (paths["full"] / "keep.txt").write_text("mine")
    filled = [a.format(**paths) for a in argv]
    assert main([*filled, "--no-progress"] if "--no-progress" in _flags(argv) else filled) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith(f"vitac {argv[0]}: error: "), err
    assert (
        paths["file"].read_text() == "mine" and (paths["full"] / "keep.txt").read_text() == "mine"
    )
    assert not paths["missing"].exists() and sorted(tmp_path.iterdir()) == sorted(
        p for k, p in paths.items() if k not in ("missing", "under")
    )


def _flags(argv: list[str]) -> set[str]:
    """Commands taking --no-progress (every long one): given, so nothing draws a bar."""
    long = ("demo", "collect", "train", "eval", "task", "pretrain")
    return {"--no-progress"} if argv[0] in long else set()
