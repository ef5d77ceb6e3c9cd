"""Deterministic episodes for the episode-store tests (also imported by crash-test children).

Frame `step` of episode `ep` is a pure function of (ep, step), so a reader can check any
committed episode without knowing what the writer did before it crashed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drivers.spec import FieldSpec
from sensing.store import EpisodeStore, EpisodeWriter

SCHEMA = {
    "rgb.scene": FieldSpec(shape=(24, 24, 3), dtype="uint8", sensor="scene"),
    "tactile.left": FieldSpec(shape=(16, 12, 3), dtype="uint8", sensor="gelsight_left"),
    "proprio.ee_pos": FieldSpec(shape=(3,), dtype="float32", units="m"),
    "action": FieldSpec(shape=(7,), dtype="float32"),
}

_NOISE = np.random.default_rng(0).integers(0, 256, size=(64, 24, 24, 3), dtype=np.uint8)


def frame(ep: int, step: int, schema: dict[str, FieldSpec] = SCHEMA) -> dict[str, np.ndarray]:
    """Frame `step` of episode `ep`: images of noise with a marker, low-dim encoding (ep, step)."""
    out: dict[str, np.ndarray] = {}
    for key, spec in schema.items():
        if spec.is_image:
            img = np.resize(_NOISE[(ep * 31 + step) % len(_NOISE)], spec.shape).astype(spec.dtype)
            img[0, 0] = [ep % 256, step % 256, len(key)] if img.ndim == 3 else ep
            out[key] = img
        else:
            values = np.arange(spec.shape[0], dtype=np.float64) + ep * 1000.0 + step
            out[key] = values.astype(spec.dtype)
    return out


def timestamp(ep: int, step: int) -> float:
    return ep * 100.0 + step * 0.05


def length_of(ep: int) -> int:
    """A length that varies with the episode index (8..16 frames)."""
    return 8 + (ep * 5) % 9


def write_episode(writer: EpisodeWriter, ep: int, length: int, **meta: object) -> int:
    for step in range(length):
        writer.add(frame(ep, step, writer.schema), timestamp(ep, step))
    return writer.commit(success=ep % 3 != 1, seed=ep, task="insert", **meta)  # type: ignore[arg-type]


def check_episode(store: EpisodeStore, i: int, ep: int, length: int) -> None:
    """Episode `i` of `store` holds exactly episode `ep` of `length` frames."""
    data = store.episode(i)
    assert len(data["timestamp"]) == length
    for step in range(length):
        expected = frame(ep, step, store.schema)
        for key, value in expected.items():
            np.testing.assert_array_equal(data[key][step], value, err_msg=f"{key} step {step}")
        assert data["timestamp"][step] == timestamp(ep, step)
    assert store.episode_meta(i)["seed"] == ep
    assert store.episode_meta(i)["length"] == length


def array_lengths(path: Path) -> dict[str, int]:
    """Frame count of every data array as a foreign (zarr v2) reader sees it in .zarray."""
    import json

    return {
        p.name: json.loads((p / ".zarray").read_text())["shape"][0]
        for p in sorted((path / "data").iterdir())
        if p.is_dir()
    }


def foreign_consistent(path: Path) -> bool:
    """What diffusion_policy's ReplayBuffer asserts when it opens a store, read with plain zarr:
    every data array holds exactly `meta/episode_ends[-1]` frames."""
    import zarr

    ends = zarr.open_array(path / "meta" / "episode_ends", mode="r")[:]
    n_frames = int(ends[-1]) if len(ends) else 0
    return set(array_lengths(path).values()) == {n_frames}
