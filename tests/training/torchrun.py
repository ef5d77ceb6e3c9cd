"""Run `vitac` under torchrun with CPU processes (gloo), as the DDP tests do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def torchrun(*cli_args: str, processes: int = 2) -> subprocess.CompletedProcess[str]:
    """`torchrun --standalone --nproc_per_node N -m launch.cli ARGS`; asserts it succeeded."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc_per_node={processes}", "-m", "launch.cli", *cli_args]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
