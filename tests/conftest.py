"""Fixtures shared across packages: a small real dataset collected from the simulated rig."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import PegInsertionConfig
from training.collect import CollectConfig, collect

# Small images keep every test that trains or evaluates well under a second per step.
TINY_TASK = {"image_size": 32, "tactile_size": 16, "render_height": 48, "render_width": 64}


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four expert episodes of peg insertion (about 80 frames), collected once per session."""
    path = tmp_path_factory.mktemp("data") / "demos.zarr"
    result = collect(
        "peg_insertion",
        PegInsertionConfig.model_validate(TINY_TASK),
        CollectConfig(episodes=4, seed=0, noise_std=0.001),
        path,
        progress=False,
    )
    assert result.stored == 4
    return path
