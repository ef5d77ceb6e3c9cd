"""`vitac run`: a short run on the sim twin writes its figures and episodes; everything an
operator can get wrong is refused in one line, exit 2, before anything moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.cli import main
from launch.cli_realtime import _seam_line
from launch.executor import SeamStats
from launch.realtime import EpisodeReport, summary
from sensing.store import EpisodeStore
from tests.conftest import TINY_TASK
from tests.policies.conftest import tiny_config
from training.trainer import TrainConfig, train

TASK = "\n".join(["[task]", 'name = "peg_insertion"', "[task.params]"]
                 + [f"{k} = {v}" for k, v in TINY_TASK.items()])  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1)
    root = tmp_path_factory.mktemp("cli_run")
    return train(tiny_config(), config, demo_store, root / "run", progress=False).checkpoint


def launch_file(tmp_path: Path, run: str = "") -> Path:
    path = tmp_path / "rig.toml"
    path.write_text(TASK + "\n[run]\nmax_seconds = 1.5\n" + run)
    return path


def test_a_run_prints_its_figures_and_records_its_episodes(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    streams = '[run.streams."rgb.scene"]\nrate_hz = 5\nlatency_ms = 40\njitter_ms = 10\n'
    path = launch_file(tmp_path, 'join = "ensemble"\n' + streams)
    out = tmp_path / "out"
    argv = ["run", str(path), "--checkpoint", str(checkpoint), "--out", str(out),
            "--episodes", "2", "--no-progress", "--set", "run.ensemble_k=0.1"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "success: 0/2" in printed and "sensor -> command: p50" in printed
    assert "ticks beside them without a hold" in printed
    record = json.loads((out / "run.json").read_text())
    assert record["command"][-2:] == ["--set", "run.ensemble_k=0.1"]
    assert record["config"]["join"] == "ensemble" and record["config"]["ensemble_k"] == 0.1
    assert [e["ended"] for e in record["episodes"]] == ["time limit"] * 2
    assert record["summary"]["sensor_to_command_ms"]["p50"] > 40  # the camera's latency, at least
    store = EpisodeStore.open(out / "episodes.zarr")
    assert store.n_episodes == 2
    assert [store.episode_meta(i)["seed"] for i in range(2)] == [100000, 100001]


def test_a_checkpoint_that_ensembles_in_lockstep_ensembles_in_real_time_unless_told(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = TrainConfig(steps=1, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1)
    trained = train(tiny_config(temporal_ensemble=0.2), config, demo_store, tmp_path / "run",
                    progress=False).checkpoint  # fmt: skip
    argv = ["run", str(launch_file(tmp_path)), "--checkpoint", str(trained), "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "run.join: ensemble, as the checkpoint joins its chunks" in capsys.readouterr().out
    record = json.loads((tmp_path / "a" / "run.json").read_text())
    assert (record["config"]["join"], record["config"]["ensemble_k"]) == ("ensemble", 0.2)
    assert main([*argv, "--out", str(tmp_path / "b"), "--set", "run.join=switch"]) == 0
    assert "run.join" not in capsys.readouterr().out
    assert json.loads((tmp_path / "b" / "run.json").read_text())["config"]["join"] == "switch"


def test_seams_that_all_follow_a_hold_are_reported_as_unmeasured_not_as_zero() -> None:
    def report(seams: SeamStats) -> EpisodeReport:
        return EpisodeReport(0, "success", True, 1.0, 10, 10, 5.0, seams=seams)

    held = summary([report(SeamStats(3, 0, None, None, (0, 3)))])
    assert held["seam_acceleration"] is None and held["seams"] == 3
    assert "at chunk seams none measured (3 seams, 0 ticks" in _seam_line(held)
    both = summary([report(SeamStats(3, 0, None, 0.5, (0, 3))),
                    report(SeamStats(2, 4, 2.0, 0.25, (0, 3)))])  # fmt: skip
    assert (both["seam_acceleration"], both["within_chunk_acceleration"]) == (2.0, 0.5)
    assert "at chunk seams 2.00 m/s^2 (5 seams, 4 ticks" in _seam_line(both)


@pytest.mark.parametrize(
    ("run", "args", "message"),
    [
        ("bogus = 1\n", [], "run.bogus"),
        ("", ["--checkpoint", "{missing}"], "no such checkpoint directory"),
        ("", ["--no-checkpoint"], "run.checkpoint is not set"),
        ('[run.streams."rgb.wrist"]\nlatency_ms = 5\n', [], "no observation ['rgb.wrist']"),
        ('[run.inject]\nstop_stream = "rgb.wrist"\n', [], "run.inject.stop_stream"),
        ("[run.inference]\ntemporal_ensemble = 0.1\n", [], "join = 'ensemble'"),
        ("[run.inference]\nn_action_steps = 50\n", [], "run.inference does not fit"),
        ("", ["--out", "{existing}"], "exists"),
        ('join = "rtc"\n', [], "cannot (rtc needs diffusion"),
        (
            "[run.safety]\nworkspace_low = [0.4, 0, 0.1]\nworkspace_high = [0.3, 0.1, 0.2]\n",
            [],
            "run.safety: workspace box",
        ),
    ],
)
def test_operator_mistakes_are_refused_before_anything_moves(
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    run: str,
    args: list[str],
    message: str,
) -> None:
    existing = tmp_path / "existing"
    existing.mkdir()
    values = {"missing": tmp_path / "nope", "existing": existing}
    args = [a.format(**values) for a in args]
    if "--no-checkpoint" in args:
        args.remove("--no-checkpoint")
    elif "--checkpoint" not in args:
        args += ["--checkpoint", str(checkpoint)]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "new")]
    assert main(["run", str(launch_file(tmp_path, run)), *args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vitac run: error:"), err
    assert message in err
    assert not (tmp_path / "new").exists()


def test_a_checkpoint_of_another_task_is_refused(
    insertion: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = launch_file(tmp_path)
    args = ["run", str(path), "--checkpoint", str(insertion[1]), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not have" in err


def test_the_arm_twin_runs_through_the_supervisor_on_its_joints(
    insertion: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "arm.toml"
    path.write_text('[task]\nname = "tactile_insertion"\n[task.params]\nimage_size = 32\n'
                    "[run]\nmax_seconds = 2.0\nrecord = false\n")  # fmt: skip
    out = tmp_path / "out"
    argv = ["run", str(path), "--checkpoint", str(insertion[1]), "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    record = json.loads((out / "run.json").read_text())
    (episode,) = record["episodes"]
    assert episode["ended"] == "time limit" and episode["sent"] > 5
    assert not (out / "episodes.zarr").exists()
