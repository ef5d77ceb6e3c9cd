"""Device I/O: base protocols and data specs shared by real and simulated devices.

Nothing in this package imports torch or any other vitac package.
"""

from drivers.spec import FieldSpec

__all__ = ["FieldSpec"]
