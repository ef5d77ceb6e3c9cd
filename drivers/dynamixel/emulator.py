"""A bus of emulated X-series servos that answers Protocol 2.0 instruction packets as the
devices do: a register table per servo from its model's control table, present position
moving toward the goal at the profile velocity while torque is on, status packets (and their
errors) for every instruction, and faults injected on demand.

`EmulatedBus.handle(packet)` returns the bytes the servos put on the wire in reply; the
pseudo-terminal server (drivers/dynamixel/pty_server.py) feeds it what a client writes.
Time is the caller's monotonic clock: motion advances by the time elapsed between calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from drivers.dynamixel import protocol as p
from drivers.dynamixel.protocol import CorruptPacket, Instruction, Packet, StatusError
from drivers.dynamixel.tables import (
    EEPROM_END,
    PULSES_PER_REV,
    HardwareError,
    Model,
    OperatingMode,
    model,
)

RPM_UNIT = 0.229  # velocity registers count 0.229 rev/min
POSITION_MODES = (OperatingMode.POSITION, OperatingMode.EXTENDED_POSITION,
                  OperatingMode.CURRENT_BASED_POSITION)  # fmt: skip
INPUT_VOLTAGE = 120  # 12.0 V
TEMPERATURE = 32  # degC


class ServoState:
    """One servo's register table and motion."""

    def __init__(self, model: Model, id: int, position: int = PULSES_PER_REV // 2) -> None:
        self.model = model
        self.table = bytearray(model.size)
        self._initialise(id, position)

    def _initialise(self, id: int, position: int) -> None:
        for f in self.model.fields.values():
            self.table[f.address : f.address + f.size] = f.encode(int(f.initial))
        self.set("id", id)
        for name in ("present_position", "goal_position", "position_trajectory"):
            self.set(name, position)
        self.set("present_input_voltage", INPUT_VOLTAGE)
        self.set("present_temperature", TEMPERATURE)
        self.registered: tuple[int, bytes] | None = None
        self.exact_position = float(position)  # sub-pulse motion between reads

    @property
    def id(self) -> int:
        return self.get("id")

    def get(self, name: str) -> int:
        f = self.model.field(name)
        return f.decode(bytes(self.table[f.address : f.address + f.size]))

    def set(self, name: str, value: int) -> None:
        f = self.model.field(name)
        self.table[f.address : f.address + f.size] = f.encode(value)

    def read(self, address: int, length: int) -> tuple[int, bytes]:
        """(error code, data): any span of the table may be read."""
        if length < 1 or address + length > len(self.table):
            return StatusError.ACCESS, b""
        return 0, bytes(self.table[address : address + length])

    def write(self, address: int, data: bytes) -> int:
        """The error code of writing `data` at `address` (0: written)."""
        end = address + len(data)
        if not data or end > len(self.table):
            return StatusError.ACCESS
        touched = [f for f in self.model.fields.values()
                   if f.address < end and address < f.address + f.size]  # fmt: skip
        if any(not f.writable for f in touched):
            return StatusError.ACCESS
        if any(f.eeprom for f in touched) and self.get("torque_enable"):
            return StatusError.ACCESS  # EEPROM is locked while torque is on
        if any(f.address < address or f.address + f.size > end for f in touched):
            return StatusError.DATA_LENGTH  # part of a multi-byte field
        before = bytes(self.table)
        self.table[address:end] = data
        if self.get("operating_mode") not in self.model.operating_modes:
            self.table[:] = before
            return StatusError.DATA_RANGE
        if self._goal_out_of_limits():
            self.table[:] = before
            return StatusError.DATA_LIMIT
        if self.get("hardware_error_status") and self.get("torque_enable"):
            self.table[:] = before  # torque stays off until a reboot clears the error
            return StatusError.RESULT_FAIL
        if address <= self.model.field("goal_position").address < end:
            self.set("position_trajectory", self.get("goal_position"))
        return 0

    def _goal_out_of_limits(self) -> bool:
        if self.get("operating_mode") not in (OperatingMode.POSITION,
                                              OperatingMode.CURRENT_BASED_POSITION):  # fmt: skip
            return False
        low, high = self.get("min_position_limit"), self.get("max_position_limit")
        return not low <= self.get("goal_position") <= high

    def advance(self, dt: float) -> None:
        """Move toward the goal for `dt` seconds (position modes, torque on)."""
        if not self.get("torque_enable") or self.get("operating_mode") not in POSITION_MODES:
            self.set("present_velocity", 0)
            self.set("moving", 0)
            return
        limit = self.get("profile_velocity") or self.get("velocity_limit")
        speed = limit * RPM_UNIT / 60 * PULSES_PER_REV  # pulses/s
        error = self.get("goal_position") - self.exact_position
        step = max(-speed * dt, min(speed * dt, error))
        self.exact_position += step
        self.set("present_position", round(self.exact_position))
        moving = self.exact_position != self.get("goal_position")
        self.set("present_velocity", 0 if not moving else limit if step > 0 else -limit)
        self.set("moving", int(moving))

    def factory_reset(self, option: int) -> None:
        """0xFF: every field to its initial value; 0x01: all but the id; 0x02: all but the id
        and the baud rate."""
        keep = {"id": self.id, "baud_rate": self.get("baud_rate")}
        position = self.get("present_position")
        self._initialise(keep["id"] if option in (0x01, 0x02) else 1, position)
        if option == 0x02:
            self.set("baud_rate", keep["baud_rate"])

    def reboot(self) -> None:
        self.set("hardware_error_status", 0)
        self.set("torque_enable", 0)
        self.registered = None
        self.set("registered_instruction", 0)


@dataclass
class Faults:
    """Faults the next replies get: each count is used up one reply at a time."""

    corrupt_crc: int = 0  # replies sent with a wrong CRC
    drop: int = 0  # replies never sent
    hardware_error: set[int] = field(default_factory=set)  # ids that overload now


class EmulatedBus:
    """Servos by id on one bus."""

    def __init__(self, servos: list[ServoState], clock: Callable[[], float] = time.monotonic):
        self.servos = {s.id: s for s in servos}
        if len(self.servos) != len(servos):
            raise ValueError("two emulated servos share an id")
        self.faults = Faults()
        self.clock = clock
        self.last = clock()

    def advance(self) -> None:
        now = self.clock()
        for servo in self.servos.values():
            servo.advance(now - self.last)
        self.last = now

    def handle(self, packet: Packet | CorruptPacket) -> bytes:
        """The bytes the servos send in reply to one instruction packet (b"" for none)."""
        self.advance()
        for id in self.faults.hardware_error:
            if id in self.servos:
                self.servos[id].set("hardware_error_status", 1 << HardwareError.OVERLOAD)
                self.servos[id].set("torque_enable", 0)
        self.faults.hardware_error.clear()
        if isinstance(packet, CorruptPacket):  # the addressee says so, if it can tell
            servo = self.servos.get(packet.id)
            return self._reply(servo, StatusError.CRC) if servo else b""
        if packet.instruction == p.STATUS:
            return b""  # another device's reply
        return b"".join(self._deliver(reply) for reply in self._replies(packet))

    def _deliver(self, reply: bytes) -> bytes:
        if self.faults.drop:
            self.faults.drop -= 1
            return b""
        if self.faults.corrupt_crc:
            self.faults.corrupt_crc -= 1
            return reply[:-1] + bytes([reply[-1] ^ 0xFF])
        return reply

    def _replies(self, packet: Packet) -> Iterator[bytes]:
        inst, params = packet.instruction, packet.params
        targets = self._targets(packet.id)
        if inst == Instruction.PING:
            for s in targets:
                info = s.model.field("model_number").encode(s.model.number)
                yield self._reply(s, 0, info + bytes([s.get("firmware_version")]), ping=True)
        elif inst in (Instruction.READ, Instruction.WRITE, Instruction.REG_WRITE):
            yield from self._single(packet)
        elif inst == Instruction.ACTION:
            for s in targets:
                error = s.write(*s.registered) if s.registered else StatusError.INSTRUCTION
                s.registered = None
                s.set("registered_instruction", 0)
                if packet.id != p.BROADCAST:
                    yield self._reply(s, error)
        elif inst == Instruction.REBOOT:
            for s in targets:
                s.reboot()
                yield self._reply(s, 0)
        elif inst in (Instruction.SYNC_READ, Instruction.FAST_SYNC_READ):
            address, length = _u16(params, 0), _u16(params, 2)
            asked = [(i, address, length) for i in params[4:]]
            yield from self._reads(asked, fast=inst == Instruction.FAST_SYNC_READ)
        elif inst in (Instruction.BULK_READ, Instruction.FAST_BULK_READ):
            asked = [(params[k], _u16(params, k + 1), _u16(params, k + 3))
                     for k in range(0, len(params) - 4, 5)]  # fmt: skip
            yield from self._reads(asked, fast=inst == Instruction.FAST_BULK_READ)
        elif inst == Instruction.SYNC_WRITE:
            address, length = _u16(params, 0), _u16(params, 2)
            for k in range(4, len(params) - length, length + 1):
                self._write(params[k], address, params[k + 1 : k + 1 + length])
        elif inst == Instruction.BULK_WRITE:
            k = 0
            while k + 5 <= len(params):
                id, address, length = params[k], _u16(params, k + 1), _u16(params, k + 3)
                self._write(id, address, params[k + 5 : k + 5 + length])
                k += 5 + length
        elif inst == Instruction.FACTORY_RESET and len(params) == 1:
            for s in targets if packet.id != p.BROADCAST else []:
                yield self._reply(s, 0)
                s.factory_reset(params[0])
        else:
            for s in targets if packet.id != p.BROADCAST else []:
                yield self._reply(s, StatusError.INSTRUCTION)

    def _single(self, packet: Packet) -> Iterator[bytes]:
        servo, params = self.servos.get(packet.id), packet.params
        if servo is None:
            return
        if len(params) < 3 or (packet.instruction == Instruction.READ and len(params) != 4):
            yield self._reply(servo, StatusError.DATA_LENGTH)
        elif packet.instruction == Instruction.READ:
            error, data = servo.read(_u16(params, 0), _u16(params, 2))
            yield self._reply(servo, error, data, read=True)
        elif packet.instruction == Instruction.WRITE:
            written = self._write(packet.id, _u16(params, 0), params[2:])
            yield self._reply(servo, written or 0)
        else:
            for s in [servo, *self._shadows(packet.id)]:
                s.registered = (_u16(params, 0), params[2:])
                s.set("registered_instruction", 1)
            yield self._reply(servo, 0)

    def _shadows(self, id: int) -> list[ServoState]:
        """Servos whose Secondary ID is `id`: they carry out what is sent to it, silently."""
        return [s for s in self.servos.values() if s.get("secondary_id") == id != s.id]

    def _write(self, id: int, address: int, data: bytes) -> int | None:
        """Write to servo `id` (its error code; None if absent) and to its shadows (RAM only:
        a Secondary ID cannot write EEPROM)."""
        if address >= EEPROM_END:
            for shadow in self._shadows(id):
                shadow.write(address, data)
        return self.servos[id].write(address, data) if id in self.servos else None

    def _reads(self, asked: list[tuple[int, int, int]], fast: bool) -> Iterator[bytes]:
        """Each present servo's reply in the order asked (`fast`: one packet for all)."""
        parts = []
        for id, address, length in asked:
            if id in self.servos:
                s = self.servos[id]
                error, data = s.read(address, length)
                parts.append((s, error, data))
        if not fast:
            yield from (self._reply(s, e, d, read=True) for s, e, d in parts)
            return
        if parts:
            yield p.fast_reply([(s.id, self._error(s, e), d) for s, e, d in parts])

    def _targets(self, id: int) -> list[ServoState]:
        if id == p.BROADCAST:
            return [self.servos[i] for i in sorted(self.servos)]
        return [self.servos[id]] if id in self.servos else []

    def _error(self, servo: ServoState, code: int) -> int:
        return code | (p.ALERT if servo.get("hardware_error_status") else 0)

    def _reply(self, servo: ServoState, code: int, data: bytes = b"", ping: bool = False,
               read: bool = False) -> bytes:  # fmt: skip
        """A status packet, if the servo's Status Return Level sends one (0: ping only;
        1: ping and reads; 2: every instruction)."""
        level = servo.get("status_return_level")
        if not ping and (level == 0 or (level == 1 and not read)):
            return b""
        return p.status(servo.id, self._error(servo, code), data)


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def arm_servos(servos: dict[int, str]) -> list[ServoState]:
    """Emulated servos for an arm's id -> model map (ArmLayout.servos()), each at its centre."""
    return [ServoState(model(name), id) for id, name in sorted(servos.items())]
