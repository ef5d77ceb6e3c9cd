"""Shared fixtures for the sim tests: one default env per module (creating one costs ~50 ms)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sim import PegInsertionEnv
from sim.tasks.lift import LiftEnv


@pytest.fixture(scope="module")
def env() -> Iterator[PegInsertionEnv]:
    made = PegInsertionEnv()
    yield made
    made.close()


@pytest.fixture(scope="module")
def lift() -> Iterator[LiftEnv]:
    """A Lift env without domain randomisation, for the arm's controller and observations."""
    made = LiftEnv({"randomize": False})
    yield made
    made.close()


def warning_counts(env: PegInsertionEnv) -> list[int]:
    """MuJoCo's warning counters (contact buffer full, bad qacc, ...): all must stay 0."""
    return [int(w.number) for w in env.data.warning]
