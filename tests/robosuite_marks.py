"""`needs_robosuite`: marks a test `robosuite` and skips it where robosuite is not installed.

robosuite lives in its own venv (`make robosuite-venv`); in the main venv these tests skip.
`make test-robosuite` sets VITAC_REQUIRE_ROBOSUITE=1, which turns the skip into a run, so a
venv without robosuite fails loudly (with the adapter's install hint) instead of passing empty.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T", bound=Callable[..., object])

HAVE_ROBOSUITE = importlib.util.find_spec("robosuite") is not None
REQUIRE_ROBOSUITE = os.environ.get("VITAC_REQUIRE_ROBOSUITE", "") == "1"
_skip = pytest.mark.skipif(
    not (HAVE_ROBOSUITE or REQUIRE_ROBOSUITE),
    reason="robosuite is not installed here; `make test-robosuite` runs these in .venv-robosuite",
)


def needs_robosuite(test: T) -> T:
    marked: T = pytest.mark.robosuite(_skip(test))
    return marked
