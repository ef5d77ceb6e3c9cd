from __future__ import annotations

import signal
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import TINY_TASK
from training.actors import PolicySpec
from training.eval_pool import EvalError, _check_workers
from training.evaluate import _Plan


def test_a_dead_worker_is_an_error_naming_its_episode() -> None:
    """The parent's check on its workers (stand-ins here; spawning is tested in
    test_evaluate.py). The plan only names its jobs: the checkpoint is never loaded."""
    sabotage = PolicySpec(Path("never-loaded"), key="sabotage")
    plan = _Plan("peg_insertion", TINY_TASK, (sabotage,), 5, None, 0)
    finished, killed = SimpleNamespace(exitcode=0), SimpleNamespace(exitcode=-signal.SIGKILL)
    procs: Any = [finished, killed]
    long_ago = time.monotonic() - 10
    # a worker that just died may still have reports in the pipe: no verdict yet
    _check_workers(plan, procs, {0: None, 1: (0, 1)}, {0: long_ago}, remaining=1)
    with pytest.raises(
        EvalError,
        match=r"worker 1 died \(killed by SIGKILL\) while running 'sabotage' episode 1 \(seed 6\)",
    ):
        _check_workers(plan, procs, {0: None, 1: (0, 1)}, {0: long_ago, 1: long_ago}, 1)
    with pytest.raises(EvalError, match=r"all workers exited with 3 episode\(s\) left"):
        _check_workers(plan, procs, {0: None, 1: None}, {0: long_ago, 1: long_ago}, 3)
