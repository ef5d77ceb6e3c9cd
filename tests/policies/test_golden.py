"""Every policy kind has a golden file, made by its documented command, and still matches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from policies import POLICIES
from tests.policies.conftest import VARIANTS
from tests.policies.golden import INPUTS, command, golden_actions, golden_path


def test_every_registered_kind_has_a_golden_variant() -> None:
    assert set(POLICIES) <= set(VARIANTS)


@pytest.mark.parametrize("name", VARIANTS)
def test_golden_actions_unchanged(name: str) -> None:
    """Refactors must not change what given weights do with given inputs. A kind without a
    file fails here: make it with the command the file records."""
    path = golden_path(name)
    assert path.is_file(), f"no golden file for {name!r}: run {command(name)}"
    golden = json.loads(path.read_text())
    assert golden["made_by"] == command(name) and golden["commit"]
    assert golden["inputs"] == INPUTS
    stored = np.array(golden["actions"], dtype=np.float32)
    np.testing.assert_allclose(golden_actions(name), stored, rtol=1e-4, atol=1e-5)
