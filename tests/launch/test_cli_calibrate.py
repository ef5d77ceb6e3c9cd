"""`vitac task calibrate`: operator errors exit 2 with one line; a small run writes a readout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.cli import main
from sim.tactile_profile import profile
from sim.tasks.tactile_insertion import TactileInsertionEnv
from sim.touch_expert import TouchInsertionExpert
from sim.touch_readout import READOUT_FILE, TouchReadout, feature_count, feature_layout
from tests.launch.cli_helpers import assert_task_operator_error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tactile_insertion", "--out", "{full}"], "exists"),
        (["tactile_insertion", "--out", "{file}"], "exists"),
        (["tactile_insertion", "--out", "{file}/readout.json"], "folder is a file"),
        (["lift"], "only tactile_insertion has a touch readout"),
        (["tactile_insertion", "--episodes", "3"], "--episodes >= 4"),
        (["tactile_insertion", "--seed", "-1"], "--seed >= 0"),
        (["tactile_insertion", "--set", "experiment.seeds=2"], "only task parameters"),
        (["tactile_insertion", "--set", "task.params.tactile_units=-1"], "tactile_units"),
        (["tactile_insertion", "--set", "task.params.no_such_key=1"], "no_such_key"),
    ],
)
def test_operator_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert_task_operator_error(tmp_path, capsys, "calibrate", args, message)


def test_calibrate_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "readout.json"
    args = ["task", "calibrate", "tactile_insertion", "--episodes", "4", "--seed", "60000"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "held-out side accuracy" in printed and str(out) in printed
    record = json.loads(out.read_text())
    assert record["command"] == " ".join(["vitac", *args, "--out", str(out)])
    layout = feature_layout(profile("gelsight_mini"))
    assert record["features"] == layout and 6 <= record["episodes_with_presses"] <= 12
    assert record["sensor"] == {"profile": "gelsight_mini", "size": [60, 80], "markers": True}
    assert TouchReadout.load(out).weights.shape == (2, feature_count(layout) + 1)
    assert main([*args, "--out", str(out), "--no-progress"]) == 2  # never overwritten


def test_calibrating_across_sensor_units_records_their_spread(tmp_path: Path) -> None:
    """A readout fitted on pads of sensor units names their spread, so that the expert of a
    nominal env refuses it (and the other way round)."""
    out = tmp_path / "units.json"
    args = ["task", "calibrate", "tactile_insertion", "--episodes", "4", "--seed", "60000"]
    units = [
        "--set",
        "task.params.tactile_units=1000000",
        "--set",
        "task.params.tactile_unit_spread=0.5",
    ]
    assert main([*args, *units, "--out", str(out), "--no-progress"]) == 0
    record = json.loads(out.read_text())
    assert record["sensor"]["unit_spread"] == 0.5
    assert "--set task.params.tactile_units=1000000" in record["command"]
    env = TactileInsertionEnv({"tactile_units": 8, "tactile_unit_spread": 0.5})
    nominal = TactileInsertionEnv()
    try:
        readout = TouchReadout.load(out)
        TouchInsertionExpert(env, readout=readout)  # calibrated for it
        with pytest.raises(ValueError, match="calibrated on"):
            TouchInsertionExpert(nominal, readout=readout)
        with pytest.raises(ValueError, match="calibrated on"):
            TouchInsertionExpert(env, readout=TouchReadout.load(READOUT_FILE))
    finally:
        env.close()
        nominal.close()
