"""The emulator as a client other than ours sees it: ROBOTIS's DynamixelSDK (its own packet
code) over the pseudo-terminal, every instruction it has; and the emulator's motion model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.dynamixel import protocol as p
from drivers.dynamixel.bus import DynamixelBus
from drivers.dynamixel.emulator import EmulatedBus, ServoState
from drivers.dynamixel.pty_server import PtyServer
from drivers.dynamixel.tables import RAD_PER_PULSE, RAD_S_PER_VELOCITY, model

IDS = {1: "xm430-w350", 2: "xm540-w270", 3: "xl330-m288"}
sdk = pytest.importorskip("dynamixel_sdk")
GOAL, PRESENT, TORQUE, LED = 116, 132, 64, 65
WX250S = {1: "xm430-w350", 8: "xl430-w250", 9: "xl430-w250"}  # some of its nine servos


@pytest.fixture
def client(emulator_port: str) -> Iterator[tuple[object, object]]:
    """DynamixelSDK on the emulated wx250s, which runs in its own process."""
    port = sdk.PortHandler(emulator_port)
    assert port.openPort() and port.setBaudRate(1_000_000)
    yield port, sdk.PacketHandler(2.0)
    port.closePort()


def test_the_sdk_pings_reads_writes_and_reboots(client: tuple) -> None:
    port, packets = client
    number, result, error = packets.ping(port, 8)
    assert (number, result, error) == (model("xl430-w250").number, sdk.COMM_SUCCESS, 0)
    found, result = packets.broadcastPing(port)
    assert result == sdk.COMM_SUCCESS and list(found) == list(range(1, 10))
    assert {i: found[i][0] for i in WX250S} == {i: model(m).number for i, m in WX250S.items()}
    assert packets.write1ByteTxRx(port, 1, TORQUE, 1) == (sdk.COMM_SUCCESS, 0)
    assert packets.write4ByteTxRx(port, 1, GOAL, 2100) == (sdk.COMM_SUCCESS, 0)
    assert packets.read4ByteTxRx(port, 1, GOAL) == (2100, sdk.COMM_SUCCESS, 0)
    assert packets.write4ByteTxRx(port, 1, PRESENT, 0) == (sdk.COMM_SUCCESS, p.StatusError.ACCESS)
    assert packets.reboot(port, 1) == (sdk.COMM_SUCCESS, 0)
    assert packets.read1ByteTxRx(port, 1, TORQUE) == (0, sdk.COMM_SUCCESS, 0)


def test_the_sdks_group_reads_and_writes(client: tuple) -> None:
    port, packets = client
    writes = sdk.GroupSyncWrite(port, packets, LED, 1)
    for i in WX250S:
        assert writes.addParam(i, [1])
    assert writes.txPacket() == sdk.COMM_SUCCESS
    for fast in (False, True):
        reads = sdk.GroupSyncRead(port, packets, GOAL, 4)
        for i in WX250S:
            assert reads.addParam(i)
        assert (reads.fastSyncRead() if fast else reads.txRxPacket()) == sdk.COMM_SUCCESS
        assert [reads.getData(i, GOAL, 4) for i in WX250S] == [2048] * 3
        bulk = sdk.GroupBulkRead(port, packets)
        assert bulk.addParam(1, LED, 1) and bulk.addParam(9, 0, 2)
        assert (bulk.fastBulkRead() if fast else bulk.txRxPacket()) == sdk.COMM_SUCCESS
        assert (bulk.getData(1, LED, 1), bulk.getData(9, 0, 2)) == (1, model("xl430-w250").number)


def test_our_fast_reads_parse_the_emulators_one_packet_replies() -> None:
    servos = [ServoState(model(m), i) for i, m in IDS.items()]
    with PtyServer(EmulatedBus(servos)) as server, DynamixelBus(server.path) as bus:
        bus.sync_write(GOAL, 4, {i: (2000 + i).to_bytes(4, "little") for i in IDS})
        found = bus.fast_sync_read([3, 1, 2], GOAL, 4)
        assert {i: int.from_bytes(v, "little") for i, v in found.items()} == {
            1: 2001, 2: 2002, 3: 2003
        }  # fmt: skip
        got = bus.fast_bulk_read([(2, GOAL, 4), (1, 0, 2)])
        assert got == {2: (2002).to_bytes(4, "little"), 1: (1020).to_bytes(2, "little")}


def test_the_fast_replys_crcs_each_cover_the_packet_so_far() -> None:
    reply = p.fast_reply([(1, 0, b"\x01\x02"), (2, 0x80, b"\x03\x04")])
    first_crc_at = 8 + 2 + 2  # after instruction: error, id, 2 data bytes
    assert reply[first_crc_at : first_crc_at + 2] == p.crc16(reply[:first_crc_at]).to_bytes(
        2, "little"
    )
    packet = p.decode(reply)  # the last CRC is the packet's
    assert p.fast_parts(packet, [2, 2]) == [(1, 0, b"\x01\x02"), (2, 0x80, b"\x03\x04")]
    with pytest.raises(p.ProtocolError, match="ends inside part 2"):
        p.fast_parts(packet, [2, 4])


def test_motion_follows_the_profile_velocity_and_stops_at_the_goal() -> None:
    now = [0.0]
    servo = ServoState(model("xm430-w350"), 1, position=1000)
    bus = EmulatedBus([servo], clock=lambda: now[0])
    servo.set("torque_enable", 1)
    servo.set("profile_velocity", 50)  # 11.45 rev/min
    servo.set("goal_position", 3000)
    now[0] = 0.5
    bus.advance()
    pulses_per_s = 50 * RAD_S_PER_VELOCITY / RAD_PER_PULSE
    assert servo.get("present_position") == round(1000 + 0.5 * pulses_per_s)
    assert servo.get("moving") == 1 and servo.get("present_velocity") == 50
    now[0] = 10.0
    bus.advance()
    assert servo.get("present_position") == 3000 and servo.get("moving") == 0
    servo.set("torque_enable", 0)
    servo.set("goal_position", 0)
    now[0] = 20.0
    bus.advance()
    assert servo.get("present_position") == 3000  # no torque, no motion


def replies(bus: EmulatedBus, packet: bytes) -> list[p.Packet | p.CorruptPacket]:
    return p.PacketReader().feed(bus.handle(p.decode(packet)))


def test_a_shadow_servo_follows_its_master_silently_in_ram_only() -> None:
    master, shadow = ServoState(model("xm430-w350"), 2), ServoState(model("xm430-w350"), 3)
    shadow.set("secondary_id", 2)  # the wx250s shoulder: servo 3 shadows servo 2
    bus = EmulatedBus([master, shadow])
    goal = (2500).to_bytes(4, "little")
    assert [r.id for r in replies(bus, p.write(2, TORQUE, b"\x01"))] == [2]  # master only
    replies(bus, p.write(2, GOAL, goal))
    assert shadow.get("torque_enable") == 1 and shadow.get("goal_position") == 2500
    replies(bus, p.sync_write(GOAL, 4, {2: (2600).to_bytes(4, "little")}))
    assert shadow.get("goal_position") == 2600
    replies(bus, p.write(2, TORQUE, b"\x00"))
    replies(bus, p.write(2, 20, (100).to_bytes(4, "little")))  # homing offset: EEPROM
    assert master.get("homing_offset") == 100 and shadow.get("homing_offset") == 0


def test_a_model_refuses_operating_modes_it_lacks() -> None:
    xl430, xm430 = ServoState(model("xl430-w250"), 8), ServoState(model("xm430-w350"), 1)
    bus = EmulatedBus([xl430, xm430])
    (reply,) = replies(bus, p.write(8, 11, bytes([5])))  # current-based position
    assert isinstance(reply, p.Packet) and reply.error == p.StatusError.DATA_RANGE
    assert xl430.get("operating_mode") == 3
    (reply,) = replies(bus, p.write(1, 11, bytes([5])))
    assert isinstance(reply, p.Packet) and reply.error == 0 and xm430.get("operating_mode") == 5


def test_factory_reset_keeps_what_its_option_says() -> None:
    servo = ServoState(model("xm430-w350"), 4)
    bus = EmulatedBus([servo])
    for option, kept_id in ((0x01, 4), (0xFF, 1)):
        servo.set("led", 1)
        replies(bus, p.factory_reset(servo.id, option))
        assert (servo.get("led"), servo.id) == (0, kept_id)
