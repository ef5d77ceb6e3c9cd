"""What is plugged in: UVC video nodes (with their stable by-id names, USB ids, the tactile
sensor model a USB id says they are, and the capture modes they offer), RealSense cameras,
serial ports and 3Dconnexion SpaceMice. Nothing streams: a node that streams frames is opened
only to enumerate its modes.

Video nodes come from sysfs: /sys/class/video4linux/videoN/{name,index} (index 0 is the
node that streams; a GelSight Mini's second node carries metadata) and, up its `device` link,
the USB device's idVendor, idProduct and serial; /dev/v4l/by-id links name the nodes stably.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drivers.tactile_profiles import SENSORS
from drivers.v4l2 import Mode, NotV4L2Error, read_modes

SYS_VIDEO = Path("/sys/class/video4linux")
SYS_HIDRAW = Path("/sys/class/hidraw")
DEV = Path("/dev")


@dataclass(frozen=True)
class VideoNode:
    path: str  # /dev/videoN
    name: str
    index: int  # 0: the node that streams frames
    by_id: str | None  # /dev/v4l/by-id/... (stable across re-plugging)
    usb_id: str | None  # VID:PID
    serial: str | None
    sensor: str | None  # the tactile sensor model with that USB id, if any
    modes: tuple[Mode, ...] = ()  # of the node that streams
    modes_note: str | None = None  # why a streaming node's modes could not be read


@dataclass(frozen=True)
class SerialPort:
    path: str
    usb_id: str | None
    serial: str | None
    description: str


@dataclass(frozen=True)
class HidNode:
    path: str  # /dev/hidrawN
    usb_id: str  # VID:PID
    name: str


def spacemice(sys_hidraw: Path = SYS_HIDRAW, dev: Path = DEV) -> list[HidNode]:
    """The hidraw nodes of 3Dconnexion devices: vendor 256f, or Logitech's 046d with a c6xx
    product (the SpaceNavigator era), read from each node's HID_ID and HID_NAME in sysfs."""
    found = []
    for node in sorted(sys_hidraw.glob("hidraw*"), key=lambda p: _number(p.name)):
        fields = dict(line.split("=", 1) for line in _text(node / "device" / "uevent").splitlines()
                      if "=" in line)  # fmt: skip
        parts = fields.get("HID_ID", "").split(":")
        if len(parts) != 3:
            continue
        vendor, product = parts[1][-4:].lower(), parts[2][-4:].lower()
        if vendor == "256f" or (vendor == "046d" and product.startswith("c6")):
            found.append(HidNode(str(dev / node.name), f"{vendor}:{product}",
                                 fields.get("HID_NAME", "")))  # fmt: skip
    return found


def video_nodes(
    sys_video: Path = SYS_VIDEO,
    dev: Path = DEV,
    modes: Callable[[str], list[Mode]] = read_modes,
) -> list[VideoNode]:
    """Every V4L2 node, in numeric order (empty when there are none), the modes of each node
    that streams read with `modes` (its /dev path -> modes)."""
    if not sys_video.is_dir():
        return []
    stable = _by_id(dev / "v4l" / "by-id")
    models = {m.usb_id: m.name for m in SENSORS.values() if m.usb_id}
    nodes = []
    for node in sorted(sys_video.glob("video*"), key=lambda p: _number(p.name)):
        usb = _usb_device(node / "device")
        usb_id = serial = None
        if usb is not None:
            usb_id = f"{_text(usb / 'idVendor')}:{_text(usb / 'idProduct')}"
            serial = _text(usb / "serial") or None
        index = int(_text(node / "index") or 0)
        found, note = _modes(str(dev / node.name), modes) if index == 0 else ([], None)
        nodes.append(
            VideoNode(
                path=str(dev / node.name),
                name=_text(node / "name"),
                index=index,
                by_id=stable.get(node.name),
                usb_id=usb_id,
                serial=serial,
                sensor=models.get(usb_id or ""),
                modes=tuple(found),
                modes_note=note,
            )
        )
    return nodes


def _modes(path: str, modes: Callable[[str], list[Mode]]) -> tuple[list[Mode], str | None]:
    """(modes, None), or ([], why not): a busy, unreadable or odd node is listed anyway."""
    try:
        return modes(path), None
    except NotV4L2Error:
        return [], "answers no V4L2 capture enumeration"
    except OSError as err:
        return [], f"modes not read: {err.strerror or err}"


def serial_ports() -> list[SerialPort]:
    """Serial ports pyserial sees (USB adapters with their ids)."""
    from serial.tools import list_ports

    ports = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        usb_id = f"{port.vid:04x}:{port.pid:04x}" if port.vid is not None else None
        ports.append(SerialPort(port.device, usb_id, port.serial_number, port.description))
    return ports


def realsense_cameras() -> tuple[list[dict[str, str]], str]:
    """(cameras, note): serial, name and firmware of each RealSense; the note says why the
    list is necessarily empty (the SDK or libusb missing), else is empty."""
    try:
        import pyrealsense2 as rs
    except ImportError as err:
        return [], f"pyrealsense2 unavailable ({err}); pip install 'vitac[realsense]'"
    info = rs.camera_info
    cameras = [
        {
            "serial": device.get_info(info.serial_number),
            "name": device.get_info(info.name),
            "firmware": device.get_info(info.firmware_version),
        }
        for device in rs.context().devices
    ]
    return cameras, ""


def as_json(items: list[Any]) -> list[dict[str, Any]]:
    return [asdict(item) for item in items]


def _by_id(folder: Path) -> dict[str, str]:
    """videoN -> its by-id link."""
    if not folder.is_dir():
        return {}
    return {link.readlink().name: str(link) for link in sorted(folder.iterdir())
            if link.is_symlink()}  # fmt: skip


def _usb_device(link: Path) -> Path | None:
    """The USB device folder (the one with idVendor) at or above `link`'s target."""
    if not link.exists():
        return None
    for folder in [link.resolve(), *link.resolve().parents]:
        if (folder / "idVendor").is_file():
            return folder
    return None


def _text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _number(name: str) -> int:
    digits = re.sub(r"\D", "", name)
    return int(digits) if digits else -1
