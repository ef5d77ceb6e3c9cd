"""Device I/O: base protocols and data specs shared by real and simulated devices.

Also the arm's one kinematic description (assets/, `drivers.kinematics`) and the rotation
conventions (`drivers.rotations`), which the real drivers and the simulated rig both use.
Nothing in this package imports torch or any other vitac package.
"""

from drivers.spec import FieldSpec

__all__ = ["FieldSpec"]
