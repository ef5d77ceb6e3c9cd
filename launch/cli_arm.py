"""`vitac arm`: the serial-bus arm. `emulate` serves an emulated arm on a pseudo-terminal (its
path on the first line of output), `scan` lists the servos on a bus, `calibrate` writes an
arm's calibration file, `state` reads it, `move` drives it to a named pose through the
control loop and the safety supervisor. Every one works against the emulator as against a
real arm; operator mistakes (missing port, servo or file, existing output) are one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drivers.dynamixel.arm_spec import ARMS
from drivers.poses import POSES

FAULTS = ("crc", "drop", "hardware-error", "disconnect")
REACHED_RAD = 0.01  # every joint this close to the pose: reached
WORKSPACE = "-0.6,-0.6,0.02,0.7,0.6,0.8"  # m: x, y, z low then high, in the arm's base frame


def add_arm_parser(sub: Any, lazy: Any) -> None:
    arm = sub.add_parser(
        "arm",
        help="the serial-bus arm: emulate, scan, calibrate, state, move",
        description="Drive a Dynamixel Protocol 2.0 arm (the wx250s layout) over a USB-serial "
        "adapter, or an emulated one on a pseudo-terminal.",
        epilog="example: vitac arm emulate   (then: vitac arm scan --port /dev/pts/N)",
    )
    actions = arm.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = actions.add_parser(
        "emulate",
        help="serve an emulated arm on a pseudo-terminal",
        description="Emulate every servo of the arm (register tables, motion at the profile "
        "velocity, status errors) on a pseudo-terminal any Protocol 2.0 client can open, e.g. "
        "DynamixelSDK or Dynamixel Wizard. The first line of output is the device path. Runs "
        "until Ctrl-C or --seconds.",
        epilog="example: vitac arm emulate --fault disconnect@30",
    )
    _add_arm(p)
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:ID][@S]",
        help=f"inject a fault S seconds after start (default 0): one of {', '.join(FAULTS)}; "
        "crc and drop spoil one reply, hardware-error:ID overloads servo ID (repeatable)",
    )
    p.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    p.set_defaults(handler=lazy("launch.cli_arm:emulate"))

    p = actions.add_parser(
        "scan",
        help="list the servos that answer on a bus",
        description="Broadcast a ping and list every servo that answers: id, model, firmware.",
        epilog="example: vitac arm scan --port /dev/ttyUSB0 --baud 1000000",
    )
    _add_bus(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=lazy("launch.cli_arm:scan"))

    p = actions.add_parser(
        "calibrate",
        help="measure an arm's joint offsets and gripper range into a calibration file",
        description="With torque off, you put the arm in its zero pose (stretched out level) "
        "and the gripper fully open, then fully closed; each joint's offset and the "
        "gripper's range are read and written to --out (JSON).",
        epilog="example: vitac arm calibrate --port /dev/ttyUSB0 --out arms/left.json",
    )
    _add_bus(p)
    _add_arm(p)
    p.add_argument("--out", type=Path, required=True, help="new calibration file (JSON)")
    p.add_argument("--yes", action="store_true", help="the arm is in its zero pose: no prompt")
    p.add_argument("--gripper-open", type=int, metavar="PULSES", help="skip that prompt")
    p.add_argument("--gripper-closed", type=int, metavar="PULSES", help="skip that prompt")
    p.set_defaults(handler=lazy("launch.cli_arm:calibrate"))

    p = actions.add_parser(
        "state",
        help="read the arm: joints, tool pose, gripper, temperatures, errors",
        description="Check every servo's model, then read joint angles, the tool pose "
        "(forward kinematics), the gripper, voltages, temperatures and hardware errors. "
        "Writes nothing.",
        epilog="example: vitac arm state --port /dev/ttyUSB0 --calibration arms/left.json",
    )
    _add_bus(p)
    _add_calibration(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=lazy("launch.cli_arm:state"))

    p = actions.add_parser(
        "move",
        help="move the arm to a named pose with the safety supervisor on",
        description="Configure the servos, turn torque on and move to the pose through the "
        "100 Hz control loop and the safety supervisor; print the loop's timing and every "
        "limit the supervisor applied. Torque stays on (holding) unless --relax.",
        epilog="example: vitac arm move home --port /dev/ttyUSB0 --calibration arms/left.json",
    )
    p.add_argument("pose", choices=sorted(POSES), help="where to go")
    _add_bus(p)
    _add_calibration(p)
    p.add_argument("--speed", type=float, default=0.5, help="rad/s of the furthest joint")
    p.add_argument("--workspace", default=WORKSPACE, help="the tool's box, m: x,y,z low, high")
    p.add_argument("--relax", action="store_true", help="torque off once there")
    p.set_defaults(handler=lazy("launch.cli_arm:move"))


def _add_arm(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arm", default="wx250s", choices=sorted(ARMS), help="servo layout")


def _add_bus(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0 or /dev/pts/N")
    p.add_argument("--baud", type=int, default=1_000_000, help="bus speed, bits/s")


def _add_calibration(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calibration", type=Path, required=True, help="the arm's calibration file")


# --- handlers ---------------------------------------------------------------------------------


def emulate(args: argparse.Namespace) -> int:
    from drivers.dynamixel.emulator import EmulatedBus, arm_servos
    from drivers.dynamixel.pty_server import PtyServer

    faults = [_fault(text) for text in args.fault]
    server = PtyServer(EmulatedBus(arm_servos(ARMS[args.arm].servos()))).start()
    print(server.path, flush=True)
    print(f"emulating the {args.arm}: servos {sorted(ARMS[args.arm].servos())}; Ctrl-C ends",
          file=sys.stderr, flush=True)  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    start = time.monotonic()
    try:
        while not stop.is_set() and (
            args.seconds is None or time.monotonic() - start < args.seconds
        ):
            for fault in [f for f in faults if time.monotonic() - start >= f[2]]:
                faults.remove(fault)
                if _inject(server, *fault[:2]):
                    return 0
            stop.wait(0.02)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


@contextmanager
def emulator_process(seconds: float) -> Iterator[str]:
    """`vitac arm emulate` in a process of its own (as a real arm is on the other side of its
    adapter, sharing no interpreter lock with its client): its port, read from its first line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "launch.cli", "arm", "emulate", "--seconds", str(seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def _fault(text: str) -> tuple[str, int | None, float]:
    from drivers.base import DeviceError

    kind, _, at = text.partition("@")
    kind, _, id = kind.partition(":")
    try:
        seconds, servo = float(at or 0), int(id) if id else None
    except ValueError:
        raise DeviceError(f"--fault {text}: expected KIND[:ID][@SECONDS]") from None
    if kind not in FAULTS or (kind == "hardware-error") != (servo is not None):
        raise DeviceError(f"--fault {text}: KIND is one of {', '.join(FAULTS)}; "
                          "hardware-error needs :ID, the others take none")  # fmt: skip
    return kind, servo, seconds


def _inject(server: Any, kind: str, servo: int | None) -> bool:
    """Inject one fault; True when it ended the emulation (disconnect)."""
    print(f"fault: {kind}{'' if servo is None else f' on servo {servo}'}", file=sys.stderr,
          flush=True)  # fmt: skip
    if kind == "disconnect":
        server.disconnect()
        return True
    with server.lock:
        if kind == "crc":
            server.bus.faults.corrupt_crc += 1
        elif kind == "drop":
            server.bus.faults.drop += 1
        else:
            server.bus.faults.hardware_error.add(servo)
    return False


def _bus(args: argparse.Namespace) -> Any:
    from drivers.dynamixel.bus import DynamixelBus

    return DynamixelBus(args.port, baudrate=args.baud).connect()


def _arm(args: argparse.Namespace, bus: Any) -> Any:
    from drivers.dynamixel.arm import DynamixelArm
    from drivers.dynamixel.arm_spec import load_calibration
    from drivers.kinematics import ArmKinematics

    calibration = load_calibration(args.calibration)
    arm = DynamixelArm(bus, ARMS[calibration.arm], calibration, ArmKinematics().limits)
    arm.connect()
    return arm


def scan(args: argparse.Namespace) -> int:
    from drivers.base import DeviceError
    from drivers.dynamixel.tables import MODEL_BY_NUMBER

    with _bus(args) as bus:
        found = bus.scan()
    if not found:
        raise DeviceError(f"{args.port}: no servo answered a ping at {args.baud} bps; check "
                          "power, cabling and the baud rate (new servos run at 57600)")  # fmt: skip
    rows = [{"id": id, "model": MODEL_BY_NUMBER[n].name if n in MODEL_BY_NUMBER else f"model {n}",
             "model_number": n, "firmware": fw} for id, (n, fw) in found.items()]  # fmt: skip
    if args.json:
        print(json.dumps({"port": args.port, "baud": args.baud, "servos": rows}, indent=1))
        return 0
    print(f"{len(rows)} servos on {args.port} at {args.baud} bps")
    for row in rows:
        print(f"  id {row['id']:3d}  {row['model']:<12s} firmware {row['firmware']}")
    return 0


def calibrate(args: argparse.Namespace) -> int:
    from drivers.base import DeviceError
    from drivers.dynamixel.arm import DynamixelArm
    from drivers.dynamixel.arm_spec import (
        CENTRE,
        Calibration,
        GripperCalibration,
        JointCalibration,
        default_calibration,
    )

    if args.out.exists():
        raise DeviceError(f"{args.out} exists; calibration never overwrites a file")
    layout = ARMS[args.arm]
    with _bus(args) as bus:
        arm = DynamixelArm(
            bus, layout, default_calibration(args.arm), [(-3.14, 3.14)] * len(layout.joints)
        )
        arm.connect()
        arm.torque(False)
        _prompt(args.yes, "put the arm in its zero pose (stretched out level), then press Enter")
        address, size = arm.field(layout.gripper, "present_position")
        raw = bus.sync_read(arm.ids, address, size)
        pulses = {name: int.from_bytes(raw[id], "little", signed=True)
                  for name, id in zip(arm.names, arm.ids, strict=True)}  # fmt: skip
        joints = {name: JointCalibration(offset=p - CENTRE) for name, p in pulses.items()}
        grip = []
        for given, what in ((args.gripper_open, "open"), (args.gripper_closed, "closed")):
            if given is None:
                _prompt(False, f"move the gripper fully {what}, then press Enter")
                given = int.from_bytes(
                    bus.read(layout.gripper.id, address, size), "little", signed=True
                )
            grip.append(given)
    cal = Calibration(
        arm=args.arm, joints=joints, gripper=GripperCalibration(open=grip[0], closed=grip[1])
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cal.save(args.out)
    print(f"calibration of the {args.arm} written to {args.out}")
    return 0


def _prompt(skip: bool, text: str) -> None:
    if not skip:
        input(f"{text}: ")


def state(args: argparse.Namespace) -> int:
    from drivers.dynamixel.tables import MODELS
    from drivers.kinematics import ArmKinematics

    with _bus(args) as bus:
        arm = _arm(args, bus)
        q = arm.joints()
        position, _ = ArmKinematics().fk(q)
        servos = {}
        for id, model in sorted(arm.layout.servos().items()):
            volts, celsius = (MODELS[model].field(name) for name in
                              ("present_input_voltage", "present_temperature"))  # fmt: skip
            raw_volts = volts.decode(bus.read(id, volts.address, volts.size))
            servos[id] = {
                "volts": round(volts.to_si(raw_volts), 1),
                "celsius": celsius.decode(bus.read(id, celsius.address, celsius.size)),
                "errors": bus.hardware_errors(id),
            }
        found = {"joints_rad": dict(zip(arm.names, q.round(4).tolist(), strict=True)),
                 "tool_position_m": position.round(4).tolist(),
                 "gripper_closed": round(arm.gripper_closed(), 3), "servos": servos}  # fmt: skip
    if args.json:
        print(json.dumps(found, indent=1))
        return 0
    for name, angle in found["joints_rad"].items():
        print(f"{name:<13s} {angle:+.4f} rad")
    print(f"tool at {found['tool_position_m']} m; gripper {found['gripper_closed']:.0%} closed")
    for id, s in servos.items():
        errors = ", ".join(s["errors"]) or "none"
        print(f"  servo {id}: {s['volts']:.1f} V, {s['celsius']} C, errors: {errors}")
    return 0


def move(args: argparse.Namespace) -> int:
    import numpy as np

    from drivers.arm_loop import ControlLoop
    from drivers.base import DeviceError
    from drivers.kinematics import ArmKinematics
    from drivers.safety import SafetyLimits, SafetySupervisor

    box = [float(v) for v in args.workspace.split(",")]
    if len(box) != 6:
        raise DeviceError(f"--workspace {args.workspace}: expected 6 numbers, x,y,z low then high")
    kin = ArmKinematics()
    with _bus(args) as bus:
        arm = _arm(args, bus)
        arm.configure()
        start = arm.joints()
        limits = SafetyLimits(tuple(kin.limits[:, 0]), tuple(kin.limits[:, 1]),
                              tuple(box[:3]), tuple(box[3:]))  # type: ignore[arg-type]  # fmt: skip
        try:
            supervisor = SafetySupervisor(limits, lambda q: kin.fk(q)[0], start)
        except ValueError as err:
            raise DeviceError(str(err)) from None
        goal = np.array(POSES[args.pose])
        seconds = max(float(np.max(np.abs(goal - start))) / args.speed, 0.5)
        arm.torque(True)
        with ControlLoop(arm, supervisor) as loop:
            loop.send_joints([time.monotonic() + seconds], [goal])
            time.sleep(seconds + 0.05)  # then the loop ends, before its plan goes stale
        loop.check()
        error = float(np.max(np.abs(arm.joints() - goal)))
        if args.relax:
            arm.torque(False)
    stats = loop.stats()
    clips = ", ".join(f"{k} {n}" for k, n in stats.clips.items()) or "none"
    if error > REACHED_RAD:
        raise DeviceError(f"{args.pose} not reached: {error:.3f} rad away after {seconds:.1f} s; "
                          f"the supervisor limited: {clips} (a lower --speed?)")  # fmt: skip
    p50, p99 = stats.lateness_ms
    print(f"{args.pose}: reached within {error:.4f} rad in {seconds:.1f} s; loop {stats.ticks} "
          f"ticks, {stats.missed} missed, lateness p50/p99 {p50:.2f}/{p99:.2f} ms of 10 ms; "
          f"supervisor limits applied: {clips}")  # fmt: skip
    return 0
