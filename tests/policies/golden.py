"""Golden actions: for every policy kind, what a tiny policy with fixed weights does with
fixed inputs, stored with the command that made it.

Regenerate one only on purpose, for a change meant to alter that policy's function:
    python -m tests.policies.golden NAME
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from policies import make_policy
from tests.policies.conftest import IO, fit_data, make_batch, tiny_policy_config

INPUTS = (
    "tiny_policy_config(name) weights from torch.manual_seed(1234), make_batch(2, seed=99), "
    "sampling noise from torch.manual_seed(4321)"
)


def golden_path(name: str) -> Path:
    return Path(__file__).with_name(f"golden_{name}_actions.json")


def command(name: str) -> str:
    return f"python -m tests.policies.golden {name}"


def golden_actions(name: str) -> np.ndarray:
    """(2, T_p, D_a) from the tiny policy of kind `name`."""
    torch.manual_seed(1234)
    policy = make_policy(tiny_policy_config(name), IO)
    policy.fit_normalizer(fit_data())
    policy.eval()
    batch = make_batch(2, policy.config, seed=99)
    torch.manual_seed(4321)  # the diffusion policy's initial noise
    with torch.no_grad():
        return policy.predict_action_chunk(batch).numpy()


def write(name: str) -> Path:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    record = {
        "made_by": command(name),
        "commit": commit,
        "torch": torch.__version__,
        "inputs": INPUTS,
        "actions": golden_actions(name).tolist(),
    }
    path = golden_path(name)
    path.write_text(json.dumps(record, indent=1))
    return path


if __name__ == "__main__":
    for kind in sys.argv[1:]:
        print(f"wrote {write(kind)}")
