"""Example tactile images from simulated presses, and the press rig the tactile tests share.

`rig_xml(geoms, mass)` is a small MuJoCo scene: a fixed pad whose face is the plane z = 0 (geom
and site `pad`) and a probe on three slide joints and a hinge about the pad normal above it.
`press` lets the simulation drive the probe into the pad with a force (and optionally push it
sideways and twist it), steps until it settles and reads the sensor: what the image shows is
what the force does to the gel (`sim.gel`), not hand-placed geometry.

`render_gallery(out_dir)` presses each probe into a GelSight Mini and a DIGIT pad and writes:

- `<probe>_<profile>.png`: the tactile image (native resolution) of each probe;
- `shear_<profile>.png` and `torsion_<profile>.png`: the sphere pushed sideways, and a flat
  square twisted about the normal (markers dragged along, and turned), for profiles whose gel
  has markers;
- `overview_<profile>.png`: one sheet with the reference frame, every contact, and the depth
  maps below them.

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
PROBE_MASS = 0.4  # kg; any other mass gives the same image for the same force (sim.gel)
SETTLE_S = 0.6  # simulated time a press is given to come to rest
_START_GAP_M = 0.0001  # the probe's lowest point starts this far in front of the face


@dataclass(frozen=True)
class Probe:
    """A probe shape (MJCF geoms, lowest point at the body origin) and how it is pressed."""

    name: str
    geoms: str  # MJCF <geom> elements in the probe body's frame, metres
    force_n: float  # pressed into the pad with this force
    push_n: tuple[float, float] = (0.0, 0.0)  # sideways force along image x and y, newtons
    torque_nm: float = 0.0  # twist about the pad normal, N m


def edge_geom() -> str:
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


def pin_geoms(rows: int = 3, cols: int = 4, pitch: float = 0.0038, radius: float = 0.0008) -> str:
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


SPHERE = '<geom type="sphere" size="0.004" pos="0 0 0.004"/>'
SQUARE = '<geom type="box" size="0.004 0.004 0.002" pos="0 0 0.002"/>'  # 8 mm flat face
PROBES = (
    Probe("sphere", SPHERE, force_n=1.0),
    Probe("edge", edge_geom(), force_n=2.0),
    Probe("pins", pin_geoms(), force_n=1.5),
)
MARKER_PROBES = (  # what only markers show
    Probe("shear", SPHERE, force_n=2.0, push_n=(1.5, 0.0)),
    Probe("torsion", SQUARE, force_n=3.0, torque_nm=0.006),
)


def rig_xml(geoms: str, mass: float = PROBE_MASS, pad_half_m: float = 0.015) -> str:
    """MJCF: pad `pad` (geom and site, face at z = 0, gripper group 1) and a free-ish probe.

    The probe moves on slide joints x, y, z and turns on a hinge about z (qpos: x, y, z of its
    lowest point, then the angle); joint damping scales with its mass so that any probe settles
    within `SETTLE_S`.
    """
    inertia = mass * 1e-4  # kg m^2, a ~2 cm probe
    slide = f'type="slide" damping="{300 * mass:.6g}"'
    diag = f"{inertia:.6g} {inertia:.6g} {inertia:.6g}"
    return f"""
<mujoco model="tactile_press">
  <option gravity="0 0 0" cone="elliptic" impratio="10"/>
  <worldbody>
    <geom name="pad" type="box" group="1" size="{pad_half_m} {pad_half_m} 0.002"
          pos="0 0 -0.002" solref="0.004 1" friction="1.5 0.005 0.0001"/>
    <site name="pad" pos="0 0 0"/>
    <body name="probe">
      <joint name="px" {slide} axis="1 0 0"/>
      <joint name="py" {slide} axis="0 1 0"/>
      <joint name="pz" {slide} axis="0 0 1"/>
      <joint name="turn" type="hinge" axis="0 0 1" damping="{300 * inertia:.6g}"/>
      <inertial pos="0 0 0" mass="{mass:.6g}" diaginertia="{diag}"/>
      {geoms}
    </body>
  </worldbody>
</mujoco>
"""


def press(
    sensor: TactileSensor,
    model: mujoco.MjModel,
    data: mujoco.MjData,
    force_n: float,
    xy_m: tuple[float, float] = (0.0, 0.0),
    push_n: tuple[float, float] = (0.0, 0.0),
    torque_nm: float = 0.0,
    rng: np.random.Generator | None = None,
    settle_s: float = SETTLE_S,
    turn_rad: float = 0.0,
    held: bool = False,
) -> TactileReading:
    """Drive the probe of a `rig_xml` scene into the pad with `force_n` at `xy_m`; read.

    The probe starts just in front of the face at site-frame `xy_m`, turned `turn_rad` about
    the normal; the simulation then pushes it with `force_n` along -z, `push_n` sideways and
    `torque_nm` about z for `settle_s`. `held`: the probe starts where the last press left it
    (`xy_m` and `turn_rad` unused): the new forces act on a press already settled.
    """
    if not held:
        mujoco.mj_resetData(model, data)
        data.qpos[:4] = (xy_m[0], xy_m[1], _START_GAP_M, turn_rad)
    data.xfrc_applied[1] = (push_n[0], push_n[1], -force_n, 0.0, 0.0, torque_nm)
    for _ in range(round(settle_s / model.opt.timestep)):
        mujoco.mj_step(model, data)
    mujoco.mj_forward(model, data)
    return sensor.read(model, data, rng)


def render_probe(probe: Probe, profile: str) -> tuple[TactileReading, Image]:
    """The reading of `probe` pressed into a `profile` pad, and that pad's reference frame."""
    model = mujoco.MjModel.from_xml_string(rig_xml(probe.geoms))
    data = mujoco.MjData(model)
    sensor = TactileSensor(model, "pad", "pad", profile)
    reading = press(
        sensor, model, data, probe.force_n, push_n=probe.push_n, torque_nm=probe.torque_nm
    )
    return reading, sensor.reference


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
        extra = MARKER_PROBES if PROFILES[name].markers else ()  # no markers: shear is invisible
        for probe in (*PROBES, *extra):
            reading, reference = render_probe(probe, name)
            written.append(_write_png(out / f"{probe.name}_{name}.png", reading.image))
            depth_mm = float(reading.depth.max()) * 1e3
            label = f"{probe.name} {reading.normal_force:.1f} N, {depth_mm:.2f} mm"
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
