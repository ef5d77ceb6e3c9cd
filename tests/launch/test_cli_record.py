"""`vitac record`: the scripted expert on the wall-clock sim twin, recorded through the rig's
streams into a store a policy can train on; a stream that stops ends the episode, kept."""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from launch.cli import main
from launch.teleop import MAX_SPEED_M_S
from sensing.store import EpisodeStore
from tests.launch.terminal import operator_typing
from tests.launch.test_cli_realtime import launch_file
from tests.policies.conftest import tiny_config
from training.dataset import load_datasets


def test_the_expert_is_recorded_in_real_time_into_a_trainable_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = launch_file(tmp_path, '[run.streams."rgb.scene"]\nlatency_ms = 30\n')
    out = tmp_path / "rec.zarr"
    argv = ["record", str(path), "--out", str(out), "--episodes", "2",
            "--set", "run.max_seconds=8"]  # fmt: skip
    assert main(argv) == 0
    assert "recorded 2 episodes" in capsys.readouterr().out
    store = EpisodeStore.open(out)
    assert store.n_episodes == 2
    assert sum(store.episode_meta(i)["success"] for i in range(2)) >= 1  # the expert inserts
    episode = store.episode(0)
    assert np.isfinite(episode["action"]).all() and len(episode["action"]) >= 10
    # the actions move the hand: the expert drove the sim, not the hold action
    assert np.ptp(episode["proprio.ee_pos"][:, 2]) > 0.005
    train, _, io, _ = load_datasets(out, tiny_config(), None, 0.0, 0)
    assert io.action_dim == 4 and len(train) > 0


def test_a_stream_that_stops_ends_the_episode_and_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = launch_file(tmp_path, '[run.inject]\nstop_stream = "tactile.left"\nstop_at_s = 0.6\n')
    out = tmp_path / "rec.zarr"
    assert main(["record", str(path), "--out", str(out), "--episodes", "1"]) == 0
    assert "device: tactile.left: stale" in capsys.readouterr().out
    assert EpisodeStore.open(out).n_episodes == 1


@pytest.mark.parametrize(
    ("setting", "message"),
    [("collect.expert=bogus", "no expert variant 'bogus'"), ("run.bogus=1", "run.bogus")],
)
def test_record_refuses_mistakes_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, message: str
) -> None:
    path = launch_file(tmp_path)
    out = tmp_path / "rec.zarr"
    assert main(["record", str(path), "--out", str(out), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and not out.exists()


@pytest.mark.timeout(120)
def test_the_operator_teleoperates_from_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys typed at a pseudo-terminal: Enter starts, four u raise the target 20 mm, s stops;
    the commands went through the supervisor to the sim, and the hand rose."""
    out = tmp_path / "rec.zarr"
    argv = ["record", str(launch_file(tmp_path)), "--out", str(out), "--source", "keyboard",
            "--episodes", "1", "--set", "run.max_seconds=20"]  # fmt: skip
    with operator_typing(monkeypatch, [(0.0, b"\n"), (1.5, b"uuuu"), (2.0, b"s")]):
        assert main(argv) == 0
    assert "stopped by the operator" in capsys.readouterr().out
    episode = EpisodeStore.open(out).episode(0)
    actions, hand = episode["action"], episode["proprio.ee_pos"]
    assert np.isfinite(actions).all()
    np.testing.assert_allclose(actions[-1, 2] - actions[0, 2], 0.02, atol=1e-5)
    assert hand[-1, 2] - hand[0, 2] > 0.01  # the sim followed


@pytest.mark.timeout(120)
def test_a_target_the_supervisor_limits_goes_on_from_what_was_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty o at once ask 20 cm down in a tick: the supervisor sends 6 mm, and the next
    four u (one a tick) raise the target 20 mm from what was sent, not from 20 cm below."""
    out = tmp_path / "rec.zarr"
    argv = ["record", str(launch_file(tmp_path)), "--out", str(out), "--source", "keyboard",
            "--set", "run.max_seconds=20", "--set", "run.safety.max_tcp_speed=0.06"]  # fmt: skip
    script = [(0.0, b"\n"), (1.0, b"o" * 40), *[(0.4, b"u")] * 4, (1.0, b"s")]
    with operator_typing(monkeypatch, script):
        assert main(argv) == 0, capsys.readouterr().err
    z = EpisodeStore.open(out).episode(0)["action"][:, 2]
    assert z[0] - 0.03 < z.min() < z[0] - 0.004  # it went down, 6 mm a tick, not 20 cm
    np.testing.assert_allclose(z[-1] - z.min(), 0.02, atol=1e-4)


@pytest.mark.timeout(120)
def test_a_spacemouse_drives_the_target_until_it_is_unplugged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO stands in for the hidraw node: the cap lifted fully for a second raises the
    target at the full-deflection speed; closing it ends the episode naming the device."""
    node = tmp_path / "hidraw"
    os.mkfifo(node)
    writer = os.open(node, os.O_RDWR)  # so that the reader's open does not wait

    out = tmp_path / "rec.zarr"

    def operator() -> None:
        end = time.monotonic() + 60.0
        while not out.exists() and time.monotonic() < end:  # the store: the rig is up
            time.sleep(0.05)
        time.sleep(1.0)  # its first frames, the episode starts
        lift = bytes([1]) + struct.pack("<6h", 0, 0, -350, 0, 0, 0)  # device z down is up
        rest = bytes([1]) + struct.pack("<6h", 0, 0, 0, 0, 0, 0)
        for _ in range(10):
            os.write(writer, lift)
            time.sleep(0.1)
        os.write(writer, rest)
        time.sleep(1.0)
        os.close(writer)  # unplugged

    typist = threading.Thread(target=operator, daemon=True)
    typist.start()
    argv = ["record", str(launch_file(tmp_path)), "--out", str(out), "--source", "spacemouse",
            "--spacemouse", str(node), "--set", "run.max_seconds=30"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    typist.join()
    assert "device: spacemouse" in capsys.readouterr().out
    store = EpisodeStore.open(out)
    assert "went away" in store.episode_meta(0)["notes"]
    actions = store.episode(0)["action"]
    rise = actions[-1, 2] - actions[0, 2]
    assert 0.6 * MAX_SPEED_M_S < rise < 1.3 * MAX_SPEED_M_S  # about a second at full speed
    assert np.allclose(actions[-1, :2], actions[0, :2])


def test_keyboard_teleoperation_needs_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["record", str(launch_file(tmp_path)), "--out", str(tmp_path / "r.zarr"),
            "--source", "keyboard"]  # fmt: skip
    assert main(argv) == 2
    assert "reads keys from a terminal" in capsys.readouterr().err
