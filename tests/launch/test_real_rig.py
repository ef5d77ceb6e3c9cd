"""`vitac run` on a real rig from its launch file: a RealSense recording, two tactile cameras
replayed through OpenCV's capture interface and the emulated wx250s on a pseudo-terminal.
The policy's inputs come from the right devices in the twin's layout, the arm moves under
it, pulling the adapter ends the episode with a clear message, and what a launch file gets
wrong is refused before the arm's torque comes on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.base import Frame
from drivers.dynamixel.arm import DynamixelArm
from drivers.dynamixel.arm_spec import ARMS, default_calibration
from drivers.dynamixel.bus import DynamixelBus
from drivers.dynamixel.emulator import EmulatedBus, arm_servos
from drivers.dynamixel.pty_server import PtyServer
from drivers.kinematics import ArmKinematics
from drivers.poses import POSES
from drivers.realsense import RGBDFrame
from drivers.realsense_recording import write_recording
from drivers.uvc_replay import ReplayDevices, ReplaySource
from launch.cli import main
from launch.launch_file import load_launch
from launch.real_rig import fit_depth, fit_image
from launch.rig_assembly import make_rig
from sensing.store import EpisodeStore
from tests.launch.terminal import operator_typing
from tests.policies.conftest import tiny_config
from training.trainer import TrainConfig, train

KEYS = ["rgb.scene", "tactile.left", "tactile.right", "proprio.ee_pose", "proprio.gripper",
        "proprio.joints"]  # fmt: skip
GREEN, LEFT, RIGHT = 200, 50, 150  # the value of every pixel each device shows


@pytest.fixture(scope="module")
def checkpoint(insertion: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step policy of tactile insertion reading only what the rig's devices give."""
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1,
                         obs_keys=KEYS)  # fmt: skip
    root = tmp_path_factory.mktemp("real_rig")
    return train(tiny_config(), config, insertion[0], root / "run", progress=False).checkpoint


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s of a 64x48 RealSense at 30 fps: uniform green, a flat floor 0.5 m away."""
    colour = np.zeros((48, 64, 3), np.uint8)
    colour[..., 1] = GREEN
    depth = np.full((48, 64), 500, np.uint16)
    path = tmp_path_factory.mktemp("realsense") / "scene.db3"
    return write_recording(path, [colour] * 300, [depth] * 300, fps=30)


@pytest.fixture
def arm(tmp_path: Path) -> Iterator[tuple[PtyServer, Path]]:
    """The emulated wx250s on a pseudo-terminal, parked at home with torque off, and its
    calibration file."""
    server = PtyServer(EmulatedBus(arm_servos(ARMS["wx250s"].servos()))).start()
    calibration = tmp_path / "arm.json"
    default_calibration("wx250s").save(calibration)
    with DynamixelBus(server.path) as bus:
        wx = DynamixelArm(
            bus, ARMS["wx250s"], default_calibration("wx250s"), ArmKinematics().limits
        )
        wx.configure()
        wx.torque(True)
        wx.command(POSES["home"])
        end = time.monotonic() + 10.0
        while np.abs(wx.joints() - POSES["home"]).max() > 0.01 and time.monotonic() < end:
            time.sleep(0.05)
        wx.torque(False)
        wx.joints()  # a reply: the emulator has served the torque-off before it
    yield server, calibration
    server.close()


@pytest.fixture
def pads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two 640x480 tactile cameras at indices 10 (left) and 11 (right); 12 is a right pad
    whose frames come at the wrong size from its 90th on."""
    sources: dict[str | int, ReplaySource] = {
        i: ReplaySource([np.full((480, 640, 3), v, np.uint8)], fps=30.0)
        for i, v in ((10, LEFT), (11, RIGHT))
    }
    sources[12] = ReplaySource([np.full((480, 640, 3), RIGHT, np.uint8)], fps=30.0,
                               wrong_size_at=90)  # a right pad that fails after 3 s  # fmt: skip
    monkeypatch.setattr(cv2, "VideoCapture", ReplayDevices(sources).video_capture)


@dataclass(frozen=True)
class Devices:
    arm: PtyServer  # the emulated wx250s
    calibration: Path
    recording: Path  # the RealSense's


@pytest.fixture
def devices(arm: tuple[PtyServer, Path], recording: Path, pads: None) -> Devices:
    """Every device of the rig: the emulated arm, the RealSense recording, the two pads."""
    return Devices(arm[0], arm[1], recording)


def launch_file(
    tmp_path: Path,
    devices: Devices,
    extra: str = "",
    cameras: tuple[str, ...] = ("left", "right"),
    seconds: float = 2.0,
) -> Path:
    """[run] with `extra` in it, the emulated arm, the recording and the pads of `cameras`."""
    pads = {"left": (10, "tactile.left"), "right": (11, "tactile.right"),
            "failing_right": (12, "tactile.right")}  # fmt: skip
    text = f"""[task]
name = "tactile_insertion"
[task.params]
image_size = 32
[run]
max_seconds = {seconds}
{extra}
[rig.arm]
port = "{devices.arm.path}"
calibration = "{devices.calibration}"
reply_timeout_ms = 200  # the emulator shares this process (and its GIL) with the whole loop
[rig.cameras.scene]
type = "realsense"
recording = "{devices.recording}"
width = 64
height = 48
fps = 30
"""
    for name in cameras:
        device, key = pads[name]
        text += f'[rig.cameras.{name}]\ntype = "tactile"\nsensor = "gelsight_uvc"\n'
        text += f'device = {device}\nkey = "{key}"\n'
    path = tmp_path / "real.toml"
    path.write_text(text)
    return path


def test_images_are_cropped_to_the_twins_aspect_and_depth_becomes_millimetres() -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, 8:56] = 255  # the centre square, 48 wide
    assert np.all(fit_image(image, (32, 32, 3)) == 255)  # the side bands are cropped away
    assert fit_image(image, (24, 64, 3)).shape == (24, 64, 3)
    tall = np.zeros((64, 16), np.uint16)
    tall[24:40] = 7  # the middle rows: what a square crop keeps
    assert np.all(fit_image(tall, (8, 8), nearest=True) == 7)
    depth = np.full((48, 64), 2000, np.uint16)  # in units of 0.25 mm
    colour = Frame(image, 0.0, 0.0, 0)
    frame = RGBDFrame(colour, Frame(depth, 0.0, 0.0, 0), depth_scale=0.00025)
    assert np.all(fit_depth(frame, (16, 16)) == 500)


def torque_on(server: PtyServer) -> bool:
    return any(s.get("torque_enable") for s in server.bus.servos.values())


def pull_when_commanded(server: PtyServer, after_s: float) -> threading.Thread:
    """Pull the adapter `after_s` after the arm's goals first change (the policy drives)."""
    goals = {i: s.get("goal_position") for i, s in server.bus.servos.items()}

    def watch() -> None:
        while all(s.get("goal_position") == goals[i] for i, s in server.bus.servos.items()):
            time.sleep(0.01)
        time.sleep(after_s)
        server.disconnect()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(300)
def test_the_policy_drives_the_arm_from_the_real_devices(
    checkpoint: Path, devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["run", str(launch_file(tmp_path, devices)), "--checkpoint", str(checkpoint),
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "episodes: 1 (success is judged by the simulator only)" in printed
    assert "arm loop: " in printed and " ticks at 100 Hz" in printed
    record = json.loads((out / "run.json").read_text())
    (episode,) = record["episodes"]
    assert episode["ended"] == "time limit" and episode["sent"] >= 10
    loop = record["summary"]["arm_loop"]
    assert loop["ticks"] + loop["missed"] >= 200  # 2 s and more at 100 Hz
    store = EpisodeStore.open(out / "episodes.zarr")
    assert store.attrs["rig"] == "real"
    frames = store.episode(0)
    assert frames["rgb.scene"].shape[1:] == (32, 32, 3)  # the twin's layout
    assert np.all(frames["rgb.scene"][..., 1] == GREEN) and np.all(frames["rgb.scene"][..., 0] == 0)
    assert np.all(frames["tactile.left"] == LEFT) and np.all(frames["tactile.right"] == RIGHT)
    joints = frames["proprio.joints"]
    assert np.abs(joints - joints[0]).max() > 0.01  # the emulated arm moved under the policy
    assert torque_on(devices.arm)  # closed holding its last goal


@pytest.mark.timeout(300)
def test_pulling_the_adapter_ends_the_episode_naming_the_arm(
    checkpoint: Path, devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The episode ends naming the arm and is kept; the next cannot start: one line, exit 2,
    with run.json written for the episode that ran."""
    out = tmp_path / "out"
    path = launch_file(tmp_path, devices, seconds=8.0)
    argv = ["run", str(path), "--checkpoint", str(checkpoint), "--out", str(out), "--no-progress",
            "--episodes", "2"]  # fmt: skip
    pull = pull_when_commanded(devices.arm, 1.0)
    assert main(argv) == 2
    pull.join(timeout=1.0)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "arm: " in err, err
    (episode,) = json.loads((out / "run.json").read_text())["episodes"]
    assert episode["ended"].startswith("device: arm: ") and "torque off" in episode["ended"]
    assert episode["seconds"] < 7.0  # ended by the fault, not the time limit
    assert EpisodeStore.open(out / "episodes.zarr").n_episodes == 1  # kept


@pytest.mark.timeout(300)
def test_a_failing_pad_ends_the_episode_naming_it(
    checkpoint: Path, devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    path = launch_file(tmp_path, devices, cameras=("left", "failing_right"), seconds=20.0)
    argv = ["run", str(path), "--checkpoint", str(checkpoint), "--out", str(out), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    (episode,) = json.loads((out / "run.json").read_text())["episodes"]
    assert episode["ended"].startswith("device: failing_right: delivered a 320x240 frame")
    assert episode["seconds"] < 10.0 and torque_on(devices.arm)  # held, not dropped
    assert EpisodeStore.open(out / "episodes.zarr").n_episodes == 1  # kept


@pytest.mark.timeout(300)
def test_the_operator_records_on_the_real_rig_from_a_terminal(
    devices: Devices,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Enter starts, four u raise the target 20 mm, g closes the gripper, s stops: the
    emulated arm follows through its loop and every device's frames are recorded with the
    actions."""
    out = tmp_path / "rec.zarr"
    argv = ["record", str(launch_file(tmp_path, devices, seconds=20.0)), "--out",
            str(out), "--source", "keyboard", "--episodes", "1"]  # fmt: skip
    with operator_typing(monkeypatch, [(0.0, b"\n"), (1.0, b"uuuug"), (2.5, b"s")]):
        assert main(argv) == 0, capsys.readouterr().err
    assert "recorded 1 episodes" in capsys.readouterr().out
    store = EpisodeStore.open(out)
    assert (
        store.attrs["rig"] == "real" and store.episode_meta(0)["notes"] == "stopped by the operator"
    )
    episode = store.episode(0)
    actions, tool = episode["action"], episode["proprio.ee_pose"]
    np.testing.assert_allclose(actions[-1, 2] - actions[0, 2], 0.02, atol=1e-4)
    assert tool[-1, 2] - tool[0, 2] > 0.015  # the arm followed
    opening = episode["proprio.gripper"][:, 0]
    assert actions[-1, 9] == 0.0 and opening[-1] < opening[0] - 0.01  # g: the gripper closed
    assert np.all(episode["tactile.right"] == RIGHT)


def test_torque_on_does_not_send_the_arm_to_a_goal_left_from_before(
    devices: Devices, tmp_path: Path
) -> None:
    """Goals written before torque went off (moved by hand since): the rig rewrites them to
    where the arm is before its torque comes on, so nothing moves."""
    servos = devices.arm.bus.servos
    with devices.arm.lock:
        for servo in servos.values():
            servo.set("goal_position", servo.get("present_position") + 300)
    present = {i: s.get("present_position") for i, s in servos.items()}
    launch = load_launch(launch_file(tmp_path, devices))
    rig = make_rig(launch, launch.config.run)
    try:
        time.sleep(0.5)
        assert torque_on(devices.arm)
        moved = {i: abs(s.get("present_position") - present[i]) for i, s in servos.items()}
        assert max(moved.values()) <= 2, moved  # pulses
    finally:
        rig.close()


def test_the_scripted_expert_is_not_offered_on_a_real_rig(
    devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = launch_file(tmp_path, devices)
    assert main(["record", str(path), "--out", str(tmp_path / "r.zarr")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "record with --source keyboard" in err
    assert not torque_on(devices.arm)


@pytest.mark.parametrize(
    ("extra", "cameras", "says"),
    [
        ("", ("left",), "the policy reads ['tactile.right'], which the [rig]"),
        ('[run.streams."rgb.scene"]\nlatency_ms = 30\n', ("left", "right"),
         "latency_ms model the sim twin's devices"),
        ("[rig.arm.extra]\n", ("left", "right"), "rig.arm"),
    ],
)  # fmt: skip
def test_a_launch_file_mistake_is_refused_before_torque_comes_on(
    checkpoint: Path,
    devices: Devices,
    extra: str,
    cameras: tuple[str, ...],
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rig = extra.startswith("[rig")
    path = launch_file(tmp_path, devices, "" if rig else extra, cameras)
    if rig:
        path.write_text(path.read_text() + extra + "speed = 3\n")
    argv = ["run", str(path), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err
    assert not torque_on(devices.arm) and not (tmp_path / "o").exists()


def test_a_camera_stream_the_twin_lacks_and_a_missing_adapter_are_one_line(
    checkpoint: Path, devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unplugged = PtyServer.__new__(PtyServer)  # a port nothing serves
    unplugged.path = str(tmp_path / "no-adapter")
    path = launch_file(tmp_path, Devices(unplugged, devices.calibration, devices.recording))
    argv = ["run", str(path), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-adapter" in err, err
    path.write_text(path.read_text().replace('key = "tactile.right"', 'key = "tactile.top"'))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no observation 'tactile.top'" in err, err
