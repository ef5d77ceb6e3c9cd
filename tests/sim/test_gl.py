"""Rendering and torch's lazily imported Triton must coexist in one process."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sim  # sets up GL before MuJoCo renders
from sim import make_env
env = make_env("peg_insertion")
env.reset(seed=0)
import torch
torch.optim.AdamW(torch.nn.Linear(2, 2).parameters())  # imports torch._dynamo -> triton
env.step(env.unwrapped.hold_action())
env.close()
print("ok")
"""


def test_render_then_torch_optimizer_in_one_process() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
