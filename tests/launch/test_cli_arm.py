"""`vitac arm` against the emulator: `emulate` as its own process (first line: the port), and
scan, calibrate, state and move through it; operator mistakes are one line, exit 2."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from drivers.dynamixel.arm_spec import ARMS, load_calibration
from drivers.dynamixel.emulator import EmulatedBus, arm_servos
from drivers.dynamixel.pty_server import PtyServer
from drivers.poses import POSES
from launch.cli import main
from launch.cli_arm import emulator_process


@pytest.fixture
def port() -> Iterator[str]:
    with PtyServer(EmulatedBus(arm_servos(ARMS["wx250s"].servos()))) as server:
        yield server.path


def test_emulate_prints_its_port_first_and_any_client_can_scan_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with emulator_process(30) as path:  # `vitac arm emulate`, its first line read
        assert path.startswith("/dev/pts/")
        assert main(["arm", "scan", "--port", path, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [s["id"] for s in found["servos"]] == list(range(1, 10))
    assert {s["model"] for s in found["servos"]} == {"xm430-w350", "xl430-w250"}


def test_calibrate_state_and_move(
    port: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cal = tmp_path / "arm.json"
    grip = ["--gripper-open", "2600", "--gripper-closed", "1500"]
    assert main(["arm", "calibrate", "--port", port, "--out", str(cal), "--yes", *grip]) == 0
    assert load_calibration(cal).gripper.open == 2600
    assert main(["arm", "calibrate", "--port", port, "--out", str(cal), "--yes", *grip]) == 2
    assert "exists; calibration never overwrites" in capsys.readouterr().err
    move = ["arm", "move", "home", "--port", port, "--calibration", str(cal)]
    assert main([*move, "--speed", "3.0"]) == 2  # faster than the supervisor allows
    assert "home not reached" in capsys.readouterr().err
    assert main(move) == 0
    out = capsys.readouterr().out
    assert out.startswith("home: reached within 0.00")
    applied = out.rstrip().split("supervisor limits applied: ")[1]
    if " 0 missed" in out:  # on time, the default speed needs no limit
        assert applied == "none"
    else:  # a late tick catches up two ticks' motion: the supervisor may slow it, no more
        assert re.fullmatch(r"(none|((joint_speed|tcp_speed) \d+(, )?)+)", applied), applied
    assert main(["arm", "state", "--port", port, "--calibration", str(cal), "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert np.allclose(list(state["joints_rad"].values()), POSES["home"], atol=2e-3)
    assert state["servos"]["9"]["errors"] == [] and state["servos"]["2"]["volts"] == 12.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["arm", "scan", "--port", "/dev/nonexistent-tty"], "cannot open the servo bus"),
        (["arm", "state", "--port", "PORT", "--calibration", "/nonexistent.json"],
         "no calibration file; make one with vitac arm calibrate"),
        (["arm", "scan", "--port", "PORT", "--baud", "57600"], None),  # a pty ignores baud
        (["arm", "emulate", "--fault", "melt"], "KIND is one of crc, drop"),
        (["arm", "move", "home", "--port", "PORT", "--calibration", "CAL", "--workspace", "1,2"],
         "expected 6 numbers"),
    ],
)  # fmt: skip
def test_operator_mistakes_are_one_line(
    argv: list[str], message: str | None, port: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from drivers.dynamixel.arm_spec import default_calibration

    default_calibration("wx250s").save(tmp_path / "cal.json")
    argv = [port if a == "PORT" else str(tmp_path / "cal.json") if a == "CAL" else a for a in argv]
    status = main(argv)
    if message is None:
        assert status == 0
        return
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_servo_missing_from_the_bus_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drivers.dynamixel.arm_spec import default_calibration

    servos = {id: m for id, m in ARMS["wx250s"].servos().items() if id != 7}
    default_calibration("wx250s").save(tmp_path / "cal.json")
    with PtyServer(EmulatedBus(arm_servos(servos))) as server:
        status = main(["arm", "move", "sleep", "--port", server.path, "--calibration",
                       str(tmp_path / "cal.json")])  # fmt: skip
    assert status == 2 and "servo 7 (wrist_angle) does not answer" in capsys.readouterr().err
