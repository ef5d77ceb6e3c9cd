"""Device I/O: base protocols and data specs shared by real and simulated devices.

Cameras: `drivers.base` (Frame, DeviceError, the Camera protocol), `drivers.uvc` (UVC
cameras through OpenCV's V4L2 backend), `drivers.tactile` and `drivers.tactile_profiles`
(GelSight Mini, DIGIT: the sensor models the simulated pads share) and `drivers.uvc_replay`
(OpenCV's capture replaced by a replay: the fake at the SDK boundary that tests and
benchmarks use).
The arm: `drivers.dynamixel` (Protocol 2.0 codec, control tables, the bus, the wx250s
driver, and a servo emulator on a pseudo-terminal), `drivers.safety` (the supervisor every
command passes) and `drivers.arm_loop` (the fixed-rate control loop); docs/arm.md.
Also the arm's one kinematic description (assets/, `drivers.kinematics`, `drivers.poses`) and
the rotation conventions (`drivers.rotations`), which the real drivers and the simulated rig
both use.
Nothing in this package imports torch or any other vitac package.
"""

from drivers.base import Camera, DeviceError, Frame, FrameTimeoutError, StreamStats
from drivers.spec import FieldSpec

__all__ = ["Camera", "DeviceError", "FieldSpec", "Frame", "FrameTimeoutError", "StreamStats"]
