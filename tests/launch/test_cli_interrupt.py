"""Stopping long commands: a pre-emption (SIGTERM) or Ctrl-C saves the work and says how to
go on; the printed command continues the job."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launch.cli import main
from sensing.store import EpisodeStore
from tests.launch.test_cli import TINY
from training.run_dir import latest_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_during_train_saves_a_checkpoint_and_prints_the_resume_command(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--dataset", str(demo_store), "--out", str(out), *TINY]
    argv += ["--set=train.steps=100000", "--set=train.checkpoint_every=100000"]
    argv += ["--set=train.log_every=1", "--set=train.threads=1"]
    child = subprocess.Popen(
        [sys.executable, "-m", "launch.cli", *argv],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "metrics.jsonl").is_file() or not (out / "metrics.jsonl").read_text():
            assert child.poll() is None and time.monotonic() < deadline, child.stderr
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("train ")]  # progress
    assert len(lines) == 2, err
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None  # saved on the signal, long before any periodic checkpoint
    step = int(checkpoint.name.removeprefix("step_"))
    assert lines[0] == (
        f"vitac train: interrupted (SIGTERM): stopped at step {step} of 100000; saved {checkpoint}"
    )
    assert lines[1].startswith("vitac train: resume: vitac train ")
    resume = shlex.split(lines[1].removeprefix("vitac train: resume: "))
    assert resume[-1] == "--resume" and resume[:2] == ["vitac", "train"]
    # the printed command continues the run (here: two more steps)
    assert main([*resume[1:], f"--set=train.steps={step + 2}"]) == 0
    assert latest_checkpoint(out) == checkpoint.with_name(f"step_{step + 2:07d}")
    assert "warning: train.steps changed (100000 ->" in capsys.readouterr().out


def test_collect_resume_from_the_cli_continues_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "d.zarr"
    assert main(["collect", "--out", str(store), *TINY, "--set=collect.episodes=1"]) == 0
    assert (
        main(["collect", "--out", str(store), *TINY, "--set=collect.episodes=2", "--resume"]) == 0
    )
    assert "stored 1/1 episodes" in capsys.readouterr().out.splitlines()[-1]
    opened = EpisodeStore.open(store)
    assert opened.n_episodes == 2 and opened.attrs["collect"]["episodes"] == 2
    assert [opened.episode_meta(i)["seed"] for i in range(2)] == [0, 1]
    assert main(["collect", "--out", str(store), *TINY, "--set=collect.seed=5", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "attrs.collect.seed: 0 -> 5" in err
