"""The layering rule of DESIGN.md: drivers/ imports nothing internal but itself, sensing/ only
drivers/, and neither imports torch (recorders and the device CLI run without the training
stack)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = {"drivers", "sensing", "sim", "policies", "training", "launch"}
ALLOWED = {"drivers": {"drivers"}, "sensing": {"drivers", "sensing"}}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_low_layer_imports_only_what_it_may(package: str) -> None:
    modules = [m.name for m in pkgutil.walk_packages([str(ROOT / package)], f"{package}.")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.split())  # fmt: skip
    assert len(modules) > 3
    assert "torch" not in loaded
    assert loaded & INTERNAL == ALLOWED[package]
