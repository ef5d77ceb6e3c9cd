"""`vitac view`: every camera of the rig in one picture, live (a Rerun viewer when rerun-sdk
is installed, else an OpenCV window) or as one PNG (`--snapshot`, headless).

Streams come from the flags (`--uvc`, `--tactile`, `--realsense`, `--replay`), or, with none,
from what `vitac devices` finds: each streaming video node (as its tactile model when its USB
id names one, else a 640x480 camera at 30 fps) and each RealSense.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import DeviceError
from launch.config import ConfigError
from sensing.mosaic import View, mosaic

UVC_MODE = (640, 480, 30.0)  # a camera named by --uvc DEVICE alone, or found


def add_view_parser(sub: Any, lazy: Any) -> None:
    p = sub.add_parser(
        "view",
        help="show every camera live, or save one frame of each (--snapshot)",
        description="A live mosaic of the rig's cameras (Rerun viewer when rerun-sdk is "
        "installed, else an OpenCV window; q or Ctrl-C ends), or one frame of each as a PNG. "
        "Without stream flags: every camera `vitac devices` finds.",
        epilog="example: vitac view --snapshot rig.png (also: vitac view --replay take1.db3; "
        "vitac view --tactile digit=serial:D20001 --uvc /dev/video4@1280x720x30)",
    )
    p.add_argument("--uvc", action="append", default=[], metavar="DEVICE[@WxHxFPS]",
                   help="a UVC camera (serial:<text>, by-id path, /dev/videoN or index); "
                   "mode default 640x480x30")  # fmt: skip
    p.add_argument("--tactile", action="append", default=[], metavar="MODEL=DEVICE",
                   help="a tactile sensor: gelsight_mini, digit or gelsight_uvc")  # fmt: skip
    p.add_argument("--realsense", action="append", default=[], metavar="SERIAL",
                   help="a RealSense camera by serial number")  # fmt: skip
    p.add_argument("--replay", action="append", default=[], type=Path, metavar="FILE.db3",
                   help="a RealSense recording instead of a live camera")  # fmt: skip
    p.add_argument("--snapshot", type=Path, default=None, metavar="FILE.png",
                   help="write one frame of every stream to a new PNG and exit")  # fmt: skip
    p.add_argument("--seconds", type=float, default=None, help="live: stop after this long")
    p.set_defaults(handler=lazy("launch.cli_view:view_command"))


def view_command(args: argparse.Namespace) -> int:
    if args.snapshot is not None:
        _check_snapshot_path(args.snapshot)
    cameras = build_cameras(args)
    with connected(cameras):
        if args.snapshot is not None:
            picture = mosaic([v for c in cameras for v in views(c, c.async_read(5.0))])
            _write_png(args.snapshot, picture)
            print(f"vitac view: {len(cameras)} cameras -> {args.snapshot}")
            return 0
        return live(cameras, args.seconds)


def build_cameras(args: argparse.Namespace) -> list[Any]:
    """The cameras the flags name, or every one discovery finds; a ConfigError if none."""
    from drivers.realsense import RealSenseCamera, RealSenseConfig
    from drivers.tactile import TactileConfig, TactileSensor
    from drivers.tactile_profiles import SENSORS

    cameras: list[Any] = []
    for i, text in enumerate(args.tactile):
        model, sep, device = text.partition("=")
        if not sep or model not in SENSORS or not device:
            raise ConfigError(f"--tactile {text!r}: expected MODEL=DEVICE with MODEL one of "
                              f"{sorted(SENSORS)}")  # fmt: skip
        config = TactileConfig(name=f"{model}{i}", sensor=model, device=_device(device))
        cameras.append(TactileSensor(config))
    cameras += [_uvc(text, i) for i, text in enumerate(args.uvc)]
    cameras += [RealSenseCamera(RealSenseConfig(name=f"rs_{s}", serial=s)) for s in args.realsense]
    for path in args.replay:
        cameras.append(_replay(path))
    if not (args.tactile or args.uvc or args.realsense or args.replay):
        cameras = discovered()
    if not cameras:
        raise ConfigError(
            "no cameras found (`vitac devices` lists what is plugged in); name one with "
            "--uvc, --tactile or --realsense, or --replay FILE.db3"
        )
    return cameras


def discovered() -> list[Any]:
    from drivers import discovery
    from drivers.realsense import RealSenseCamera, RealSenseConfig
    from drivers.tactile import TactileConfig, TactileSensor

    cameras: list[Any] = []
    for node in discovery.video_nodes():
        if node.index != 0:
            continue  # a metadata node: no frames
        device = node.by_id or node.path
        if node.sensor is not None:
            name = f"{node.sensor}_{node.serial or len(cameras)}"
            cameras.append(TactileSensor(TactileConfig(name=name, sensor=node.sensor,
                                                       device=device)))  # fmt: skip
        else:
            cameras.append(_uvc(device, len(cameras)))
    found, _ = discovery.realsense_cameras()
    cameras += [RealSenseCamera(RealSenseConfig(name=f"rs_{c['serial']}", serial=c["serial"]))
                for c in found]  # fmt: skip
    return cameras


@contextlib.contextmanager
def connected(cameras: list[Any]) -> Iterator[None]:
    """Connect every camera (closing those already open if one fails), close all at the end."""
    opened: list[Any] = []
    try:
        for camera in cameras:
            camera.connect()
            opened.append(camera)
        yield
    finally:
        for camera in reversed(opened):
            camera.close()


def views(camera: Any, frame: Any) -> list[View]:
    """What one frame of `camera` shows: colour (UVC frames are BGR), and depth for RGB-D."""
    fps = camera.stats().fps
    note = f"{fps:.1f} fps" if fps else ""
    if hasattr(frame, "depth"):  # a RealSense pair: colour is RGB already
        return [
            View(f"{camera.name} colour", frame.colour.image, note),
            View(f"{camera.name} depth", frame.depth.image, note, frame.depth_scale),
        ]
    return [View(camera.name, np.ascontiguousarray(frame.image[..., ::-1]), note)]


def live(cameras: list[Any], seconds: float | None) -> int:
    """Show the newest frame of every camera until q, Ctrl-C, or `seconds`."""
    show = _viewer()
    deadline = time.monotonic() + seconds if seconds is not None else float("inf")
    latest = {c.name: c.async_read(5.0) for c in cameras}
    with contextlib.suppress(KeyboardInterrupt):
        while time.monotonic() < deadline:
            for camera in cameras:
                with contextlib.suppress(DeviceError):  # a slow stream keeps its last frame
                    latest[camera.name] = camera.async_read(0.02)
            if not show([v for c in cameras for v in views(c, latest[c.name])]):
                return 0
    return 0


def _viewer() -> Any:
    """A function that shows every stream's views at once (False: the operator closed
    it): Rerun, else an OpenCV window."""
    try:
        import rerun as rr
    except ImportError:
        rr = None
    if rr is not None:
        rr.init("vitac view", spawn=True)

        def to_rerun(shown: list[View]) -> bool:
            for v in shown:
                image = rr.DepthImage(v.image, meter=1.0 / v.depth_scale) if v.depth_scale else \
                    rr.Image(v.image)  # fmt: skip
                rr.log(v.name.replace(" ", "/"), image)
            return True

        return to_rerun
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise ConfigError("no display for a window: use --snapshot FILE.png, or install "
                          "rerun-sdk (pip install rerun-sdk) for its viewer")  # fmt: skip
    import cv2

    def to_window(shown: list[View]) -> bool:
        cv2.imshow("vitac view", mosaic(shown)[..., ::-1])
        return (cv2.waitKey(1) & 0xFF) != ord("q")

    return to_window


def _replay(path: Path) -> Any:
    """A RealSense recording played at the modes it holds."""
    from drivers.realsense import RealSenseCamera, RealSenseConfig, StreamMode, import_realsense
    from drivers.realsense_recording import recorded_modes

    if path.suffix != ".db3" or not path.is_file():
        raise ConfigError(f"--replay {path}: not a .db3 RealSense recording file")
    import_realsense()  # a DeviceError naming what to install
    modes = recorded_modes(path.stem, path)
    if set(modes) != {"colour", "depth"}:
        raise ConfigError(f"--replay {path}: holds {sorted(modes)}, not colour and depth")
    stream = {k: StreamMode(width=w, height=h, fps=f) for k, (w, h, f) in modes.items()}
    return RealSenseCamera(RealSenseConfig(name=path.stem, recording=path, **stream))


def _uvc(text: str, index: int) -> Any:
    from drivers.uvc import UVCCamera, UVCConfig

    device, _, mode = text.partition("@")
    width, height, fps = UVC_MODE
    if mode:
        try:
            w, h, f = mode.lower().split("x")
            width, height, fps = int(w), int(h), float(f)
        except ValueError:
            raise ConfigError(f"--uvc {text!r}: the mode is WxHxFPS, e.g. 640x480x30") from None
    config = UVCConfig(name=f"camera{index}", device=_device(device), width=width,
                       height=height, fps=fps)  # fmt: skip
    return UVCCamera(config)


def _device(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _check_snapshot_path(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--snapshot {path}: must name a .png file")
    if path.exists():
        raise ConfigError(f"--snapshot {path}: exists; name a new file")
    if not path.parent.is_dir():
        raise ConfigError(f"--snapshot {path}: {path.parent} is not a directory")


def _write_png(path: Path, picture: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), picture[..., ::-1]):
        raise ConfigError(f"--snapshot {path}: could not be written")
