"""The `vitac` command, driven through `main()` exactly as the console script does."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from launch.benchmarks import BENCHMARKS
from launch.cli import build_parser, main
from launch.config import DEFAULT_LAUNCH_FILE
from sim import TASKS
from tests.conftest import TINY_TASK

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    *(f"--set=task.params.{k}={v}" for k, v in TINY_TASK.items()),
    "--set=collect.episodes=3",
    "--set=collect.noise_std=0.001",
    "--set=policy.conv_widths=[4, 8]",
    "--set=policy.hidden_dim=32",
    "--set=train.steps=8",
    "--set=train.batch_size=8",
    "--set=train.checkpoint_every=4",
    "--set=train.val_every=4",
    "--set=eval.episodes=2",
    "--no-progress",
]


def _parsers() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """Every command and action with its parser: (["dataset", "verify"], parser), ..."""
    found: list[tuple[list[str], argparse.ArgumentParser]] = []

    def walk(words: list[str], parser: argparse.ArgumentParser) -> None:
        found.append((words, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk([*words, name], child)

    walk([], build_parser())
    return found


@pytest.mark.parametrize("command", [w for w, _ in _parsers()], ids=" ".join)
def test_help_for_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Each command says what it does and shows an example; every argument has help."""
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: vitac") and "example: vitac" in out
    parser = dict((" ".join(w), p) for w, p in _parsers())[" ".join(command)]
    assert parser.description
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            assert action.help, f"{command}: {action.dest} has no help"


def test_help_and_version_answer_without_importing_torch() -> None:
    code = (
        "import sys; from launch.cli import main\n"
        "for argv in (['--help'], ['eval', '--help'], ['--version']):\n"
        "    try: main(argv)\n"
        "    except SystemExit: pass\n"
        "assert 'torch' not in sys.modules and 'mujoco' not in sys.modules, 'heavy import'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert f"\nvitac {version('vitac')}\n" in done.stdout  # --version, after the two helps


def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["demo", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    for line in (
        "policy: success",
        "hold (zero motion): success",
        "random: success",
        "dataset:",
        "checkpoint:",
        "plot:",
        "videos:",
    ):
        assert line in printed
    for produced in (
        "dataset.zarr",
        "train/checkpoints/step_0000008",
        "summary.png",
        "videos/policy/seed_100000.mp4",
        "videos/hold/seed_100000.mp4",
        "videos/random/seed_100000.mp4",
        "report.json",
        "train/metrics.jsonl",
    ):
        assert (out / produced).exists(), produced
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["eval"]] == ["policy", "hold (zero motion)", "random"]
    # paths inside the run directory are relative to it; others absolute
    assert report["eval"][0]["videos"] == ["videos/policy/seed_100000.mp4"]
    assert report["train"]["checkpoint"] == "train/checkpoints/step_0000008"
    assert report["launch_file"] == str(DEFAULT_LAUNCH_FILE.resolve())
    assert report["collect"]["episodes"] == 3

    # the same run directory is never overwritten
    assert main(["demo", "--out", str(out), *TINY]) == 2
    assert "exists and is not empty" in capsys.readouterr().err

    # eval a checkpoint on the task recorded in it
    checkpoint = out / "train/checkpoints/step_0000008"
    eval_args = ["eval", str(checkpoint), "--episodes", "2", "--seed", "7", "--no-progress"]
    assert (
        main(["eval", "--checkpoint", str(checkpoint), *eval_args[2:], "--baseline", "hold"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("policy: success") and lines[1].startswith("hold (zero motion)")

    # ... with a results directory: JSON per episode, plot, the first episode's videos
    evals = tmp_path / "eval"
    assert main([*eval_args, "--videos", "1", "--out", str(evals)]) == 0
    printed = capsys.readouterr().out
    assert "results:" in printed and "plot:" in printed and "videos:" in printed
    results = json.loads((evals / "results.json").read_text())
    assert results["task"] == "peg_insertion" and results["config"]["workers"] == 1
    assert results["checkpoint"] == str(checkpoint.resolve())  # outside the eval directory
    assert results["results"][0]["videos"] == ["videos/policy/seed_7.mp4"]
    by_name = {r["name"]: r for r in results["results"]}
    assert list(by_name) == ["policy", "hold (zero motion)", "random"]
    for r in by_name.values():
        assert r["seeds"] == [7, 8] and len(r["successes"]) == len(r["lengths"]) == 2
        assert len(r["ci95"]) == 2 and 0.0 <= r["ci95"][0] <= r["ci95"][1] <= 1.0
    assert (evals / "summary.png").stat().st_size > 0
    assert sorted(p.relative_to(evals).as_posix() for p in evals.rglob("*.mp4")) == [
        f"videos/{actor}/seed_7.mp4" for actor in ("hold", "policy", "random")
    ]
    assert main([*eval_args, "--out", str(evals)]) == 2  # never overwritten
    assert "exists and is not empty" in capsys.readouterr().err

    # train more steps, resuming the run
    assert (
        main(
            [
                "train",
                "--dataset",
                str(out / "dataset.zarr"),
                "--out",
                str(out / "train"),
                "--resume",
                *TINY,
                "--set=train.steps=12",
            ]
        )
        == 0
    )
    assert (out / "train/checkpoints/step_0000012").is_dir()


def test_collect_then_dataset_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "d.zarr"
    assert main(["collect", "--out", str(store), *TINY, "--set=collect.episodes=1"]) == 0
    assert "stored 1/1 episodes" in capsys.readouterr().out
    assert main(["dataset", "info", str(store)]) == 0
    info = capsys.readouterr().out
    assert "rgb.scene" in info and "tactile.left" in info and "action" in info


def test_bad_launch_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    launch = tmp_path / "bad.toml"
    launch.write_text(
        '[task]\nname = "peg_insertion"\n[task.params]\nclearance_mm = -1\n[train]\nbatchsize = 3\n'
    )
    assert main(["collect", "--config", str(launch), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "train.batchsize: unknown key; allowed keys here:" in err and "batch_size" in err
    assert "Traceback" not in err and not (tmp_path / "x").exists()

    launch.write_text('[task]\nname = "peg_insertion"\n[task.params]\nclearance_mm = -1\n')
    assert main(["collect", "--config", str(launch), "--out", str(tmp_path / "x")]) == 2
    assert (
        "task.params.clearance_mm: Input should be greater than 0 (got -1)"
        in capsys.readouterr().err
    )

    launch.write_text('[task]\nname = "juggling"\n')
    assert main(["collect", "--config", str(launch), "--out", str(tmp_path / "x")]) == 2
    assert f"unknown task 'juggling'; available: {sorted(TASKS)}" in capsys.readouterr().err


def test_corrupt_store_is_one_clear_error(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.zarr"
    shutil.copytree(demo_store, broken)
    shutil.rmtree(broken / "meta")
    assert main(["dataset", "info", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vitac dataset: error:") and str(broken) in err


def test_bad_checkpoint_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt/config.json").write_text("[]")
    assert main(["eval", "--checkpoint", str(tmp_path / "ckpt"), "--no-progress"]) == 2
    assert "this vitac reads 'vitac.policy/1'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "workers: Input should be greater than or equal to 1 (got 0)"),
        (["--videos", "2"], "--videos needs --out DIR"),
        ([], "no such checkpoint directory"),
    ],
)
def test_bad_eval_options_are_one_clear_error(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(tmp_path / "missing"), *args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vitac eval: error:") and message in err and "Traceback" not in err


def test_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "warp-drive"]) == 2
    err = capsys.readouterr().err
    assert f"unknown benchmark(s) ['warp-drive']; available: {sorted(BENCHMARKS)}" in err


def test_bench_quick_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "store", "--quick", "--json", str(out)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[1/1\] store \(\d+ s\)", said[0])  # printed as it ends
    assert said[1].split()[:2] == ["benchmark", "value"] and "all:" not in said
    assert said[-1] == f"json: {out}"
    results = json.loads(out.read_text())["results"]
    assert [r["name"] for r in results][:2] == ["store.write", "store.read_windows.zarr"]
