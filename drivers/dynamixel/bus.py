"""A Protocol 2.0 bus over a USB-serial adapter (pyserial): every instruction with bounded
timeouts and retries, replies checked, and one DeviceError naming the port, the servo and
what went wrong when they are used up.

A transaction writes one instruction packet and reads the replies it expects (none for a
broadcast write; one per servo for a read, in the order asked). A reply that does not arrive
in time or fails its CRC retries the whole transaction (reads and writes of goal values are
idempotent); a status error (bits 0-6) does not: the servo understood and refused. A status
whose alert bit is set means the servo has a hardware error (overload, overheating, ...):
`ServoHardwareError`, with the Hardware Error Status bits when they can be read.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from drivers.base import DeviceError
from drivers.dynamixel import protocol as p
from drivers.dynamixel.protocol import CorruptPacket, Packet, PacketReader
from drivers.dynamixel.tables import X_SERIES, HardwareError

USB_SERIAL = Path("/sys/bus/usb-serial/devices")
LATENCY_MS = 1  # what the adapter's latency timer must be (FTDI's default is 16 ms)
HARDWARE_ERROR_STATUS = X_SERIES["hardware_error_status"].address


class ServoHardwareError(DeviceError):
    """A servo reports a hardware error; it keeps its torque off until rebooted."""

    def __init__(self, message: str, id: int) -> None:
        super().__init__(message)
        self.id = id


def latency_problem(port: str, usb_serial: Path = USB_SERIAL) -> str | None:
    """What is wrong with `port`'s USB-serial latency timer, with the fix (None: fine, or not
    an adapter with one)."""
    node = usb_serial / Path(os.path.realpath(port)).name / "latency_timer"
    try:
        value = int(node.read_text())
    except (OSError, ValueError):
        return None
    if value <= LATENCY_MS:
        return None
    return (
        f"{port}: the USB-serial latency timer is {value} ms, so every reply waits up to "
        f"{value} ms; set it to {LATENCY_MS}: echo {LATENCY_MS} | sudo tee {node} (or a udev "
        f'rule: ACTION=="add", SUBSYSTEM=="usb-serial", DRIVER=="ftdi_sio", '
        f'ATTR{{latency_timer}}="{LATENCY_MS}")'
    )


class DynamixelBus:
    def __init__(
        self,
        port: str,
        baudrate: int = 1_000_000,
        timeout_s: float = 0.02,
        retries: int = 2,
        check_latency: bool = True,
        serial_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.port, self.baudrate, self.timeout_s, self.retries = port, baudrate, timeout_s, retries
        self.check_latency = check_latency
        self.serial_factory = serial_factory
        self.serial: Any = None
        self.reader = PacketReader()
        self.lock = threading.RLock()  # one transaction on the wire at a time, across threads
        self.retried = 0  # transactions tried again (timeouts, CRC errors)

    def connect(self) -> DynamixelBus:
        if self.check_latency and (problem := latency_problem(self.port)):
            raise DeviceError(problem)
        import serial

        factory = self.serial_factory or serial.Serial
        try:
            self.serial = factory(self.port, self.baudrate, timeout=0, write_timeout=1.0,
                                  exclusive=True)  # fmt: skip
        except (serial.SerialException, OSError) as err:
            raise DeviceError(
                f"{self.port}: cannot open the servo bus ({err}); is the adapter plugged in "
                "and not in use by another program?"
            ) from err
        return self

    def close(self) -> None:
        if self.serial is not None:
            self.serial.close()
            self.serial = None

    def __enter__(self) -> DynamixelBus:
        return self if self.serial is not None else self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- instructions ----------------------------------------------------------------------

    def ping(self, id: int) -> tuple[int, int]:
        """(model number, firmware version) of servo `id`."""
        (reply,) = self.transact(p.ping(id), [id], "ping")
        return int.from_bytes(reply.data[:2], "little"), reply.data[2]

    def scan(self, wait_s: float = 0.05) -> dict[int, tuple[int, int]]:
        """id -> (model number, firmware) of every servo that answers a broadcast ping."""
        replies = self.transact(p.ping(p.BROADCAST), None, "broadcast ping", wait_s=wait_s)
        return {r.id: (int.from_bytes(r.data[:2], "little"), r.data[2]) for r in replies}

    def read(self, id: int, address: int, length: int) -> bytes:
        (reply,) = self.transact(p.read(id, address, length), [id], f"read {address}")
        return _sized(reply, length, address)

    def write(self, id: int, address: int, data: bytes) -> None:
        self.transact(p.write(id, address, data), [id], f"write {address}")

    def reg_write(self, id: int, address: int, data: bytes) -> None:
        self.transact(p.reg_write(id, address, data), [id], f"reg write {address}")

    def action(self) -> None:
        self.transact(p.action(), [], "action")

    def reboot(self, id: int) -> None:
        self.transact(p.reboot(id), [id], "reboot", check_alert=False)

    def sync_read(self, ids: Sequence[int], address: int, length: int) -> dict[int, bytes]:
        packet = p.sync_read(ids, address, length)
        replies = self.transact(packet, list(ids), f"sync read {address}")
        return {r.id: _sized(r, length, address) for r in replies}

    def fast_sync_read(self, ids: Sequence[int], address: int, length: int) -> dict[int, bytes]:
        """As sync_read, in one reply packet for all servos (less time on the wire)."""
        packet = p.sync_read(ids, address, length, fast=True)
        return self._fast(packet, [(i, address, length) for i in ids], f"fast sync read {address}")

    def fast_bulk_read(self, items: Sequence[tuple[int, int, int]]) -> dict[int, bytes]:
        return self._fast(p.bulk_read(items, fast=True), items, "fast bulk read")

    def _fast(
        self, packet: bytes, items: Sequence[tuple[int, int, int]], what: str
    ) -> dict[int, bytes]:
        (reply,) = self.transact(packet, [p.BROADCAST], what, check=False)
        try:
            parts = p.fast_parts(reply, [n for _, _, n in items])
        except p.ProtocolError as err:
            raise DeviceError(f"{self.port}: {what}: {err}") from err
        got, asked = [id for id, _, _ in parts], [id for id, _, _ in items]
        if got != asked:
            raise DeviceError(f"{self.port}: {what}: parts from servos {got}, asked {asked}")
        for id, error, _ in parts:
            self._check(id, error, what, check_alert=True)
        return {id: data for id, _, data in parts}

    def sync_write(self, address: int, length: int, data: Mapping[int, bytes]) -> None:
        self.transact(p.sync_write(address, length, data), [], f"sync write {address}")

    def bulk_read(self, items: Sequence[tuple[int, int, int]]) -> dict[int, bytes]:
        ids = [i for i, _, _ in items]
        replies = self.transact(p.bulk_read(items), ids, "bulk read")
        return {r.id: _sized(r, n, a) for r, (_, a, n) in zip(replies, items, strict=True)}

    def bulk_write(self, items: Sequence[tuple[int, int, bytes]]) -> None:
        self.transact(p.bulk_write(items), [], "bulk write")

    def hardware_errors(self, id: int) -> list[str]:
        """The names of the bits set in servo `id`'s Hardware Error Status."""
        (reply,) = self.transact(p.read(id, HARDWARE_ERROR_STATUS, 1), [id],
                                 "read hardware error status", check_alert=False)  # fmt: skip
        bits = _sized(reply, 1, HARDWARE_ERROR_STATUS)[0]
        return [e.name.lower() for e in HardwareError if bits & (1 << e.value)]

    # --- transactions ----------------------------------------------------------------------

    def transact(
        self,
        packet: bytes,
        ids: Sequence[int] | None,
        what: str,
        wait_s: float | None = None,
        check_alert: bool = True,
        check: bool = True,
    ) -> list[Packet]:
        """Send `packet`; return the status packets of `ids` in that order (None: whoever
        answers within `wait_s`). Retries on a missing or corrupt reply."""
        if self.serial is None:
            raise DeviceError(f"{self.port}: the servo bus is not connected")
        with self.lock:
            problem = ""
            for attempt in range(self.retries + 1):
                if attempt:
                    self.retried += 1
                replies, problem = self._exchange(packet, ids, wait_s or self.timeout_s)
                if not problem:
                    break
            else:
                raise DeviceError(f"{self.port}: {what}: {problem} after {self.retries + 1} tries")
            for reply in replies if check else []:
                self._check(reply.id, reply.error, what, check_alert)
            return replies

    def _exchange(
        self, packet: bytes, ids: Sequence[int] | None, wait_s: float
    ) -> tuple[list[Packet], str]:
        self.reader.clear()
        try:
            self.serial.reset_input_buffer()
            self.serial.write(packet)
            self.serial.flush()
        except Exception as err:  # pyserial raises SerialException or OSError
            raise DeviceError(f"{self.port}: the adapter stopped answering ({err}); "
                              "is it still plugged in?") from err  # fmt: skip
        got: dict[int, Packet] = {}
        corrupt: list[CorruptPacket] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and (ids is None or len(got) < len(ids)):
            try:
                data = self.serial.read(max(1, self.serial.in_waiting))
            except Exception as err:
                raise DeviceError(f"{self.port}: the adapter stopped answering ({err}); "
                                  "is it still plugged in?") from err  # fmt: skip
            for item in self.reader.feed(data):
                if isinstance(item, CorruptPacket):
                    corrupt.append(item)
                elif item.instruction == p.STATUS:
                    got[item.id] = item
            if not data:
                time.sleep(0.0002)
        if ids is None:
            return [got[i] for i in sorted(got)], ""
        missing = [i for i in ids if i not in got]
        if corrupt:
            return [], f"corrupt reply from servo {corrupt[0].id} ({corrupt[0].reason})"
        if missing:
            return [], f"no reply from servo {missing[0]} within {wait_s * 1000:.0f} ms"
        return [got[i] for i in ids], ""

    def _check(self, id: int, error: int, what: str, check_alert: bool) -> None:
        if error & 0x7F:
            raise DeviceError(f"{self.port}: servo {id} refused {what}: "
                              f"{p.describe_error(error & 0x7F)}")  # fmt: skip
        if error & p.ALERT and check_alert:
            try:
                bits = ", ".join(self.hardware_errors(id)) or "none set"
            except DeviceError:
                bits = "unreadable"
            raise ServoHardwareError(
                f"{self.port}: servo {id} reports a hardware error ({bits}); its torque is off "
                "until it is rebooted (DynamixelBus.reboot, once the cause is fixed)",
                id,
            )


def _sized(reply: Packet, length: int, address: int) -> bytes:
    if len(reply.data) != length:
        raise DeviceError(f"servo {reply.id}: read {address} returned {len(reply.data)} bytes, "
                          f"asked {length}")  # fmt: skip
    return reply.data
