"""Damaged and foreign stores: every case is a DatasetError saying what was found and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from sensing.errors import DatasetError
from sensing.store import EpisodeStore, EpisodeWriter, WindowSampler
from tests.sensing.store_helpers import SCHEMA, check_episode, length_of, write_episode


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "s.zarr"
    with EpisodeWriter.create(path, SCHEMA) as w:
        for ep in range(3):
            write_episode(w, ep, length_of(ep))
    return path


def _chunk(path: Path, key: str, frame: int) -> Path:
    return path / "data" / key / f"{frame}.0.0.0"


def _edit_json(file: Path, **changes: object) -> None:
    content = json.loads(file.read_text())
    content.update(changes)
    file.write_text(json.dumps(content))


def test_missing_path_and_plain_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        EpisodeStore.open(tmp_path / "nope.zarr")
    with pytest.raises(DatasetError, match="does not exist"):
        EpisodeWriter.open(tmp_path / "nope.zarr")
    (tmp_path / "f.zarr").write_text("hello")
    with pytest.raises(DatasetError, match="is a file"):
        EpisodeStore.open(tmp_path / "f.zarr")


def test_non_zarr_directory(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(b"png")
    with pytest.raises(DatasetError, match=r"not a zarr store .*found \['a.png'\]"):
        EpisodeStore.open(tmp_path / "photos")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="directory is empty"):
        EpisodeStore.open(tmp_path / "empty")


def test_plain_zarr_group_without_attrs(tmp_path: Path) -> None:
    zarr.open_group(tmp_path / "plain.zarr", mode="w", zarr_format=2)
    with pytest.raises(DatasetError, match=r"not a vitac episode store .*no arrays or groups"):
        EpisodeStore.open(tmp_path / "plain.zarr")
    zarr.open_group(tmp_path / "v3.zarr", mode="w", zarr_format=3)
    with pytest.raises(DatasetError, match="zarr format 3"):
        EpisodeStore.open(tmp_path / "v3.zarr")


def test_diffusion_policy_like_store(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "pusht.zarr", mode="w", zarr_format=2)
    data = root.create_group("data")
    data.create_array("img", shape=(10, 8, 8, 3), dtype="float32")
    data.create_array("action", shape=(10, 2), dtype="float32")
    root.create_group("meta").create_array("episode_ends", shape=(2,), dtype="int64")
    with pytest.raises(DatasetError, match=r"diffusion_policy ReplayBuffer") as info:
        EpisodeStore.open(tmp_path / "pusht.zarr")
    assert "data/{action, img}" in str(info.value) and "no 'vitac_format'" in str(info.value)
    with pytest.raises(DatasetError, match="not a vitac episode store"):
        EpisodeWriter.open(tmp_path / "pusht.zarr")
    assert not (tmp_path / "pusht.zarr" / ".vitac-writer.lock").exists()  # left untouched


def test_unsupported_format_version(store_path: Path) -> None:
    _edit_json(store_path / ".zattrs", vitac_format="vitac.episodes/2")
    with pytest.raises(DatasetError, match=r"'vitac.episodes/2' is not supported .*upgrade"):
        EpisodeStore.open(store_path)


def test_schema_array_mismatch(store_path: Path) -> None:
    attrs = json.loads((store_path / ".zattrs").read_text())
    attrs["schema"]["action"]["shape"] = [6]
    (store_path / ".zattrs").write_text(json.dumps(attrs))
    with pytest.raises(DatasetError, match=r"data/action does not match the schema.*\(6,\)"):
        EpisodeStore.open(store_path)


def test_undeclared_and_missing_arrays(store_path: Path, tmp_path: Path) -> None:
    zarr.open_group(store_path / "data", mode="r+", zarr_format=2).create_array(
        "extra", shape=(3,), dtype="int8"
    )
    with pytest.raises(DatasetError, match="data/extra is not declared in the schema"):
        EpisodeStore.open(store_path)
    (store_path / "data" / "extra" / ".zarray").unlink()
    (store_path / "data" / "action" / ".zarray").unlink()
    with pytest.raises(DatasetError, match="array data/action is missing"):
        EpisodeStore.open(store_path)


def test_data_shorter_than_episode_ends(store_path: Path) -> None:
    _edit_json(store_path / "data" / "action" / ".zarray", shape=[10, 7])
    with pytest.raises(DatasetError, match=r"data/action holds 10 frames but .* commits 30"):
        EpisodeStore.open(store_path)


def test_non_monotonic_episode_ends(store_path: Path) -> None:
    ends = zarr.open_array(store_path / "meta" / "episode_ends", mode="r+")
    ends[1] = 3
    with pytest.raises(DatasetError, match=r"not increasing at entry 1 \(3 after 8\)"):
        EpisodeStore.open(store_path)


def test_deleted_chunk_file(store_path: Path) -> None:
    _chunk(store_path, "rgb.scene", 20).unlink()  # frame 20 lies in episode 1 (frames 8..20)
    with pytest.raises(
        DatasetError, match=r"data/rgb.scene: 1 chunk file\(s\) missing .*episodes \[1\]\. Restore"
    ):
        EpisodeStore.open(store_path)
    (store_path / "data" / "timestamp" / "0").unlink()
    with pytest.raises(
        DatasetError,
        match=r"rgb.scene: .*; data/timestamp: 1 chunk file\(s\) missing .*\[0, 1, 2\]",
    ):
        EpisodeStore.open(store_path)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_chunk_file(store_path: Path, damage: str) -> None:
    chunk = _chunk(store_path, "tactile.left", 25)  # episode 2 (frames 21..29)
    raw = chunk.read_bytes()
    chunk.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else b"\x02\x01" + raw[2:][::-1])
    store = EpisodeStore.open(store_path)  # files are all there; decoding is what fails
    check_episode(store, 0, 0, length_of(0))
    with pytest.raises(DatasetError, match=r"cannot decode tactile.left .*damaged"):
        store.episode(2)
    with pytest.raises(DatasetError, match=r"cannot decode tactile\.left"):
        store.load()
    with pytest.raises(DatasetError, match=r"tactile.left: episodes \[2\]"):
        store.verify()
    with pytest.raises(DatasetError, match=r"tactile.left: episodes \[2\]"):
        EpisodeStore.open(store_path, verify=True)
    sampler = WindowSampler(store.episode_ends, horizon=4)
    with pytest.raises(DatasetError, match=r"cannot decode tactile\.left"):
        sampler.sample_batch(store.arrays(), np.arange(len(sampler)))


def test_torn_episode_ends_tail_is_dropped_and_repaired(store_path: Path) -> None:
    n = zarr.open_array(store_path / "meta" / "episode_ends", mode="r").shape[0]
    ends = zarr.open_array(store_path / "meta" / "episode_ends", mode="r+")
    ends.resize((n + 1,))  # the commit's resize landed, its value write did not
    assert ends[:].tolist()[-1] == 0
    store = EpisodeStore.open(store_path, verify=True)
    assert store.n_episodes == 3
    with EpisodeWriter.open(store_path) as w:
        assert w.n_episodes == 3
        write_episode(w, 3, 5)
    store = EpisodeStore.open(store_path, verify=True)
    assert store.n_episodes == 4
    check_episode(store, 3, 3, 5)


def test_metadata_beyond_commit_is_ignored(store_path: Path) -> None:
    meta_file = store_path / "meta" / ".zattrs"
    meta = json.loads(meta_file.read_text())
    meta["episodes"].append({"task": "never committed"})
    meta_file.write_text(json.dumps(meta))
    assert EpisodeStore.open(store_path).n_episodes == 3
    with EpisodeWriter.open(store_path):
        pass
    assert len(json.loads(meta_file.read_text())["episodes"]) == 3
    meta["episodes"] = meta["episodes"][:2]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="2 per-episode metadata entries for 3 committed"):
        EpisodeStore.open(store_path)


def test_leftover_partial_files_are_harmless(store_path: Path) -> None:
    (store_path / "data" / "action" / "0.abcdef.partial").write_bytes(b"half")
    assert EpisodeStore.open(store_path, verify=True).n_episodes == 3
    with EpisodeWriter.open(store_path):
        pass
    assert not list(store_path.rglob("*.partial"))


def test_chunk_deleted_after_open_is_reported_on_read(store_path: Path) -> None:
    store = EpisodeStore.open(store_path)
    _chunk(store_path, "rgb.scene", 3).unlink()
    with pytest.raises(DatasetError, match=r"data/rgb.scene/3\.0\.0\.0 is missing"):
        store.episode(0)
    with pytest.raises(DatasetError, match="is missing"):
        store.arrays(["rgb.scene"])["rgb.scene"][np.array([3])]


def test_damaged_episode_ends(store_path: Path) -> None:
    (store_path / "meta" / "episode_ends" / "0").write_bytes(b"not a chunk")
    with pytest.raises(DatasetError, match="cannot decode meta/episode_ends"):
        EpisodeStore.open(store_path)
    (store_path / "meta" / "episode_ends" / "0").unlink()  # reads as [0, 0, 0]: not a torn tail
    with pytest.raises(DatasetError, match="episode_ends chunk file 0 is missing"):
        EpisodeStore.open(store_path)
    zarr.open_array(store_path / "meta" / "episode_ends", mode="r+")[:] = [8, 21, 21]
    with pytest.raises(DatasetError, match=r"not increasing at entry 2 \(21 after 21\)"):
        EpisodeStore.open(store_path)
