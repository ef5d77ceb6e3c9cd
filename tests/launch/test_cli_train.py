"""`vitac train` facing a launch file that does not match its dataset."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from launch.cli import main
from launch.config import resolve_device
from launch.launch_file import load_launch
from tests.launch.test_cli import TINY
from training.run_dir import resolve_checkpoint


def test_a_launch_task_other_than_the_datasets_is_warned_about(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--dataset", str(demo_store), "--out", str(tmp_path / "a"), *TINY]
    assert main([*argv, "--set=train.steps=1"]) == 0
    said = capsys.readouterr()
    assert "warning" not in said.out  # the same task: nothing to say
    assert re.match(r"trained 1 steps at [\d.]+ it/s \(final train loss \d\.\d{4}", said.out)
    # stderr is not a terminal here: progress comes as log lines, the last one with the loss
    assert re.fullmatch(
        r"train 1/1 \(100%\) [\d.]+ it/s, loss [\d.]+, val [\d.]+, lr .*", said.err.strip()
    )
    argv[4] = str(tmp_path / "b")
    assert main([*argv, "--set=train.steps=1", "--set=task.params.clearance_mm=0.2"]) == 0
    warning = capsys.readouterr().out.splitlines()[0]
    assert warning.startswith("warning: ") and "is not the task" in warning
    assert "task.params.clearance_mm: " in warning and " -> 0.2" in warning


def test_the_run_directory_holds_its_resolved_launch_file_and_a_last_pointer(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    argv = ["train", "--dataset", str(demo_store), "--out", str(run), *TINY, "--device", "cpu"]
    assert main([*argv, "--set=train.steps=2", "--set=train.checkpoint_every=1"]) == 0
    capsys.readouterr()
    last = run / "checkpoints" / "last"
    assert last.is_symlink() and last.resolve() == (run / "checkpoints/step_0000002").resolve()
    # config.toml is a launch file giving the same run: every key, overrides applied
    resolved = load_launch(run / "config.toml")
    original = load_launch(None, [a.removeprefix("--set=") for a in TINY if a.startswith("--set=")])
    expected = original.config.model_copy(
        update={
            "train": original.config.train.model_copy(update={"steps": 2, "checkpoint_every": 1})
        }
    )
    assert resolved.config.model_dump(exclude={"task"}) == expected.model_dump(exclude={"task"})
    assert resolved.task_config == original.task_config  # all task params, written out
    # resuming moves the pointer; a run directory is accepted where a checkpoint is expected
    assert main([*argv, "--set=train.steps=3", "--resume"]) == 0
    assert last.resolve().name == "step_0000003"
    for given in (run, run / "checkpoints"):
        assert resolve_checkpoint(given) == run / "checkpoints/step_0000003"
    assert resolve_checkpoint(last) == last  # a checkpoint itself stays as given


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "cuda", "cuda:7"])
def test_a_device_this_machine_lacks_is_one_line(
    device: str, demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if device.startswith("cuda") and device != "cuda:x" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has that device")
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = ["train", "--dataset", str(demo_store), "--out", str(tmp_path / "r"), *TINY]
    assert main([*argv, "--device", device]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"vitac train: error: --device {device}")
    assert not (tmp_path / "r").exists()


def test_auto_is_cuda_when_present_else_cpu() -> None:
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("eval.inference.n_action_steps=20", "n_action_steps"),
        ("eval.inference.inference_steps=5", "inference_steps"),
    ],
)
def test_deployment_settings_that_cannot_run_the_policy_are_refused_before_training(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, named: str
) -> None:
    """Rollouts and the final eval use eval.inference; it used to fail at the first rollout."""
    out = tmp_path / "run"  # demo.toml: BC with horizon 10, so no DDIM steps and <= 9 actions
    argv = ["train", "--dataset", str(demo_store), "--out", str(out), *TINY, "--set", override]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "eval.inference does not fit" in err and named in err, err
    assert not out.exists()
