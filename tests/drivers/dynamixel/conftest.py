"""An emulated wx250s in its own process (`vitac arm emulate`), for clients whose timing must
not share an interpreter lock with the emulator (DynamixelSDK busy-waits on its port)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from launch.cli_arm import emulator_process


@pytest.fixture
def emulator_port() -> Iterator[str]:
    with emulator_process(120) as port:
        yield port
