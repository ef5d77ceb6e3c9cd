"""DYNAMIXEL Protocol 2.0 packets: framing, CRC, byte stuffing, instruction builders and status
packets (ROBOTIS e-manual, "Protocol 2.0").

    FF FF FD 00 | ID | LEN_L LEN_H | INSTRUCTION | PARAMETERS ... | CRC_L CRC_H

LEN counts the bytes after it: instruction, (stuffed) parameters and the CRC. Wherever the
header's FF FF FD would appear in instruction or parameters it is sent as FF FF FD FD, so a
reader never mistakes data for a packet start. The CRC is CRC-16 with polynomial 0x8005
(initial 0, not reflected) over every sent byte before it, stuffing included. A status packet
(instruction 0x55) carries an error byte first: bit 7 is the hardware-error alert, bits 0-6
a processing error. Multi-byte fields are little-endian.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

HEADER = b"\xff\xff\xfd\x00"
BROADCAST = 0xFE
STATUS = 0x55
ALERT = 0x80  # status error bit 7: the device has a hardware error (Hardware Error Status)


class Instruction(IntEnum):
    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    FACTORY_RESET = 0x06
    REBOOT = 0x08
    CLEAR = 0x10
    STATUS = STATUS
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83
    FAST_SYNC_READ = 0x8A
    BULK_READ = 0x92
    BULK_WRITE = 0x93
    FAST_BULK_READ = 0x9A


class StatusError(IntEnum):
    """A status packet's error bits 0-6."""

    RESULT_FAIL = 0x01
    INSTRUCTION = 0x02
    CRC = 0x03
    DATA_RANGE = 0x04
    DATA_LENGTH = 0x05
    DATA_LIMIT = 0x06
    ACCESS = 0x07


class ProtocolError(ValueError):
    """Bytes that are not a well-formed Protocol 2.0 packet (the message says how)."""


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) ^ CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]) & 0xFFFF
    return crc


def stuff(data: bytes) -> bytes:
    """FF FF FD -> FF FF FD FD wherever it occurs."""
    out = bytearray()
    for byte in data:
        out.append(byte)
        if out[-3:] == b"\xff\xff\xfd":
            out.append(0xFD)
    return bytes(out)


def unstuff(data: bytes) -> bytes:
    """The inverse of stuff: the FD after each FF FF FD dropped."""
    out = bytearray()
    skip = False
    for byte in data:
        if skip:
            skip = False
            if byte == 0xFD:
                continue
        out.append(byte)
        if out[-3:] == b"\xff\xff\xfd":
            skip = True
    return bytes(out)


@dataclass(frozen=True)
class Packet:
    """A packet as read off the wire: `params` unstuffed, without the CRC."""

    id: int
    instruction: int
    params: bytes = b""

    @property
    def error(self) -> int:
        """A status packet's error byte."""
        self._status()
        return self.params[0]

    @property
    def data(self) -> bytes:
        """A status packet's parameters after its error byte."""
        self._status()
        return self.params[1:]

    def _status(self) -> None:
        if self.instruction != STATUS or not self.params:
            raise ProtocolError(f"not a status packet (instruction 0x{self.instruction:02X})")


def encode(id: int, instruction: int, params: bytes = b"") -> bytes:
    """One packet, stuffed, with its CRC."""
    if not 0 <= id <= BROADCAST:
        raise ValueError(f"id {id}: Protocol 2.0 ids are 0-{BROADCAST} ({BROADCAST} broadcast)")
    body = stuff(bytes([instruction]) + params)
    if len(body) + 2 > 0xFFFF:
        raise ValueError(f"{len(params)} parameter bytes: a packet holds at most 65532")
    head = HEADER + bytes([id]) + (len(body) + 2).to_bytes(2, "little") + body
    return head + crc16(head).to_bytes(2, "little")


def status(id: int, error: int = 0, data: bytes = b"") -> bytes:
    """A device's status packet."""
    return encode(id, STATUS, bytes([error]) + data)


def decode(raw: bytes) -> Packet:
    """Exactly one whole packet -> Packet; ProtocolError naming what is wrong."""
    if raw[:4] != HEADER:
        raise ProtocolError(f"header {raw[:4].hex(' ')}: expected ff ff fd 00")
    if len(raw) < 10:
        raise ProtocolError(f"{len(raw)} bytes: a packet has at least 10")
    length = int.from_bytes(raw[5:7], "little")
    if len(raw) != 7 + length or length < 3:
        raise ProtocolError(f"length field {length} but {len(raw) - 7} bytes follow it")
    sent, computed = int.from_bytes(raw[-2:], "little"), crc16(raw[:-2])
    if sent != computed:
        raise ProtocolError(f"CRC 0x{sent:04X}, computed 0x{computed:04X}")
    fast = raw[4] == BROADCAST and raw[7] == STATUS  # a fast read's reply is not stuffed
    body = raw[7:-2] if fast else unstuff(raw[7:-2])
    return Packet(raw[4], body[0], body[1:])


def fast_reply(parts: Sequence[tuple[int, int, bytes]]) -> bytes:
    """The one reply to a Fast Sync/Bulk Read from every servo asked, (id, error, data) each:
    a status packet from the broadcast id whose parameters are, per servo, its error, id,
    data and a 2-byte CRC. Each servo appends its part to what the ones before it sent, and
    its CRC covers the packet so far, so the last one is the packet's own CRC. Not stuffed."""
    length = 1 + sum(4 + len(data) for _, _, data in parts)  # instruction, then the parts
    packet = bytearray(HEADER + bytes([BROADCAST]) + length.to_bytes(2, "little") + b"\x55")
    for id, error, data in parts:
        packet += bytes([error, id]) + data
        packet += crc16(packet).to_bytes(2, "little")
    return bytes(packet)


def fast_parts(reply: Packet, lengths: Sequence[int]) -> list[tuple[int, int, bytes]]:
    """(id, error, data) of each part of a decoded fast reply, `lengths` the data sizes in
    the order asked (decode has checked the packet's CRC; the inner ones are not needed)."""
    parts: list[tuple[int, int, bytes]] = []
    at = 0
    for length in lengths:
        end = at + 2 + length
        if end > len(reply.params):
            raise ProtocolError(f"fast reply of {len(reply.params)} bytes ends inside part "
                                f"{len(parts) + 1} of {len(lengths)}")  # fmt: skip
        error, id = reply.params[at], reply.params[at + 1]
        parts.append((id, error, bytes(reply.params[at + 2 : end])))
        at = end + 2
    if at - 2 != len(reply.params):
        raise ProtocolError(f"fast reply of {len(reply.params)} bytes for parts {list(lengths)}")
    return parts


# --- instruction packets -------------------------------------------------------------------


def u16(value: int) -> bytes:
    return value.to_bytes(2, "little")


def ping(id: int) -> bytes:
    return encode(id, Instruction.PING)


def read(id: int, address: int, length: int) -> bytes:
    return encode(id, Instruction.READ, u16(address) + u16(length))


def write(id: int, address: int, data: bytes) -> bytes:
    return encode(id, Instruction.WRITE, u16(address) + data)


def reg_write(id: int, address: int, data: bytes) -> bytes:
    """Held by the device until ACTION."""
    return encode(id, Instruction.REG_WRITE, u16(address) + data)


def action(id: int = BROADCAST) -> bytes:
    return encode(id, Instruction.ACTION)


def reboot(id: int) -> bytes:
    return encode(id, Instruction.REBOOT)


def factory_reset(id: int, option: int) -> bytes:
    """option 0xFF: every field; 0x01: all but the id; 0x02: all but id and baud rate."""
    return encode(id, Instruction.FACTORY_RESET, bytes([option]))


def sync_read(ids: Sequence[int], address: int, length: int, fast: bool = False) -> bytes:
    """The same field of several devices; each replies in the order of `ids` (fast: one
    packet for all)."""
    inst = Instruction.FAST_SYNC_READ if fast else Instruction.SYNC_READ
    return encode(BROADCAST, inst, u16(address) + u16(length) + bytes(ids))


def sync_write(address: int, length: int, data: Mapping[int, bytes]) -> bytes:
    """The same field of several devices, each its own `length` bytes."""
    for id, value in data.items():
        if len(value) != length:
            raise ValueError(f"sync write of {length} bytes: id {id} has {len(value)}")
    items = b"".join(bytes([id]) + value for id, value in data.items())
    return encode(BROADCAST, Instruction.SYNC_WRITE, u16(address) + u16(length) + items)


def bulk_read(items: Iterable[tuple[int, int, int]], fast: bool = False) -> bytes:
    """(id, address, length) per device: different fields of different devices."""
    inst = Instruction.FAST_BULK_READ if fast else Instruction.BULK_READ
    return encode(BROADCAST, inst, b"".join(bytes([i]) + u16(a) + u16(n) for i, a, n in items))


def bulk_write(items: Iterable[tuple[int, int, bytes]]) -> bytes:
    """(id, address, data) per device."""
    params = b"".join(bytes([i]) + u16(a) + u16(len(d)) + d for i, a, d in items)
    return encode(BROADCAST, Instruction.BULK_WRITE, params)


def describe_error(error: int) -> str:
    """A status error byte in words ('' when there is none)."""
    words = []
    code = error & 0x7F
    if code:
        known = code in StatusError._value2member_map_
        words.append(StatusError(code).name.lower() if known else f"error {code}")
    if error & ALERT:
        words.append("hardware error (see Hardware Error Status)")
    return ", ".join(words)


@dataclass(frozen=True)
class CorruptPacket:
    """A framed packet whose bytes do not check (a CRC or length error): who sent it, why."""

    id: int
    reason: str


class PacketReader:
    """Packets out of a byte stream as it arrives: bytes before a header are skipped (line
    noise, a reply's tail after a timeout); a packet that does not check comes out as a
    CorruptPacket and reading resumes after its header."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Packet | CorruptPacket]:
        self.buffer += data
        out: list[Packet | CorruptPacket] = []
        while True:
            start = self.buffer.find(HEADER)
            if start < 0:
                del self.buffer[: max(0, len(self.buffer) - 3)]  # keep a header's start
                return out
            del self.buffer[:start]
            if len(self.buffer) < 7:
                return out
            end = 7 + int.from_bytes(self.buffer[5:7], "little")
            if len(self.buffer) < end:
                return out
            raw = bytes(self.buffer[:end])
            try:
                out.append(decode(raw))
                del self.buffer[:end]
            except ProtocolError as err:
                out.append(CorruptPacket(raw[4], str(err)))
                del self.buffer[: len(HEADER)]

    def clear(self) -> None:
        self.buffer.clear()
