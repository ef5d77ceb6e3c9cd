"""Named arm poses (rad, in drivers.kinematics.ARM_JOINTS order), shared by the sim's controller
and `vitac arm move`. A module of its own so that the command line can list them without
loading MuJoCo."""

from __future__ import annotations

POSES = {
    "home": (0.0, -0.5, 0.6, 0.0, 1.47, 0.0),  # elbow up, the tool pointing down
    "sleep": (0.0, -1.80, 1.55, 0.0, 0.8, 0.0),  # folded onto its rest (Interbotix's sleep pose)
    "zero": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),  # stretched out level: the calibration pose
}
