"""Example tactile images: a sphere, an edge and a pin array pressed into simulated pads.

`render_gallery(out_dir)` builds a small MuJoCo scene per probe (a fixed pad whose face is the
plane z = 0, a probe on three slide joints above it), presses each probe into a GelSight Mini
and a DIGIT pad with `sim.tactile.TactileSensor`, and writes PNGs:

- `<probe>_<profile>.png`: the tactile image (native resolution) of each probe;
- `shear_<profile>.png`: the sphere pressed and pushed sideways (markers dragged along +x), for
  profiles whose gel has markers;
- `overview_<profile>.png`: one sheet with the reference frame, the three contacts, the shear
  case, and the depth maps below them.

    python -m sim.tactile_gallery --out docs/tactile
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import mujoco
import numpy as np
from numpy.typing import NDArray

from sim.tactile import TactileReading, TactileSensor
from sim.tactile_profile import PROFILES

Image = NDArray[np.uint8]
PROBE_MASS = 0.4  # kg; MuJoCo's soft contact force for a given penetration scales with it


@dataclass(frozen=True)
class Probe:
    """A probe shape (MJCF geoms, lowest point at the body origin) and how far to press it."""

    name: str
    geoms: str  # MJCF <geom> elements in the probe body's frame, metres
    depth_m: float  # press depth: the lowest point this far behind the pad face
    push_n: float = 0.0  # sideways force along +x (image columns) on the probe, newtons


def _edge_geom() -> str:
    """A 40 mm long box resting on one of its edges, the edge turned 30 deg from image x."""
    half = 0.005  # half side of the square cross-section
    lift = half * math.sqrt(2.0)  # the edge is the lowest line
    a, b = math.radians(30.0) / 2, math.radians(45.0) / 2
    qz = (math.cos(a), 0.0, 0.0, math.sin(a))
    qx = (math.cos(b), math.sin(b), 0.0, 0.0)
    w1, x1, y1, z1 = qz
    w2, x2, y2, z2 = qx
    quat = (  # qz * qx: roll the box onto its edge, then turn it about the pad normal
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    )
    q = " ".join(f"{c:.6f}" for c in quat)
    return f'<geom type="box" size="0.02 {half} {half}" pos="0 0 {lift:.6f}" quat="{q}"/>'


def _pin_geoms(rows: int = 3, cols: int = 4, pitch: float = 0.0038, radius: float = 0.0008) -> str:
    """Round-tipped pins (capsules) on a grid, tips level."""
    half_len = 0.003
    geoms = []
    for i in range(rows):
        for j in range(cols):
            x = (j - (cols - 1) / 2) * pitch
            y = (i - (rows - 1) / 2) * pitch
            z = radius + half_len
            geoms.append(
                f'<geom type="capsule" size="{radius} {half_len}" pos="{x:.5f} {y:.5f} {z:.5f}"/>'
            )
    return "\n        ".join(geoms)


PROBES = (
    Probe("sphere", '<geom type="sphere" size="0.004" pos="0 0 0.004"/>', depth_m=0.0008),
    Probe("edge", _edge_geom(), depth_m=0.0006),
    Probe("pins", _pin_geoms(), depth_m=0.0005),
)
SHEAR = Probe("shear", PROBES[0].geoms, depth_m=0.0008, push_n=3.0)


def rig_xml(probe: Probe, pad_half_m: float = 0.015) -> str:
    """MJCF: pad `pad` (geom and site, face at z = 0, gripper group 1), probe on slide joints."""
    return f"""
<mujoco model="tactile_{probe.name}">
  <option gravity="0 0 0" cone="elliptic" impratio="10"/>
  <worldbody>
    <geom name="pad" type="box" group="1" size="{pad_half_m} {pad_half_m} 0.002"
          pos="0 0 -0.002" solref="0.004 1" friction="1.5 0.005 0.0001"/>
    <site name="pad" pos="0 0 0"/>
    <body name="probe">
      <joint name="px" type="slide" axis="1 0 0"/>
      <joint name="py" type="slide" axis="0 1 0"/>
      <joint name="pz" type="slide" axis="0 0 1"/>
      <inertial pos="0 0 0" mass="{PROBE_MASS}" diaginertia="1e-5 1e-5 1e-5"/>
        {probe.geoms}
    </body>
  </worldbody>
</mujoco>
"""


def press(
    sensor: TactileSensor,
    model: mujoco.MjModel,
    data: mujoco.MjData,
    depth_m: float,
    xy_m: tuple[float, float] = (0.0, 0.0),
    push_n: float = 0.0,
) -> TactileReading:
    """Place the probe's lowest point `depth_m` behind the face at site-frame `xy_m`; read."""
    mujoco.mj_resetData(model, data)
    data.qpos[:3] = (xy_m[0], xy_m[1], -depth_m)
    data.xfrc_applied[1, :3] = (push_n, 0.0, 0.0)
    mujoco.mj_forward(model, data)
    return sensor.read(model, data)


def render_probe(probe: Probe, profile: str) -> tuple[TactileReading, Image]:
    """The reading of `probe` pressed into a `profile` pad, and that pad's reference frame."""
    model = mujoco.MjModel.from_xml_string(rig_xml(probe))
    data = mujoco.MjData(model)
    sensor = TactileSensor(model, "pad", "pad", profile)
    return press(sensor, model, data, probe.depth_m, push_n=probe.push_n), sensor.reference


def depth_colormap(depth: NDArray[np.float32], full_scale_m: float) -> Image:
    """(H, W) metres -> (H, W, 3) RGB, 0 black to `full_scale_m` bright (inferno colour map)."""
    scaled = np.clip(depth / full_scale_m * 255.0, 0, 255).astype(np.uint8)
    bgr: Image = cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)
    return bgr[..., ::-1].copy()


def _labelled(image: Image, text: str) -> Image:
    out = image.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _sheet(top: Sequence[Image], bottom: Sequence[Image], gap: int = 4) -> Image:
    h, w = top[0].shape[:2]
    cols = len(top)
    sheet = np.full((2 * h + 3 * gap, cols * w + (cols + 1) * gap, 3), 255, np.uint8)
    for row, images in enumerate((top, bottom)):
        for col, image in enumerate(images):
            y, x = gap + row * (h + gap), gap + col * (w + gap)
            sheet[y : y + h, x : x + w] = image
    return sheet


def _write_png(path: Path, rgb: Image) -> Path:
    if not cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {path}")
    return path


def render_gallery(out_dir: Path | str, profiles: Sequence[str] = tuple(PROFILES)) -> list[Path]:
    """Write the gallery PNGs for `profiles` into `out_dir`; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in profiles:
        full_scale = 0.001  # depth colour scale, metres
        top, bottom = [], []
        reference: Image | None = None
        shear = (SHEAR,) if PROFILES[name].markers else ()  # no markers: shear is invisible
        for probe in (*PROBES, *shear):
            reading, reference = render_probe(probe, name)
            written.append(_write_png(out / f"{probe.name}_{name}.png", reading.image))
            label = f"{probe.name} {probe.depth_m * 1e3:.1f} mm, {reading.normal_force:.1f} N"
            top.append(_labelled(reading.image, label))
            bottom.append(_labelled(depth_colormap(reading.depth, full_scale), "depth 0-1 mm"))
        assert reference is not None
        top.insert(0, _labelled(reference, f"{name} reference"))
        bottom.insert(0, np.zeros_like(reference))
        written.append(_write_png(out / f"overview_{name}.png", _sheet(top, bottom)))
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/tactile"), help="output folder")
    parser.add_argument(
        "--profile", action="append", choices=sorted(PROFILES), help="profile (default: all)"
    )
    args = parser.parse_args(argv)
    for path in render_gallery(args.out, args.profile or tuple(PROFILES)):
        print(path)


if __name__ == "__main__":
    main()
