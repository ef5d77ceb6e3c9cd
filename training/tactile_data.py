"""Tactile pretraining data from the simulator, written in the FoTa format (`training.fota`).

Each sample is one press on the press rig of `sim.tactile_gallery`: an indenter of one of
SHAPES is driven into a pad with a random force at a random place and turn, the simulation
settles, and the sensor's native image is stored with what caused it. One FoTa data set per
sensor profile (`sim_<sensor>`: `sim_mini` for the GelSight Mini, `sim_digit` for the DIGIT),
each with `train/` and `val/` (every VAL_EVERY-th sample). Labels, per sample:

    contact_class   index of the indenter in SHAPES      (classification)
    object_name     its name
    x_mm, y_mm      where its lowest point pressed, in the pad's frame (regression)
    normal_force_n  the force it pressed with, newtons   (regression)
    depth_mm        the deepest indentation of the gel   (regression)
    angle_deg       its turn about the pad normal
    shear_x_n, shear_y_n, torque_nmm   the tangential force (image x, y) and the torque
                    about the normal it exerts on the pad, as measured (regression)

With `shear=True` every press also pushes sideways (up to SHEAR_SHARE of its force, any
direction) and twists (up to TWIST_M x its force, either way), inside the gel's friction
limits: the marker fields of a push and a twist, which a grasped part shows when a rim
pushes it up or tilts it between the pads. Without it those labels measure about 0.

With `grasp=True` every sample is a held object disturbed, as a grasped part is when a rim
catches it: the indenter (one of GRASP_SHAPES: SHAPES and `face`, a flat face wider than the
pad like the side of a grasped housing) is pressed with a grip force and left to settle, that
image is kept as the sample's base (`<key>.base.jpg`), then the grip force changes by up to
GRIP_CHANGE either way and a push and a twist as with `shear` act on the press already held,
and the image after is the sample. Encoders that take differences read it against its base,
as the policies read a pad against its post-grasp frame. Both images carry the profile's
sensor noise, drawn independently, as two frames of a real pad (and a simulated episode's)
do. The labels describe the sample (the push and twist are what changed: the base has none),
and `base_force_n` is the grip before.

With `units` > 0 every press is made on a sensor unit of its own (`sim.sensor_unit.draw_unit`
at that spread: gel stiffness, lights, markers, camera mount), stored with that unit's resting
frame as its base unless the grasp's held image is (a difference from the data set's reference
would mix two units), and labelled with the unit's deviations (`unit_*`).

Each data set also holds its reference image (`training.fota.write_reference`): the pad with
nothing touching it (what a real sensor's `capture_reference` averages), for encoders that read
a press as its difference from the resting gel (`Preprocessing.difference`).

The images also serve masked autoencoding (labels unused). Deterministic in the seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import mujoco
import numpy as np

from sim.sensor_unit import SensorUnit, draw_unit
from sim.tactile import TactileSensor
from sim.tactile_gallery import SPHERE, SQUARE, edge_geom, pin_geoms, press, rig_xml
from training.fota import FotaWriter, write_reference
from training.progress import Progress

SHAPES: dict[str, str] = {  # name -> MJCF geoms (lowest point at the body origin)
    "sphere": SPHERE,
    "edge": edge_geom(),
    "pins": pin_geoms(),
    "square": SQUARE,
}
FACE = '<geom type="box" size="0.010 0.020 0.002" pos="0 0 0.002"/>'  # 20 x 40 mm flat face
GRASP_SHAPES = {**SHAPES, "face": FACE}  # grasp=True: what a gripper may hold against the pad
SENSORS = {"mini": "gelsight_mini", "digit": "digit"}  # FoTa sensor name -> vitac profile
FORCE_N = (0.5, 3.0)
OFFSET_MM = 4.0  # presses land within +-4 mm of the pad centre
SHEAR_SHARE = 0.6  # shear=True: sideways push up to this share of the normal force (mu 1.5)
TWIST_M = 0.002  # shear=True: torque up to this x the normal force, N m per N (torsion 0.005)
GRIP_CHANGE = 0.3  # grasp=True: the grip force after the disturbance is 1 +- this x before
VAL_EVERY = 10


def make_tactile_data(
    root: Path,
    samples: int,
    seed: int,
    sensors: Sequence[str] = tuple(SENSORS),
    shard_size: int = 1000,
    progress: bool = True,
    shear: bool = False,
    grasp: bool = False,
    units: float = 0.0,
) -> dict[str, dict[str, int]]:
    """Write `samples` presses per sensor under `root/sim_<sensor>/{train,val}` (`shear`:
    with sideways pushes and twists; `grasp`: held presses disturbed, each with its base;
    `units`: each press on a sensor unit of its own, drawn at this spread)."""
    counts: dict[str, dict[str, int]] = {}
    shapes = GRASP_SHAPES if grasp else SHAPES
    for sensor in sensors:
        name = f"sim_{sensor}"
        rigs = {shape: PressRig(geoms, SENSORS[sensor]) for shape, geoms in shapes.items()}
        index = list(SENSORS).index(sensor)
        rng = np.random.default_rng([seed, index])
        noise = np.random.default_rng([seed, index, 2]) if grasp else None
        # the pushes draw from a stream of their own: with or without them, the same presses
        pushes = np.random.default_rng([seed, index, 1]) if shear or grasp else None
        unit_rng = np.random.default_rng([seed, index, 3])  # so are the units
        counts[name] = {"train": 0, "val": 0}
        with (
            FotaWriter(root / name / "train", shard_size) as train,
            FotaWriter(root / name / "val", shard_size) as val,
            Progress(f"make-data {sensor}", samples, "press", bar=progress) as shown,
        ):
            rig = next(iter(rigs.values()))
            mujoco.mj_resetData(rig.model, rig.data)  # the indenter starts clear of the pad
            mujoco.mj_forward(rig.model, rig.data)
            write_reference(root / name, rig.sensor.read(rig.model, rig.data).image)
            for i in range(samples):
                unit = draw_unit(unit_rng, units) if units > 0 else None
                image, labels, base = _sample(rigs, rng, pushes, noise, unit)
                split = "val" if i % VAL_EVERY == VAL_EVERY - 1 else "train"
                (val if split == "val" else train).add(f"{sensor}_{i:07d}", image, labels, base)
                counts[name][split] += 1
                shown.update(1)
    return counts


class PressRig:
    """The press rig with one indenter and one sensor profile, built once and reused."""

    def __init__(self, geoms: str, profile: str) -> None:
        self.model = mujoco.MjModel.from_xml_string(rig_xml(geoms))
        self.data = mujoco.MjData(self.model)
        self.sensor = TactileSensor(self.model, "pad", "pad", profile)


def _sample(
    rigs: dict[str, PressRig],
    rng: np.random.Generator,
    pushes: np.random.Generator | None,
    noise: np.random.Generator | None = None,
    unit: SensorUnit | None = None,
) -> tuple[np.ndarray, dict[str, object], np.ndarray | None]:
    """(image, labels, base image or None) of one press; `rigs` in class order; `noise`
    given: a grasp sample (a held press, then disturbed), each image with sensor noise;
    `unit` given: pressed on that sensor unit, its resting frame the base (unless the grasp's)."""
    grasp = noise is not None
    shape = list(rigs)[int(rng.integers(len(rigs)))]
    force = float(rng.uniform(*FORCE_N))
    x_mm, y_mm = (float(v) for v in rng.uniform(-OFFSET_MM, OFFSET_MM, 2))
    angle = float(rng.uniform(-math.pi, math.pi))
    rig = rigs[shape]
    rig.sensor.set_unit(unit or SensorUnit())
    xy = (x_mm / 1000, y_mm / 1000)
    base, base_force = None, 0.0
    if unit is not None:
        base = rig.sensor.reference.copy()
    if grasp:  # the grip first, held still: the base image
        held = press(rig.sensor, rig.model, rig.data, force, xy_m=xy, turn_rad=angle, rng=noise)
        base, base_force = held.image, float(held.normal_force)
        assert pushes is not None
        force *= 1.0 + GRIP_CHANGE * float(pushes.uniform(-1.0, 1.0))
    push, twist = (0.0, 0.0), 0.0
    if pushes is not None:
        size = force * SHEAR_SHARE * float(pushes.uniform())
        heading = float(pushes.uniform(0, 2 * math.pi))
        push = (size * math.cos(heading), size * math.sin(heading))
        twist = force * TWIST_M * float(pushes.uniform(-1.0, 1.0))
    reading = press(
        rig.sensor,
        rig.model,
        rig.data,
        force,
        push_n=push,
        torque_nm=twist,
        turn_rad=angle,
        xy_m=xy,
        held=grasp,
        rng=noise,
    )
    labels: dict[str, object] = {
        "contact_class": list(rigs).index(shape),
        "object_name": shape,
        "x_mm": round(x_mm, 4),
        "y_mm": round(y_mm, 4),
        "normal_force_n": round(float(reading.normal_force), 5),
        "depth_mm": round(float(reading.depth.max()) * 1000, 5),
        "angle_deg": round(math.degrees(angle), 3),
        "shear_x_n": round(float(reading.shear_force[0]), 5),
        "shear_y_n": round(float(reading.shear_force[1]), 5),
        "torque_nmm": round(float(reading.torque) * 1000, 5),
    }
    if grasp:
        labels["base_force_n"] = round(base_force, 5)
    if unit is not None:
        labels |= {
            "unit_modulus_scale": round(unit.modulus_scale, 5),
            "unit_gain_scale": round(unit.gain_scale, 5),
            "unit_turn_deg": round(unit.turn_deg, 4),
        }
    return reading.image, labels, base
