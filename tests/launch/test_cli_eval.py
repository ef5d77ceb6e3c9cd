"""`vitac eval`: settings from the launch file's [eval], --set and flags; the checkpoint's
task (changeable with --set task.*), checked against the policy's inputs before any episode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.cli import main
from tests.policies.conftest import tiny_config
from training.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def checkpoint(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "run"
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1)
    return train(tiny_config(), config, demo_store, out, progress=False).checkpoint


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vitac eval: error: "), err
    return err


def test_settings_come_from_the_launch_file_then_set_then_flags(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    launch = tmp_path / "eval.toml"
    launch.write_text('[eval]\nepisodes = 3\nseed = 40\nbaselines = ["hold"]\nvideos = 0\n')
    out = tmp_path / "out"
    argv = ["eval", str(checkpoint), "--config", str(launch), "--set", "eval.seed=50"]
    argv += ["--episodes", "1", "--baseline", "random", "--baseline", "hold"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["episodes"] == 1  # the flag beats the file
    assert results["config"]["seed"] == 50  # --set beats the file
    assert results["config"]["baselines"] == ["hold", "random"]  # --baseline adds, once each
    assert [r["name"] for r in results["results"]] == ["policy", "hold (zero motion)", "random"]
    assert all(r["seeds"] == [50] for r in results["results"])
    assert not (out / "videos").exists()  # eval.videos = 0 in the file


def test_another_image_size_is_refused_before_any_episode(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["eval", str(checkpoint), "--set", "task.params.image_size=48", "--out", str(out)]
    assert main(argv) == 2  # used to run silently on resized inputs
    err = _one_line_error(capsys)
    assert "io.obs_shapes.rgb.scene: [32, 32, 3] -> [48, 48, 3]" in err
    assert not out.exists()


def test_a_task_without_the_policys_inputs_is_refused_in_one_line(
    checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(checkpoint), "--set", "task.name=tactile_insertion"]) == 2
    err = _one_line_error(capsys)  # used to be a 44-line traceback ending in a KeyError
    assert "the policy reads ['proprio.ee_pos'" in err and "'tactile_insertion' does not" in err


def test_a_task_override_that_fits_is_evaluated(
    checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", str(checkpoint), "--episodes", "1", "--no-progress"]
    assert main([*argv, "--set", "task.params.clearance_mm=0.5", "--set", "eval.baselines=[]"]) == 0
    assert capsys.readouterr().out.startswith("policy: success")


def test_an_expert_variant_baseline_is_checked_against_the_checkpoints_task(
    checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--baseline expert:VARIANT` names a variant of the task's expert; peg insertion has
    none but the default, so a variant of tactile insertion's expert is refused in one line."""
    argv = ["eval", str(checkpoint), "--episodes", "1", "--no-progress", "--videos", "0"]
    assert main([*argv, "--baseline", "expert:oracle"]) == 2
    err = _one_line_error(capsys)
    assert "eval.baselines: no expert variant 'oracle' for 'peg_insertion'" in err
    assert main([*argv, "--baseline", "wave"]) == 2
    assert "unknown baseline 'wave'" in _one_line_error(capsys)
    assert main([*argv, "--set", "eval.baselines=[]", "--baseline", "expert:default"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["policy", "scripted expert"]


def test_an_execution_override_that_does_not_fit_the_chunk_is_one_line(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"  # tiny_config: horizon 6, n_obs_steps 2, so at most 5 per chunk
    argv = ["eval", str(checkpoint), "--set", "eval.inference.n_action_steps=6", "--out", str(out)]
    assert main(argv) == 2
    err = _one_line_error(capsys)
    assert "eval.inference does not fit" in err and "n_action_steps" in err
    assert not out.exists()
    assert main([*argv[:2], "--set", "eval.inference.rtc=true", "--out", str(out)]) == 2
    err = _one_line_error(capsys)  # the checkpoint is BC: nothing to inpaint
    assert "eval.inference does not fit" in err and "rtc inpaints" in err
    assert not out.exists()


def test_an_execution_override_is_recorded_with_the_results(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["eval", str(checkpoint), "--episodes", "1", "--no-progress", "--out", str(out)]
    argv += ["--set", "eval.inference.n_action_steps=1", "--set", "eval.baselines=[]"]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["inference"]["n_action_steps"] == 1
