"""EpisodeWriter -> EpisodeStore round trips: contents, metadata, append, validation, layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.spec import FieldSpec
from sensing.errors import DatasetError
from sensing.store import EpisodeStore, EpisodeWriter
from tests.sensing.store_helpers import (
    SCHEMA,
    array_lengths,
    check_episode,
    frame,
    length_of,
    timestamp,
    write_episode,
)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "demo.zarr"
    lengths = [5, 40, 33]
    with EpisodeWriter.create(path, SCHEMA, {"task": "insert", "rig": "sim"}) as w:
        for ep, n in enumerate(lengths):
            assert write_episode(w, ep, n, rig="sim", notes=f"ep{ep}", operator="ann") == ep
    store = EpisodeStore.open(path, verify=True)
    assert store.n_episodes == len(store) == 3
    assert store.n_frames == sum(lengths)
    assert store.episode_ends.tolist() == [5, 45, 78]
    assert store.episode_ends.dtype == np.int64
    assert store.schema == SCHEMA
    assert store.keys == tuple(SCHEMA)
    assert store.attrs == {"task": "insert", "rig": "sim"}
    assert store.episode_slice(1) == slice(5, 45)
    assert store.episode_slice(-1) == slice(45, 78)
    for ep, n in enumerate(lengths):
        check_episode(store, ep, ep, n)
    meta = store.episode_meta(1)
    assert meta["success"] is False and meta["rig"] == "sim" and meta["notes"] == "ep1"
    assert meta["operator"] == "ann" and meta["task"] == "insert" and meta["index"] == 1
    assert meta["t_start"] == timestamp(1, 0) and meta["t_end"] == timestamp(1, 39)
    loaded = store.load()
    assert set(loaded) == {*SCHEMA, "timestamp"}
    for key in SCHEMA:
        expected = np.concatenate([store.episode(i, [key])[key] for i in range(3)])
        np.testing.assert_array_equal(loaded[key], expected)
    assert store.load(["action"])["action"].shape == (78, 7)
    with pytest.raises(IndexError):
        store.episode_slice(3)
    with pytest.raises(DatasetError, match="unknown key"):
        store.load(["rgb.wrist"])
    text = store.summary()
    for needle in (str(path), "episodes: 3", "frames: 78", "2/3", "rgb.scene", "(24, 24, 3)", "m"):
        assert needle in text


def test_append_via_open_keeps_and_extends(tmp_path: Path) -> None:
    path = tmp_path / "demo.zarr"
    with EpisodeWriter.create(path, SCHEMA) as w:
        write_episode(w, 0, 12)
        write_episode(w, 1, 7)
    with EpisodeWriter.open(path) as w:
        assert (w.n_episodes, w.n_frames) == (2, 19)
        assert write_episode(w, 2, 9) == 2
    store = EpisodeStore.open(path)
    assert store.episode_ends.tolist() == [12, 19, 28]
    for ep, n in enumerate([12, 7, 9]):
        check_episode(store, ep, ep, n)


def test_copy_episode_keeps_frames_timestamps_and_metadata(tmp_path: Path) -> None:
    sources = [tmp_path / "a.zarr", tmp_path / "b.zarr"]
    for k, path in enumerate(sources):
        with EpisodeWriter.create(path, SCHEMA) as w:
            for ep in range(2):
                write_episode(w, 10 * k + ep, length_of(ep), notes=f"src{k}", part=f"p{k}")
    merged = tmp_path / "all.zarr"
    with EpisodeWriter.create(merged, SCHEMA) as w:
        for k, path in enumerate(sources):
            store = EpisodeStore.open(path)
            for i in range(store.n_episodes):
                assert w.copy_episode(store, i, origin=k) == 2 * k + i
    store = EpisodeStore.open(merged)
    for k in range(2):
        for i in range(2):
            check_episode(store, 2 * k + i, 10 * k + i, length_of(i))
            meta = store.episode_meta(2 * k + i)
            assert (meta["notes"], meta["part"], meta["origin"]) == (f"src{k}", f"p{k}", k)
            assert meta["success"] == ((10 * k + i) % 3 != 1) and meta["task"] == "insert"
            assert meta["index"] == 2 * k + i  # derived fields are the copy's own


def test_copy_episode_refuses_another_schema(tmp_path: Path) -> None:
    other = {**SCHEMA, "proprio.extra": FieldSpec(shape=(2,), dtype="float32")}
    with EpisodeWriter.create(tmp_path / "a.zarr", other) as w:
        write_episode(w, 0, 8)
    with EpisodeWriter.create(tmp_path / "b.zarr", SCHEMA) as w:
        with pytest.raises(DatasetError, match="another schema"):
            w.copy_episode(EpisodeStore.open(tmp_path / "a.zarr"), 0)
        assert w.n_episodes == 0 and w.n_steps == 0


def test_layout_is_zarr_v2_with_exact_lengths(tmp_path: Path) -> None:
    path = tmp_path / "demo.zarr"
    with EpisodeWriter.create(path, SCHEMA) as w:
        write_episode(w, 0, 50)
        for step in range(20):  # in progress when the writer closes: discarded, not committed
            w.add(frame(1, step), timestamp(1, step))
    assert json.loads((path / ".zgroup").read_text())["zarr_format"] == 2
    assert array_lengths(path) == dict.fromkeys([*SCHEMA, "timestamp"], 50)
    image = json.loads((path / "data" / "rgb.scene" / ".zarray").read_text())
    assert image["chunks"] == [1, 24, 24, 3] and image["compressor"]["id"] == "blosc"
    lowdim = json.loads((path / "data" / "action" / ".zarray").read_text())
    assert lowdim["chunks"] == [1024, 7]
    ends = json.loads((path / "meta" / "episode_ends" / ".zarray").read_text())
    assert ends["dtype"] == "<i8" and ends["shape"] == [1]
    root = json.loads((path / ".zattrs").read_text())
    assert root["vitac_format"] == "vitac.episodes/1"
    assert FieldSpec.model_validate(root["schema"]["rgb.scene"]) == SCHEMA["rgb.scene"]


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("rgb.scene", np.zeros((24, 24), np.uint8), r"rgb\.scene: expected shape \(24, 24, 3\)"),
        (
            "action",
            np.zeros(7, np.float64),
            "action: expected shape .* dtype float32, got .*float64",
        ),
        ("proprio.ee_pos", [0.0, 0.0, 0.0], "proprio.ee_pos: .*got shape .*float64"),
    ],
)
def test_schema_violation_names_the_key(
    tmp_path: Path, key: str, value: object, needle: str
) -> None:
    with EpisodeWriter.create(tmp_path / "s.zarr", SCHEMA) as w:
        w.add(frame(0, 0), timestamp(0, 0))
        bad = {**frame(0, 1), key: value}
        with pytest.raises(DatasetError, match=needle):
            w.add(bad, timestamp(0, 1))  # type: ignore[arg-type]
        assert w.n_steps == 1  # nothing partially added
        w.add(frame(0, 1), timestamp(0, 1))
        w.commit(success=True, seed=0)
    check_episode(EpisodeStore.open(tmp_path / "s.zarr"), 0, 0, 2)


def test_missing_and_unexpected_keys_are_named(tmp_path: Path) -> None:
    with EpisodeWriter.create(tmp_path / "s.zarr", SCHEMA) as w:
        partial = {k: v for k, v in frame(0, 0).items() if k != "action"}
        with pytest.raises(DatasetError, match=r"missing \['action'\]"):
            w.add(partial, 0.0)
        with pytest.raises(DatasetError, match=r"unexpected \['extra'\]"):
            w.add({**frame(0, 0), "extra": np.zeros(1)}, 0.0)
        w.add(frame(0, 0), 1.0)
        with pytest.raises(DatasetError, match="went backwards"):
            w.add(frame(0, 1), 0.5)
        with pytest.raises(DatasetError, match="finite"):
            w.add(frame(0, 1), float("nan"))
        assert w.n_steps == 1


def test_overwrite_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    with EpisodeWriter.create(path, SCHEMA) as w:
        write_episode(w, 0, 3)
    with pytest.raises(DatasetError, match="already exists; refusing to overwrite"):
        EpisodeWriter.create(path, SCHEMA)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="already exists"):
        EpisodeWriter.create(tmp_path / "file", SCHEMA)
    assert EpisodeStore.open(path).n_episodes == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_bad_schema_and_attrs_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="reserved"):
        EpisodeWriter.create(tmp_path / "a", {"timestamp": SCHEMA["action"]})
    with pytest.raises(DatasetError, match="invalid stream key"):
        EpisodeWriter.create(tmp_path / "b", {"rgb/scene": SCHEMA["action"]})
    with pytest.raises(DatasetError, match="non-empty"):
        EpisodeWriter.create(tmp_path / "c", {})
    with pytest.raises(DatasetError, match="JSON"):
        EpisodeWriter.create(tmp_path / "d", SCHEMA, {"when": object()})
    assert not list(tmp_path.iterdir())


def test_discard_commit_rules_and_close(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    w = EpisodeWriter.create(path, SCHEMA, flush_every=4)
    with pytest.raises(DatasetError, match="no frames"):
        w.commit(success=True)
    for step in range(10):
        w.add(frame(7, step), timestamp(7, step))
    w.discard()
    assert w.n_steps == 0 and array_lengths(path)["rgb.scene"] == 0
    write_episode(w, 0, 6)
    with pytest.raises(DatasetError, match="reserved"):
        w.add(frame(1, 0), 0.0)
        w.commit(success=True, length=3)
    with pytest.raises(DatasetError, match="JSON"):
        w.commit(success=True, extra=float("nan"))
    with pytest.raises(DatasetError, match="bool"):
        w.commit(success="yes")  # type: ignore[arg-type]
    w.close()
    w.close()  # idempotent
    with pytest.raises(DatasetError, match="closed"):
        w.add(frame(0, 0), 0.0)
    store = EpisodeStore.open(path)
    assert store.n_episodes == 1
    check_episode(store, 0, 0, 6)


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    with EpisodeWriter.create(path, SCHEMA) as w:
        with pytest.raises(DatasetError, match="another EpisodeWriter"):
            EpisodeWriter.open(path)
        write_episode(w, 0, 3)
        assert EpisodeStore.open(path).n_episodes == 1  # readers may open meanwhile
    lock = path / ".vitac-writer.lock"
    assert not lock.exists()  # a finished store carries no lock file
    with EpisodeWriter.open(path) as w2:
        assert lock.is_file()
        write_episode(w2, 1, 4)
    assert EpisodeStore.open(path).n_episodes == 2
    assert not lock.exists()


def test_a_lock_file_removed_under_a_waiting_writer_is_not_shared(tmp_path: Path) -> None:
    """A writer that opened the lock file just before its holder removed it must not lock the
    removed file (two writers would then append at once): it takes the new file instead."""
    path = tmp_path / "s.zarr"
    EpisodeWriter.create(path, SCHEMA).close()
    lock = path / ".vitac-writer.lock"
    lock.write_text("")
    stale = os.open(lock, os.O_RDWR)  # the waiter's open(); then the holder removes the file
    lock.unlink()
    real_open = os.open
    calls: list[str] = []

    def open_once_stale(file: object, flags: int, mode: int = 0o777) -> int:
        calls.append(str(file))
        return stale if len(calls) == 1 else real_open(file, flags, mode)  # type: ignore[arg-type]

    os.open = open_once_stale  # type: ignore[assignment]
    try:
        writer = EpisodeWriter.open(path)
    finally:
        os.open = real_open
    with writer:
        assert len(calls) == 2  # retried on the file that is really there
        with pytest.raises(DatasetError, match="another EpisodeWriter"):
            EpisodeWriter.open(path)


def test_all_zero_frames_are_stored(tmp_path: Path) -> None:
    zeros = {k: np.zeros(s.shape, s.np_dtype) for k, s in SCHEMA.items()}
    with EpisodeWriter.create(tmp_path / "s.zarr", SCHEMA) as w:
        w.add(zeros, 0.0)
        w.commit(success=True)
    store = EpisodeStore.open(tmp_path / "s.zarr", verify=True)  # every chunk file exists
    assert store.load()["rgb.scene"].sum() == 0


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=5),
    flush_every=st.sampled_from([1, 3, 32]),
)
def test_any_sequence_of_commits_and_discards(
    tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[int, bool]], flush_every: int
) -> None:
    schema = {"a": SCHEMA["action"], "img": FieldSpec(shape=(4, 4, 3), dtype="uint8")}
    path = tmp_path_factory.mktemp("prop") / "s.zarr"
    kept: list[tuple[int, int]] = []
    with EpisodeWriter.create(path, schema, flush_every=flush_every) as w:
        for ep, (n, keep) in enumerate(plan):
            for step in range(n):
                w.add(frame(ep, step, schema), timestamp(ep, step))
            if keep:
                w.commit(success=True, seed=ep)
                kept.append((ep, n))
            else:
                w.discard()
    store = EpisodeStore.open(path)
    assert store.n_episodes == len(kept)
    assert array_lengths(path) == dict.fromkeys(["a", "img", "timestamp"], store.n_frames)
    for i, (ep, n) in enumerate(kept):
        check_episode(store, i, ep, n)


def test_lowdim_chunk_boundaries(tmp_path: Path) -> None:
    schema = {"action": SCHEMA["action"]}
    lengths = [length_of(ep) * 40 for ep in range(4)]  # crosses several 1024-frame chunks
    with EpisodeWriter.create(tmp_path / "s.zarr", schema, flush_every=100) as w:
        for ep, n in enumerate(lengths):
            write_episode(w, ep, n)
    store = EpisodeStore.open(tmp_path / "s.zarr", verify=True)
    for ep, n in enumerate(lengths):
        check_episode(store, ep, ep, n)
