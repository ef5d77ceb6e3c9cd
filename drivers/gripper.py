"""What the control loop and the policies ask of a gripper, whatever drives it: the arm's own
Dynamixel servo (`drivers.dynamixel.arm.DynamixelArm`), or a separate gripper on its own bus
such as a Robotiq 2F-85 over Modbus RTU (not built: its registers are in
../shared/research/drivers.md)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Gripper(Protocol):
    def grip(self, closed: float) -> None:
        """Command 0 (open) to 1 (closed, or as far as the object lets it)."""

    def gripper_closed(self) -> float:
        """The measured closure, 0 (open) to 1 (closed)."""
