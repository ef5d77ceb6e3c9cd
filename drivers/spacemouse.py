"""A 3Dconnexion SpaceMouse (SpaceNavigator, SpaceMouse Compact, Wireless) read from its Linux
hidraw node, for teleoperating the end effector (`vitac record --source spacemouse`).

Facts used (the devices' HID reports, as hidraw hands them out: one report per read, its
report id first, values little-endian int16):
- report 1: translation x, y, z; on newer devices (SpaceMouse Wireless, Compact firmware
  since 2018) 12 bytes, the rotation rx, ry, rz following;
- report 2: rotation rx, ry, rz (the older devices);
- report 3: buttons, a bit each (bit 0 left, bit 1 right).
Full deflection reads about 350 (values are clipped to +-1 after dividing by it). The cap
sends reports while it is deflected (about every 16 ms) and zeros when let go. A state no
report has refreshed for `STALE_S` reads as the cap at rest: a lost release report (a
wireless dropout) must not keep the target moving.

The device's axes become the robot base frame's by `TO_ROBOT`, assuming the operator faces
the robot with the device's cable pointing at it and that the device reports x right, y
toward the operator, z down: pushing the cap away moves the target forward (+x), left
(+y), lifting it up (+z). That assumption is not checked on hardware; if a push goes the
wrong way, change `TO_ROBOT`.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drivers.base import DeviceError

FULL_SCALE = 350.0
STALE_S = 0.25  # no report for this long: at rest
POLL_S = 0.1  # how long a read waits before the reader checks for a stop
VENDORS = {"046d": "Logitech (3Dconnexion)", "256f": "3Dconnexion"}  # USB vendor ids
F64 = NDArray[np.float64]
TO_ROBOT = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # device -> robot


@dataclass(frozen=True)
class Motion:
    translation: F64  # (3,) in [-1, 1], robot frame (see the module docstring)
    rotation: F64  # (3,) in [-1, 1], about the robot frame's axes
    buttons: int  # bit 0 left, bit 1 right
    t: float  # monotonic time of the newest report (0: none yet)


def _axes(data: bytes) -> F64:
    raw = np.frombuffer(data[:6], dtype="<i2").astype(np.float64)
    return np.clip(TO_ROBOT @ (raw / FULL_SCALE), -1.0, 1.0)


def parse_report(report: bytes, motion: Motion, t: float) -> Motion:
    """`motion` updated by one hidraw report received at `t` (unknown reports change nothing)."""
    kind, data = report[0] if report else 0, report[1:]
    if kind == 1 and len(data) >= 6:
        rotation = _axes(data[6:12]) if len(data) >= 12 else motion.rotation
        return Motion(_axes(data), rotation, motion.buttons, t)
    if kind == 2 and len(data) >= 6:
        return Motion(motion.translation, _axes(data), motion.buttons, t)
    if kind == 3 and data:
        return Motion(motion.translation, motion.rotation, int.from_bytes(data[:4], "little"), t)
    return motion


class SpaceMouse:
    """A thread reads the device; `motion()` is the newest state. `device`: a hidraw path, or
    an open file descriptor that hands out one report per read (tests)."""

    def __init__(self, device: str | int) -> None:
        self.device = device
        self.name = f"spacemouse {device}"
        self._fd = -1
        self._lock = threading.Lock()
        self._motion = Motion(np.zeros(3), np.zeros(3), 0, 0.0)
        self._error: DeviceError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def connect(self) -> SpaceMouse:
        if isinstance(self.device, int):
            self._fd = self.device
        else:
            try:
                self._fd = os.open(self.device, os.O_RDONLY)
            except FileNotFoundError:
                raise DeviceError(f"{self.name}: no such device (`vitac devices` lists hidraw "
                                  "nodes of 3Dconnexion devices)") from None  # fmt: skip
            except PermissionError:
                raise DeviceError(f"{self.name}: permission denied (a udev rule giving your "
                                  "user read access to it, or run as root)") from None  # fmt: skip
            except OSError as err:
                raise DeviceError(f"{self.name}: cannot open it ({err})") from None
        self._thread = threading.Thread(target=self._run, name="spacemouse", daemon=True)
        self._thread.start()
        return self

    def motion(self) -> Motion:
        """The newest state (at rest when stale); DeviceError once the device failed."""
        with self._lock:
            if self._error is not None:
                raise self._error
            motion = self._motion
        if time.monotonic() - motion.t > STALE_S:
            return Motion(np.zeros(3), np.zeros(3), motion.buttons, motion.t)
        return motion

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * POLL_S + 1.0)
        if isinstance(self.device, str) and self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd], [], [], POLL_S)
                if not ready:
                    continue
                report = os.read(self._fd, 64)
            except OSError as err:
                report, why = b"", str(err)
            else:
                why = "the device went away"
            if self._stop.is_set():
                return
            if not report:
                with self._lock:
                    self._error = DeviceError(f"{self.name}: {why} (unplugged?)")
                return
            with self._lock:
                self._motion = parse_report(report, self._motion, time.monotonic())
