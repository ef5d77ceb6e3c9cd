"""The bus driver against the servo emulator through a real pyserial port on a
pseudo-terminal: every instruction, every injected fault, and a pulled adapter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.base import DeviceError
from drivers.dynamixel.bus import DynamixelBus, ServoHardwareError, latency_problem
from drivers.dynamixel.emulator import EmulatedBus, ServoState
from drivers.dynamixel.pty_server import PtyServer
from drivers.dynamixel.tables import model

GOAL, PRESENT, TORQUE, PROFILE_VELOCITY = 116, 132, 64, 112
MODELS = {1: "xm430-w350", 2: "xm540-w270", 3: "xl430-w250"}


def u32(value: int) -> bytes:
    return value.to_bytes(4, "little", signed=True)


def i32(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True)


@pytest.fixture
def rig() -> Iterator[tuple[PtyServer, DynamixelBus]]:
    servos = [ServoState(model(name), id) for id, name in MODELS.items()]
    with PtyServer(EmulatedBus(servos)) as server, DynamixelBus(server.path) as bus:
        yield server, bus


def test_ping_and_scan_name_every_servo(rig: tuple[PtyServer, DynamixelBus]) -> None:
    _, bus = rig
    numbers = {id: model(name).number for id, name in MODELS.items()}
    assert bus.ping(2) == (numbers[2], 45)
    assert {id: found[0] for id, found in bus.scan().items()} == numbers


def test_a_goal_is_reached_at_the_profile_velocity(rig: tuple[PtyServer, DynamixelBus]) -> None:
    _, bus = rig
    start = i32(bus.read(1, PRESENT, 4))
    bus.write(1, PROFILE_VELOCITY, u32(100))  # 22.9 rev/min: 1563 pulses/s
    bus.write(1, TORQUE, b"\x01")
    bus.write(1, GOAL, u32(start + 1000))
    t0 = time.monotonic()
    time.sleep(0.2)
    moved = i32(bus.read(1, PRESENT, 4)) - start
    elapsed = time.monotonic() - t0
    assert 1563 * 0.2 * 0.9 < moved < 1563 * elapsed * 1.1 + 20
    time.sleep(0.7)
    assert i32(bus.read(1, PRESENT, 4)) == start + 1000


def test_sync_and_bulk_reads_and_writes(rig: tuple[PtyServer, DynamixelBus]) -> None:
    _, bus = rig
    bus.sync_write(PROFILE_VELOCITY, 4, {1: u32(0), 2: u32(0), 3: u32(0)})
    bus.sync_write(TORQUE, 1, {1: b"\x01", 2: b"\x01", 3: b"\x01"})
    bus.sync_write(GOAL, 4, {1: u32(2100), 2: u32(2200), 3: u32(2300)})
    time.sleep(0.3)
    found = bus.sync_read([3, 1, 2], PRESENT, 4)
    assert list(found) == [3, 1, 2] and {i: i32(v) for i, v in found.items()} == {
        1: 2100, 2: 2200, 3: 2300
    }  # fmt: skip
    bus.bulk_write([(1, GOAL, u32(2000)), (2, 65, b"\x01")])  # a goal, an LED
    time.sleep(0.2)
    got = bus.bulk_read([(1, PRESENT, 4), (2, 65, 1), (3, 0, 2)])
    assert (i32(got[1]), got[2], int.from_bytes(got[3], "little")) == (2000, b"\x01", 1060)


def test_a_registered_write_waits_for_action(rig: tuple[PtyServer, DynamixelBus]) -> None:
    _, bus = rig
    bus.write(2, TORQUE, b"\x01")
    bus.reg_write(2, GOAL, u32(2500))
    assert bus.read(2, 69, 1) == b"\x01"  # Registered Instruction
    time.sleep(0.1)
    assert i32(bus.read(2, GOAL, 4)) == 2048
    bus.action()
    assert i32(bus.read(2, GOAL, 4)) == 2500


def test_refusals_name_the_servo_and_the_reason(rig: tuple[PtyServer, DynamixelBus]) -> None:
    port, bus = rig[1].port, rig[1]
    with pytest.raises(DeviceError, match=f"{port}: servo 1 refused write 132: access"):
        bus.write(1, PRESENT, u32(0))  # read-only
    bus.write(1, TORQUE, b"\x01")
    with pytest.raises(DeviceError, match="servo 1 refused write 11: access"):
        bus.write(1, 11, b"\x01")  # EEPROM (operating mode) while torque is on
    with pytest.raises(DeviceError, match="servo 1 refused write 116: data_limit"):
        bus.write(1, GOAL, u32(5000))  # beyond Max Position Limit
    with pytest.raises(DeviceError, match="servo 1 refused write 117: data_length"):
        bus.write(1, GOAL + 1, b"\x00\x00")  # half a field
    with pytest.raises(DeviceError, match=r"ping: no reply from servo 9 within 20 ms after 3"):
        bus.ping(9)


def test_lost_and_corrupt_replies_are_retried(rig: tuple[PtyServer, DynamixelBus]) -> None:
    server, bus = rig
    server.bus.faults.corrupt_crc = 1
    assert i32(bus.read(1, GOAL, 4)) == 2048 and bus.retried == 1
    server.bus.faults.drop = 2  # two tries lost, the third answered
    assert bus.read(2, GOAL, 4) == u32(2048) and bus.retried == 3
    server.bus.faults.drop = 1  # one servo's part of a sync read: the whole read again
    assert bus.sync_read([1, 2], GOAL, 4)[2] == u32(2048) and bus.retried == 4
    server.bus.faults.drop = 3  # more than the retries
    with pytest.raises(DeviceError, match="read 116: no reply from servo 1 within 20 ms"):
        bus.read(1, GOAL, 4)
    server.bus.faults.corrupt_crc = 3
    with pytest.raises(DeviceError, match=r"corrupt reply from servo 3 .CRC"):
        bus.read(3, GOAL, 4)


def test_a_hardware_error_is_named_and_cleared_by_a_reboot(
    rig: tuple[PtyServer, DynamixelBus],
) -> None:
    server, bus = rig
    bus.write(3, TORQUE, b"\x01")
    server.bus.faults.hardware_error.add(3)
    alert = r"servo 3 reports a hardware error .overload."
    with pytest.raises(ServoHardwareError, match=alert) as e:
        bus.read(3, PRESENT, 4)
    assert e.value.id == 3 and bus.hardware_errors(3) == ["overload"]
    assert server.bus.servos[3].get("torque_enable") == 0
    with pytest.raises(DeviceError, match="servo 3 refused write 64: result_fail"):
        bus.write(3, TORQUE, b"\x01")  # torque stays off until a reboot
    bus.reboot(3)
    bus.write(3, TORQUE, b"\x01")
    assert bus.hardware_errors(3) == [] and bus.read(3, TORQUE, 1) == b"\x01"


def test_a_pulled_adapter_mid_motion_stops_the_driver_with_a_clear_error(
    rig: tuple[PtyServer, DynamixelBus],
) -> None:
    server, bus = rig
    bus.write(1, TORQUE, b"\x01")
    bus.write(1, GOAL, u32(4000))
    server.disconnect()
    with pytest.raises(DeviceError, match=r"the adapter stopped answering .* still plugged in"):
        for _ in range(10):  # the loop's next reads
            bus.read(1, PRESENT, 4)


def test_a_missing_port_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match=r"ttyUSB7: cannot open the servo bus .* plugged in"):
        DynamixelBus(str(tmp_path / "ttyUSB7")).connect()


def test_a_slow_latency_timer_is_refused_with_its_fix(tmp_path: Path) -> None:
    (tmp_path / "ttyUSB0").mkdir()
    (tmp_path / "ttyUSB0" / "latency_timer").write_text("16\n")
    problem = latency_problem("/dev/ttyUSB0", tmp_path)
    assert problem is not None and "latency timer is 16 ms" in problem
    assert f"echo 1 | sudo tee {tmp_path}/ttyUSB0/latency_timer" in problem
    (tmp_path / "ttyUSB0" / "latency_timer").write_text("1\n")
    assert latency_problem("/dev/ttyUSB0", tmp_path) is None
    assert latency_problem("/dev/pts/3", tmp_path) is None  # no timer: nothing to check
