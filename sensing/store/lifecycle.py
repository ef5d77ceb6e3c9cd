"""Store lifecycle around the writer: create an empty store, lock it, repair a crashed tail.

* `build_empty` writes the layout of `schema.py` with no frames and no episodes.
* `lock` takes the one-writer lock: flock(2) on `.vitac-writer.lock` (non-blocking), released
  by the kernel when the holder closes it or dies, so a SIGKILL never leaves a stale lock.
* `repair` brings a store left by a killed writer back to exactly its committed state (the
  rule in `layout.py`): data arrays and their chunk files truncated to `episode_ends[-1]`,
  `.partial` temp files removed, metadata entries past the commit dropped, a torn trailing
  `episode_ends` entry removed. Every step is idempotent, so a crash during repair is repaired
  by the next open.
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
from sensing.store.layout import Layout, ZArray, check_exists, chunk_key


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
    fd = os.open(root / sc.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DatasetError(
            f"{root}: another EpisodeWriter (pid {holder}) is appending to this store; "
            "close it first (only one writer per store)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def repair(layout: Layout) -> None:
    """Bring a store left by a crashed writer back to exactly its committed state."""
    n = layout.n_frames
    truncate(layout.root, layout.arrays, n, scan=True)
    for folder in (layout.root / sc.DATA, layout.root / sc.META):
        for partial in folder.rglob("*.partial"):  # temp files of writes cut short by a kill
            partial.unlink(missing_ok=True)
    if layout.n_meta_written > len(layout.episodes):
        layout.meta.attrs.put({sc.EPISODES_ATTR: layout.episodes})
    if layout.torn_tail:
        layout.ends_array.resize((len(layout.ends),))


def truncate(root: Path, arrays: Mapping[str, ZArray], n_frames: int, *, scan: bool) -> None:
    """Shrink every data array to `n_frames`, deleting its chunk files past the end.

    With `scan`, the folder is listed rather than trusting the shape, so chunks a killed writer
    left anywhere past the end are removed too (used by repair). The partly covered boundary
    chunk stays: its stale tail is invisible and is overwritten before it can be committed.
    """
    for key, arr in arrays.items():
        step = arr.chunks[0]
        first_dead = (n_frames + step - 1) // step
        folder = root / sc.DATA / key
        if scan:
            names = [e.name for e in os.scandir(folder) if _time_chunk(e.name) >= first_dead]
        else:
            stop = (arr.shape[0] + step - 1) // step
            names = [chunk_key(arr, i) for i in range(first_dead, stop)]
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        if arr.shape[0] != n_frames:
            sync(arr.async_array.resize((n_frames, *arr.shape[1:]), delete_outside_chunks=False))


def _time_chunk(name: str) -> int:
    """Time-chunk index of a chunk file name like `12.0.0.0`; -1 for anything else."""
    head, _, rest = name.partition(".")
    if not head.isdigit() or (rest and set(rest.split(".")) != {"0"}):
        return -1
    return int(head)
