"""A real rig from a launch file's [rig] (launch/rig_plan.py): what `vitac run` drives when the
launch file has one, through the interface of the sim twin (`launch.rig_streams.Rig`).

    RealSense / tactile cameras -> CameraFeed (a thread each: convert to the twin's layout)
                                          -> PushedStream per observation key ─┐
    Dynamixel arm <-> ControlLoop (100 Hz: supervisor, IK of tool poses, gripper)
                          on_tick -> proprio.* PushedStreams ──────────────────┴─> RigStreams

Every observation key has the layout the task's twin gives it, since the policy was trained
on the twin: colour images centre-cropped to the twin's aspect and resized (area), depth in
millimetres (nearest), tactile images resized; the arm's joints, tool pose (forward
kinematics of the measured and of the commanded joints) and pad opening. The arm's base is
the twin's world origin (as in the twin), so an action's tool pose goes to the arm as it is.

An action (the twin's `abs_pose` (10,): TCP position, rot6d, pad opening) becomes one tool
pose waypoint a control period ahead: the arm's 100 Hz loop interpolates to it and its own
supervisor checks every tick's joints; the opening becomes the gripper's closure. `hold()`
drops the plan (the arm stays at its last command). A device error in the arm's loop ends
it with torque off attempted, and `check()` raises it; a camera that fails passes its error
to its streams' readers. Closing leaves the servos holding their last goal with torque on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from drivers.arm_loop import ControlLoop, TickState
from drivers.base import Camera, DeviceError, Frame, FrameTimeoutError
from drivers.dynamixel.arm_spec import ARMS, Calibration, load_calibration
from drivers.kinematics import MAX_OPENING_M, ArmKinematics
from drivers.pushed import PushedStream, StreamModel
from drivers.realsense import RealSenseCamera, RealSenseConfig, RGBDFrame, StreamMode
from drivers.rotations import matrix_from_rot6d, rot6d_from_matrix
from drivers.safety import SafetyLimits, SafetySupervisor
from drivers.spec import FieldSpec
from drivers.tactile import TactileConfig, TactileSensor
from launch.rig_plan import ArmSection, CameraSection, RealSenseSection, RigSection
from sim.rig import StepRecord

ARM_KEYS = ("proprio.joints", "proprio.ee_pose", "proprio.ee_command", "proprio.gripper")
Convert = Callable[[Any], np.ndarray]  # a device's frame -> one observation


def fit_image(image: np.ndarray, shape: tuple[int, ...], nearest: bool = False) -> np.ndarray:
    """`image` (H, W[, C]) centre-cropped to the aspect of `shape` (h, w[, c]) and resized."""
    h, w = image.shape[:2]
    th, tw = shape[:2]
    if h * tw > w * th:  # too tall: crop rows
        keep = round(w * th / tw)
        image = image[(h - keep) // 2 : (h - keep) // 2 + keep]
    elif h * tw < w * th:  # too wide: crop columns
        keep = round(h * tw / th)
        image = image[:, (w - keep) // 2 : (w - keep) // 2 + keep]
    mode = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return np.ascontiguousarray(cv2.resize(image, (tw, th), interpolation=mode))


def fit_depth(frame: RGBDFrame, shape: tuple[int, ...]) -> np.ndarray:
    """A RealSense depth frame as the twin's (h, w) uint16 millimetres."""
    mm = frame.depth.image.astype(np.float64) * frame.depth_scale * 1000.0
    return fit_image(np.clip(np.round(mm), 0, 65535).astype(np.uint16), shape, nearest=True)


def colour_image(frame: RGBDFrame, shape: tuple[int, ...]) -> np.ndarray:
    return fit_image(frame.colour.image, shape)


def tactile_image(frame: Frame, shape: tuple[int, ...]) -> np.ndarray:
    return fit_image(frame.image, shape)


def _colour_of(frame: Frame | RGBDFrame) -> Frame:
    return frame.colour if isinstance(frame, RGBDFrame) else frame


class CameraFeed:
    """A thread that reads one camera and pushes each frame, converted, to the stream of
    every observation it gives; `pace_hz`: at most this many frames a second (a recording
    played in real time)."""

    def __init__(
        self,
        camera: Camera,
        outputs: Mapping[str, tuple[PushedStream, Convert]],
        pace_hz: float | None = None,
    ) -> None:
        self.camera, self.outputs, self.pace_hz = camera, dict(outputs), pace_hz
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"feed-{camera.name}", daemon=True)

    def start(self) -> CameraFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        first: int | None = None
        next_t = time.monotonic()
        while not self._stop.is_set():
            if self.pace_hz:
                time.sleep(max(0.0, next_t - time.monotonic()))
                next_t = max(next_t + 1.0 / self.pace_hz, time.monotonic())
            try:
                frame = self.camera.async_read(0.1)
                when = _colour_of(frame)
                first = when.seq if first is None else first
                for stream, convert in self.outputs.values():
                    stream.expose(convert(frame), when.t_capture, when.t_receive, when.seq - first)
            except FrameTimeoutError:  # slow, stopped or ended: the watchdog judges staleness
                continue
            except Exception as err:  # the device's error, or a frame that cannot be converted
                error = err if isinstance(err, DeviceError) else DeviceError(
                    f"{self.camera.name}: {err!r}")  # fmt: skip
                for stream, _ in self.outputs.values():
                    stream.fail(error)
                return


class RealRig:
    """See the module docstring. Built connected, the cameras first (a rig that cannot see
    never turns the arm's torque on); the arm's loop then holds it where it is."""

    kind = "real"

    def __init__(
        self,
        section: RigSection,
        twin: Mapping[str, FieldSpec],
        action_spec: Mapping[str, FieldSpec],
        control_hz: float,
        limits: SafetyLimits,
    ) -> None:
        """`twin`: the task twin's observation spec; `limits`: the supervisor's (the loop's
        period is set here)."""
        self.period = 1.0 / control_hz
        keys = [*section.camera_keys(), *(k for k in ARM_KEYS if k in twin)]
        self.observation_spec = {k: twin[k] for k in keys}
        self.action_spec = dict(action_spec)
        self.streams = {k: PushedStream(k, StreamModel()) for k in keys}
        self.record = StepRecord()
        self.cameras: list[Camera] = []
        self.feeds: list[CameraFeed] = []
        self.loop: ControlLoop | None = None
        self._bus: Any = None
        try:
            calibration = load_calibration(section.arm.calibration)  # before any device opens
            for name, camera_section in section.cameras.items():  # seeing before moving
                self._start_camera(name, camera_section)
            self._start_arm(section.arm, calibration, limits)
        except BaseException:
            self.close()
            raise

    # --- assembly ---------------------------------------------------------------------------

    def _start_arm(
        self, section: ArmSection, calibration: Calibration, limits: SafetyLimits
    ) -> None:
        """Connect and configure the arm, make every goal register its present position
        (torque on must not move it to a goal left from before), torque on, start its loop."""
        from drivers.dynamixel.arm import DynamixelArm
        from drivers.dynamixel.bus import DynamixelBus

        layout = ARMS[calibration.arm]
        baud, timeout = section.baud or layout.baudrate, section.reply_timeout_ms / 1000.0
        self._bus = DynamixelBus(section.port, baudrate=baud, timeout_s=timeout)
        self._bus.connect()
        self.kinematics = ArmKinematics()
        arm = DynamixelArm(self._bus, layout, calibration, self.kinematics.limits)
        arm.connect()
        arm.configure()
        start = arm.joints()
        loop_limits = dataclasses.replace(limits, period_s=1.0 / section.rate_hz)
        try:
            supervisor = SafetySupervisor(loop_limits, lambda q: self.kinematics.fk(q)[0], start)
        except ValueError as err:
            raise DeviceError(f"{section.port}: {err}") from None
        arm.command(start)
        arm.grip(arm.gripper_closed())
        arm.torque(True)
        self.loop = ControlLoop(arm, supervisor, section.rate_hz, self.kinematics, arm,
                                self._publish).start()  # fmt: skip

    def _start_camera(self, name: str, section: CameraSection) -> None:
        spec = self.observation_spec
        outputs: dict[str, tuple[PushedStream, Convert]] = {}
        camera: Camera
        if isinstance(section, RealSenseSection):
            mode = StreamMode(width=section.width, height=section.height, fps=section.fps)
            recording = section.recording
            config = RealSenseConfig(name=name, serial=section.serial, colour=mode, depth=mode,
                                     recording=recording)  # fmt: skip
            camera = RealSenseCamera(config)  # type: ignore[assignment]
            if section.colour is not None:
                shape = spec[section.colour].shape
                convert = functools.partial(colour_image, shape=shape)
                outputs[section.colour] = (self.streams[section.colour], convert)
            if section.depth is not None:
                shape = spec[section.depth].shape
                convert = functools.partial(fit_depth, shape=shape)
                outputs[section.depth] = (self.streams[section.depth], convert)
            pace = float(section.fps) if recording is not None else None
        else:
            tactile = TactileConfig(name=name, sensor=section.sensor, device=section.device,
                                    exposure=section.exposure,
                                    white_balance_k=section.white_balance_k)  # fmt: skip
            camera = TactileSensor(tactile)
            shape = spec[section.key].shape
            convert = functools.partial(tactile_image, shape=shape)
            outputs[section.key] = (self.streams[section.key], convert)
            pace = None
        camera.connect()
        self.cameras.append(camera)
        self.feeds.append(CameraFeed(camera, outputs, pace).start())

    def _publish(self, tick: TickState) -> None:
        """The arm loop's tick (its thread): the proprioception the twin has."""
        values: dict[str, np.ndarray] = {"proprio.joints": tick.measured}
        command = tick.command_pose or self.kinematics.fk(tick.command)  # the loop's FK
        poses = {"proprio.ee_pose": lambda: self.kinematics.fk(tick.measured),
                 "proprio.ee_command": lambda: command}  # fmt: skip
        for key, pose in poses.items():
            if key in self.streams:
                position, rotation = pose()
                values[key] = np.concatenate([position, rot6d_from_matrix(rotation)])
        if tick.gripper_closed is not None:
            values["proprio.gripper"] = np.array([MAX_OPENING_M * (1.0 - tick.gripper_closed)])
        for key, value in values.items():
            if key in self.streams:
                self.streams[key].expose(np.asarray(value, np.float32), tick.t)

    # --- the loop's side (launch.rig_streams.Rig) --------------------------------------------

    def begin(self, seed: int, stop: tuple[str, float] | None = None) -> None:
        """A new episode (the operator has set the scene); `stop` is a sim fault, refused."""
        if stop is not None:
            raise ValueError("a stopping device is injected on the sim twin only")
        self.check()
        self.record = StepRecord()

    def command(self, action: NDArray[np.float32], t: float) -> None:
        """Go to the action's tool pose by one control period after t; grip to its opening."""
        assert self.loop is not None
        a = np.asarray(action, np.float64)
        rotation = matrix_from_rot6d(a[3:9])
        self.loop.send_poses([t + self.period], a[None, :3], rotation[None])
        self.loop.grip(1.0 - float(np.clip(a[9] / MAX_OPENING_M, 0.0, 1.0)))
        self.record.steps += 1
        self.record.last_command_t = time.monotonic()

    def hold(self) -> None:
        if self.loop is not None:
            self.loop.hold()

    def end(self) -> StepRecord:
        self.hold()
        return self.record

    def check(self) -> None:
        """Raise the arm loop's error (the adapter unplugged, a servo fault), if any."""
        if self.loop is not None:
            try:
                self.loop.check()
            except DeviceError as err:
                state = "the arm holds" if self.loop.running else (
                    "its loop stopped, torque off attempted")  # fmt: skip
                raise DeviceError(f"arm: {err}; {state}") from None

    def arm_report(self) -> dict[str, Any]:
        """The arm loop's account since the rig was built: ticks, deadlines missed, wake-up
        lateness (ms), tool poses IK could not reach, its supervisor's limits by reason."""
        if self.loop is None:
            return {}
        stats = self.loop.stats()
        return {"rate_hz": 1.0 / self.loop.period, "ticks": stats.ticks, "missed": stats.missed,
                "lateness_ms": {"p50": stats.lateness_ms[0], "p99": stats.lateness_ms[1]},
                "unreachable": stats.unreachable, "clips": stats.clips}  # fmt: skip

    def close(self) -> None:
        for feed in self.feeds:
            feed.stop()
        for camera in self.cameras:
            with contextlib.suppress(Exception):
                camera.close()
        if self.loop is not None:
            self.loop.hold()
            time.sleep(2 * self.loop.period)  # the last tick sends the hold
            self.loop.stop()
        if self._bus is not None:
            with contextlib.suppress(Exception):
                self._bus.close()
