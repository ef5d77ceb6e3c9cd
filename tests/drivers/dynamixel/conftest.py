"""An emulated wx250s in its own process (`vitac arm emulate`), for clients whose timing must
not share an interpreter lock with the emulator (DynamixelSDK busy-waits on its port)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def emulator_port() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "launch.cli", "arm", "emulate", "--seconds", "120"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
