"""Store lifecycle around the writer: create an empty store, lock it, repair a crashed tail.

* `build_empty` writes the layout of `schema.py` with no frames and no episodes.
* `lock` takes the one-writer lock: flock(2) on `.vitac-writer.lock` (non-blocking), released
  by the kernel when the holder closes it or dies, so a SIGKILL never leaves a held lock;
  `unlock` removes the file (a killed writer's file stays until the next writer or repair).
* `repair` brings a store left by a killed writer back to exactly its committed state (the
  rule in `layout.py`): data arrays and their chunk files truncated to `episode_ends[-1]`,
  `.partial` temp files removed, metadata entries past the commit dropped, a torn trailing
  `episode_ends` entry removed (stores of older writers). Every step is idempotent, so a crash
  during repair is repaired by the next open. `repair_store` is `vitac dataset repair`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync

from drivers.spec import FieldSpec
from sensing.errors import DatasetError
from sensing.store import schema as sc
from sensing.store.layout import Layout, ZArray, check_exists, chunk_key, open_layout


def build_empty(root: Path, schema: dict[str, FieldSpec], attrs: Any) -> None:
    """Write an empty store: root attrs, empty data arrays, empty metadata and episode_ends."""
    group = zarr.open_group(store=root, mode="w-", zarr_format=2)
    group.attrs.put(
        {
            "vitac_format": sc.FORMAT,
            "schema": sc.encode_schema(schema),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "attrs": attrs,
        }
    )
    data = group.create_group(sc.DATA)
    specs: dict[str, FieldSpec | None] = {**schema, sc.TIMESTAMP: None}
    for key, spec in specs.items():
        shape = spec.shape if spec is not None else ()
        data.create_array(
            key,
            shape=(0, *shape),
            chunks=sc.chunk_shape(spec) if spec is not None else (sc.LOWDIM_CHUNK,),
            dtype=spec.np_dtype if spec is not None else np.float64,
            filters=sc.filters(),
            compressors=sc.compressor(spec),
            fill_value=0,
        )
    meta = group.create_group(sc.META)
    meta.attrs.put({sc.EPISODES_ATTR: []})
    meta.create_array(
        sc.EPISODE_ENDS,
        shape=(0,),
        chunks=(sc.ENDS_CHUNK,),
        dtype=np.int64,
        filters=sc.filters(),
        compressors=sc.compressor(None),
        fill_value=sc.ENDS_FILL,
    )


def lock(root: Path) -> int:
    """Take the store's writer lock (non-blocking) and note our pid in it."""
    check_exists(root)
    path = root / sc.LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DatasetError(
                f"{root}: another EpisodeWriter (pid {holder}) is appending to this store; "
                "close it first (only one writer per store)"
            ) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed the file between our open and flock: take the new one
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def unlock(root: Path, fd: int) -> None:
    """Release the writer lock and remove its file (a finished store carries no lock file)."""
    try:
        with contextlib.suppress(FileNotFoundError):
            if _same_file(fd, root / sc.LOCK_FILE):
                (root / sc.LOCK_FILE).unlink()
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def repair(layout: Layout, *, apply: bool = True) -> list[str]:
    """Bring a store left by a crashed writer back to exactly its committed state.

    Returns what was repaired, one phrase per kind; with `apply=False` nothing is changed and
    the list says what a repair would do (`vitac dataset verify`).
    """
    n = layout.n_frames
    found = []
    longer = sorted(k for k, a in layout.arrays.items() if a.shape[0] > n)
    if longer:
        found.append(f"data arrays {longer} longer than the {n} committed frames")
    dead = {k: dead_chunks(layout.root, k, a, n, written=None) for k, a in layout.arrays.items()}
    if n_dead := sum(map(len, dead.values())):
        found.append(f"{n_dead} chunk file(s) of uncommitted frames past the end")
    partials = [p for f in (sc.DATA, sc.META) for p in (layout.root / f).rglob("*.partial")]
    if partials:  # temp files of writes cut short by a kill
        found.append(f"{len(partials)} partly written temporary file(s)")
    if layout.n_meta_written > len(layout.episodes):
        found.append(f"{layout.n_meta_written - len(layout.episodes)} uncommitted metadata entry")
    if layout.torn_tail:
        found.append("a torn last entry of meta/episode_ends")
    if apply:
        truncate(layout.root, layout.arrays, n, written=None)
        for partial in partials:
            partial.unlink(missing_ok=True)
        if layout.n_meta_written > len(layout.episodes):
            layout.meta.attrs.put({sc.EPISODES_ATTR: layout.episodes})
        if layout.torn_tail:
            layout.ends_array.resize((len(layout.ends),))
    return found


def truncate(
    root: Path, arrays: Mapping[str, ZArray], n_frames: int, *, written: int | None
) -> None:
    """Shrink every data array to `n_frames`, deleting its chunk files past the end.

    The partly covered boundary chunk stays: its stale tail is invisible and is overwritten
    before it can be committed.
    """
    for key, arr in arrays.items():
        for name in dead_chunks(root, key, arr, n_frames, written=written):
            with contextlib.suppress(FileNotFoundError):
                (root / sc.DATA / key / name).unlink()
        if arr.shape[0] != n_frames:
            sync(arr.async_array.resize((n_frames, *arr.shape[1:]), delete_outside_chunks=False))


def dead_chunks(
    root: Path, key: str, arr: ZArray, n_frames: int, *, written: int | None
) -> list[str]:
    """Chunk files of `data/key` wholly past frame `n_frames`.

    `written` is how far a writer wrote (the files up to there are named without listing);
    with None the folder is listed, so files a killed writer left anywhere are found (repair).
    """
    step = arr.chunks[0]
    first_dead = (n_frames + step - 1) // step
    if written is None:
        folder = root / sc.DATA / key
        return [e.name for e in os.scandir(folder) if _time_chunk(e.name) >= first_dead]
    stop = (max(written, arr.shape[0]) + step - 1) // step
    return [chunk_key(arr, i) for i in range(first_dead, stop)]


def stale_lock(root: Path) -> bool:
    """A lock file no writer holds (left by a killed writer, or by vitac before it removed it)."""
    path = root / sc.LOCK_FILE
    if not path.is_file():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def pending_repairs(root: Path) -> list[str]:
    """What `repair_store` would repair (nothing is changed); empty while a writer holds it."""
    if (root / sc.LOCK_FILE).is_file() and not stale_lock(root):
        return []  # a writer is appending: what lies past the end is its episode in progress
    stale = ["a stale writer lock file"] if stale_lock(root) else []
    return [*repair(open_layout(root), apply=False), *stale]


def repair_store(root: Path) -> list[str]:
    """Repair the store at `root` under the writer lock; returns what was repaired."""
    open_layout(root)  # refuse foreign/damaged stores before touching anything
    stale = (root / sc.LOCK_FILE).is_file()
    fd = lock(root)
    try:
        found = repair(open_layout(root, writable=True))
    finally:
        unlock(root, fd)
    return [*found, *(["a stale writer lock file"] if stale else [])]


def _time_chunk(name: str) -> int:
    """Time-chunk index of a chunk file name like `12.0.0.0`; -1 for anything else."""
    head, _, rest = name.partition(".")
    if not head.isdigit() or (rest and set(rest.split(".")) != {"0"}):
        return -1
    return int(head)
