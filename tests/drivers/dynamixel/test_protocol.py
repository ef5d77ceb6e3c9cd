"""The codec against the packets the ROBOTIS e-manual publishes for Protocol 2.0 (bytes
copied from its examples, CRCs included), and stuffing / streaming properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.dynamixel import protocol as p
from drivers.dynamixel.protocol import CorruptPacket, Packet, PacketReader, ProtocolError


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


# (what the e-manual's example does, our packet, its published bytes)
PUBLISHED = [
    ("ping id 1", p.ping(1), "FF FF FD 00 01 03 00 01 19 4E"),
    ("ping reply: model 1030, firmware 38", p.status(1, 0, h("06 04 26")),
     "FF FF FD 00 01 07 00 55 00 06 04 26 65 5D"),
    ("read present position (132, 4 bytes)", p.read(1, 132, 4),
     "FF FF FD 00 01 07 00 02 84 00 04 00 1D 15"),
    ("read reply: 166", p.status(1, 0, u32(166)),
     "FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0"),
    ("write goal position (116) = 512", p.write(1, 116, u32(512)),
     "FF FF FD 00 01 09 00 03 74 00 00 02 00 00 CA 89"),
    ("write reply", p.status(1), "FF FF FD 00 01 04 00 55 00 A1 0C"),
    ("reg write goal velocity (104) = 200", p.reg_write(1, 104, u32(200)),
     "FF FF FD 00 01 09 00 04 68 00 C8 00 00 00 AE 8E"),
    ("action", p.action(1), "FF FF FD 00 01 03 00 05 02 CE"),
    ("reboot", p.reboot(1), "FF FF FD 00 01 03 00 08 2F 4E"),
    ("sync read present position of ids 1, 2", p.sync_read([1, 2], 132, 4),
     "FF FF FD 00 FE 09 00 82 84 00 04 00 01 02 CE FA"),
    ("sync read reply of id 2: 2079", p.status(2, 0, u32(2079)),
     "FF FF FD 00 02 08 00 55 00 1F 08 00 00 BA BE"),
    ("broadcast ping", p.ping(p.BROADCAST), "FF FF FD 00 FE 03 00 01 31 42"),
    ("factory reset all but the id", p.factory_reset(1, 0x01), "FF FF FD 00 01 04 00 06 01 A1 E6"),
    ("bulk read: id 1 voltage (144, 2), id 2 temperature (146, 1)",
     p.bulk_read([(1, 144, 2), (2, 146, 1)]),
     "FF FF FD 00 FE 0D 00 92 01 90 00 02 00 02 92 00 01 00 1A 05"),
    ("bulk read reply of id 1: 11.9 V", p.status(1, 0, bytes([119, 0])),
     "FF FF FD 00 01 06 00 55 00 77 00 C3 69"),
    ("bulk read reply of id 2: 36 degC", p.status(2, 0, bytes([36])),
     "FF FF FD 00 02 05 00 55 00 24 8B A9"),
    ("bulk write: id 1 max voltage (32) 160, id 2 temperature limit (31) 80",
     p.bulk_write([(1, 32, bytes([160, 0])), (2, 31, bytes([80]))]),
     "FF FF FD 00 FE 10 00 93 01 20 00 02 00 A0 00 02 1F 00 01 00 50 B7 68"),
    ("fast sync read present position of ids 3, 7, 4", p.sync_read([3, 7, 4], 132, 4, fast=True),
     "FF FF FD 00 FE 0A 00 8A 84 00 04 00 03 07 04 20 F2"),
    ("its one reply: 166, 2079, 1023",
     p.fast_reply([(3, 0, u32(166)), (7, 0, u32(2079)), (4, 0, u32(1023))]),
     "FF FF FD 00 FE 19 00 55 00 03 A6 00 00 00 84 08 00 07 1F 08 00 00 16 CA 00 04 FF 03 00 00 "
     "D1 9E"),
    # the e-manual prints this packet with the fast sync read's CRC (20 F2); DA 2D checks
    ("fast bulk read: id 3 (132, 4), id 7 (124, 2), id 4 (146, 1)",
     p.bulk_read([(3, 132, 4), (7, 124, 2), (4, 146, 1)], fast=True),
     "FF FF FD 00 FE 12 00 9A 03 84 00 04 00 07 7C 00 02 00 04 92 00 01 00 DA 2D"),
    ("its one reply: 166, 421, 31",
     p.fast_reply([(3, 0, u32(166)), (7, 0, (421).to_bytes(2, "little")), (4, 0, bytes([31]))]),
     "FF FF FD 00 FE 14 00 55 00 03 A6 00 00 00 67 A4 00 07 A5 01 24 74 00 04 1F D9 C1"),
    ("sync write goal position: id 1 150, id 2 170",
     p.sync_write(116, 4, {1: u32(150), 2: u32(170)}),
     "FF FF FD 00 FE 11 00 83 74 00 04 00 01 96 00 00 00 02 AA 00 00 00 82 87"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "ours", "published"), PUBLISHED, ids=[w for w, *_ in PUBLISHED])
def test_packets_match_the_published_examples(what: str, ours: bytes, published: str) -> None:
    assert ours.hex(" ").upper() == published
    assert p.encode(*_fields(p.decode(ours))) == ours  # and decode back to what made them


def _fields(packet: Packet) -> tuple[int, int, bytes]:
    return packet.id, packet.instruction, packet.params


def test_status_fields_and_errors() -> None:
    reply = p.decode(p.status(1, 0, u32(166)))
    assert (reply.id, reply.error, int.from_bytes(reply.data, "little")) == (1, 0, 166)
    assert p.describe_error(0) == ""
    assert p.describe_error(0x03) == "crc"
    assert p.describe_error(0x80 | 0x07) == "access, hardware error (see Hardware Error Status)"
    with pytest.raises(ProtocolError, match="not a status packet"):
        _ = p.decode(p.ping(1)).error


def test_the_header_in_data_is_stuffed_and_counted_in_the_length() -> None:
    data = h("FF FF FD 07")  # e.g. a goal position whose bytes spell the header
    packet = p.write(1, 116, data)
    assert h("74 00 FF FF FD FD 07") in packet
    assert int.from_bytes(packet[5:7], "little") == 1 + 2 + 5 + 2  # inst, addr, stuffed, crc
    assert p.decode(packet).params == h("74 00") + data
    assert p.HEADER not in packet[4:]  # no false start inside


@given(st.binary(max_size=64))
def test_unstuff_inverts_stuff(data: bytes) -> None:
    stuffed = p.stuff(data)
    assert p.unstuff(stuffed) == data
    assert p.HEADER not in stuffed  # data never reads as a packet start


def test_decode_names_what_is_wrong() -> None:
    good = p.ping(1)
    with pytest.raises(ProtocolError, match="CRC 0x4E18, computed 0x4E19"):
        p.decode(good[:-2] + h("18 4E"))
    with pytest.raises(ProtocolError, match="header"):
        p.decode(b"\xff\xff\xff\x00" + good[4:])
    with pytest.raises(ProtocolError, match="length field 3 but 4 bytes"):
        p.decode(good + b"\x00")
    with pytest.raises(ValueError, match="id 300"):
        p.ping(300)
    with pytest.raises(ValueError, match="id 2 has 2"):
        p.sync_write(116, 4, {1: u32(1), 2: b"\x00\x00"})


@given(
    st.lists(st.tuples(st.integers(0, 253), st.binary(max_size=12)), min_size=1, max_size=5),
    st.binary(max_size=8),
    st.integers(1, 7),
)
def test_the_reader_finds_packets_in_noise_however_the_bytes_arrive(
    packets: list[tuple[int, bytes]], noise: bytes, chunk: int
) -> None:
    noise = noise.replace(b"\xff", b"\x00")  # noise that cannot start a header
    stream = noise + b"".join(p.status(i, 0, d) for i, d in packets)
    reader, found = PacketReader(), []
    for start in range(0, len(stream), chunk):
        found += reader.feed(stream[start : start + chunk])
    assert found == [Packet(i, p.STATUS, b"\x00" + d) for i, d in packets]


def test_a_corrupt_packet_is_reported_and_the_next_one_still_read() -> None:
    bad = bytearray(p.read(3, 132, 4))
    bad[9] ^= 0x01  # a flipped bit in the address
    found = PacketReader().feed(bytes(bad) + p.ping(4))
    assert isinstance(found[0], CorruptPacket) and found[0].id == 3 and "CRC" in found[0].reason
    assert found[1:] == [Packet(4, p.Instruction.PING)]
