"""`vitac devices [--json]`: what is plugged in (UVC video nodes with the tactile sensor each
USB id says it is and their capture modes, RealSense cameras, serial ports); exit 0, with empty
lists when nothing is."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_devices_parser(sub: Any, lazy: Any) -> None:
    p = sub.add_parser(
        "devices",
        help="list cameras, tactile sensors, RealSense cameras and serial ports",
        description="List UVC video nodes (stable /dev/v4l/by-id names, USB ids, the tactile "
        "sensor model of a known USB id; index 0 is the node that streams, with its capture modes: "
        "pixel format, size, frame rates), RealSense cameras (serials) and serial ports (USB "
        "ids). Starts no stream.",
        epilog="example: vitac devices --json",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=lazy("launch.cli_devices:devices_command"))


def devices_command(args: argparse.Namespace) -> int:
    from drivers.discovery import as_json, realsense_cameras, serial_ports, spacemice, video_nodes

    cameras, note = realsense_cameras()
    found: dict[str, Any] = {
        "video": as_json(video_nodes()),
        "realsense": cameras,
        "serial": as_json(serial_ports()),
        "spacemouse": as_json(spacemice()),
    }
    if note:
        found["notes"] = [note]
    if args.json:
        print(json.dumps(found, indent=1))
        return 0
    for line in _lines(found):
        print(line)
    return 0


def _lines(found: dict[str, Any]) -> list[str]:
    lines = [f"video nodes: {len(found['video'])}"]
    for v in found["video"]:
        what = f" ({v['sensor']})" if v["sensor"] else ""
        stream = "streams" if v["index"] == 0 else f"index {v['index']}, no frames"
        lines.append(f"  {v['path']}  {v['name']}{what}  [{stream}]  usb {v['usb_id'] or '-'}")
        if v["by_id"]:
            lines.append(f"    {v['by_id']}")
        for m in v["modes"]:
            rates = ", ".join(f"{r:g}" for r in m["fps"]) or "?"
            lines.append(f"    {m['fourcc']} {m['width']}x{m['height']} at {rates} fps")
        if v["modes_note"]:
            lines.append(f"    modes: {v['modes_note']}")
    lines.append(f"realsense cameras: {len(found['realsense'])}")
    lines += [f"  {c['serial']}  {c['name']}  firmware {c['firmware']}" for c in found["realsense"]]
    lines.append(f"serial ports: {len(found['serial'])}")
    for s in found["serial"]:
        lines.append(f"  {s['path']}  {s['description']}  usb {s['usb_id'] or '-'}")
    lines.append(f"spacemice: {len(found['spacemouse'])}")
    lines += [f"  {h['path']}  {h['name']}  usb {h['usb_id']}" for h in found["spacemouse"]]
    lines += [f"note: {n}" for n in found.get("notes", [])]
    return lines
