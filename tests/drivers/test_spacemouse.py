"""The SpaceMouse's hidraw reports: translation, rotation and buttons in both report layouts,
in the robot's frame and scaled to +-1; a state no report refreshed reads as at rest; a
device that goes away is one DeviceError."""

from __future__ import annotations

import socket
import struct
import time

import numpy as np
import pytest

from drivers.base import DeviceError
from drivers.spacemouse import STALE_S, Motion, SpaceMouse, parse_report

REST = Motion(np.zeros(3), np.zeros(3), 0, 0.0)


def report(kind: int, *values: int) -> bytes:
    return bytes([kind]) + struct.pack(f"<{len(values)}h", *values)


def test_each_report_updates_its_part_in_the_robot_frame() -> None:
    # device x right, y toward the operator, z down -> robot y, x, z reversed
    moved = parse_report(report(1, 350, -175, -350), REST, 1.0)
    assert np.allclose(moved.translation, [0.5, -1.0, 1.0]) and moved.t == 1.0
    assert np.array_equal(moved.rotation, REST.rotation)
    turned = parse_report(report(2, 0, 0, 700), moved, 2.0)  # beyond full scale: clipped
    assert np.allclose(turned.rotation, [0.0, 0.0, -1.0])
    assert np.array_equal(turned.translation, moved.translation)
    both = parse_report(report(1, 0, 35, 0, 35, 0, 0), turned, 3.0)  # the newer layout
    assert np.allclose(both.translation, [-0.1, 0, 0]) and np.allclose(both.rotation, [0, -0.1, 0])
    pressed = parse_report(bytes([3, 1, 0]), both, 4.0)
    assert pressed.buttons == 1 and np.array_equal(pressed.translation, both.translation)
    assert parse_report(bytes([23, 100]), pressed, 5.0) is pressed  # battery: ignored


def test_the_reader_keeps_the_newest_state_and_says_when_the_device_goes() -> None:
    device, host = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mouse = SpaceMouse(device.fileno()).connect()
    host.send(report(1, 0, 0, -350))
    host.send(report(3, 2))
    end = time.monotonic() + 2.0
    while mouse.motion().buttons != 2 and time.monotonic() < end:
        time.sleep(0.01)
    assert np.allclose(mouse.motion().translation, [0, 0, 1.0]) and mouse.motion().buttons == 2
    time.sleep(STALE_S + 0.05)  # no report since: the cap reads as at rest
    rest = mouse.motion()
    assert not rest.translation.any() and not rest.rotation.any() and rest.buttons == 2
    host.close()
    time.sleep(0.1)
    with pytest.raises(DeviceError, match="went away"):
        mouse.motion()
    mouse.close()
    device.close()


def test_a_missing_node_is_named() -> None:
    with pytest.raises(DeviceError, match="/dev/hidraw99: no such device"):
        SpaceMouse("/dev/hidraw99").connect()
