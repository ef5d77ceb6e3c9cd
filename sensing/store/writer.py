"""Append-only, crash-safe writer of the episode store.

Frames are buffered in memory and flushed `flush_every` at a time (and at commit); a flush
writes the block into every data array at once (one round trip to zarr's event loop) through
a view whose larger shape is never written to disk, so the arrays' shapes on disk stay at the
committed length while an episode is recorded: every reader, foreign ones included (e.g.
diffusion_policy's ReplayBuffer, which requires data length == episode_ends[-1]), sees a
consistent store whenever no commit is in flight, and after a crash anywhere but inside one.
`commit` sets the shapes to the new length, writes the episode's metadata and, last,
`meta/episode_ends` (its value through the same kind of view, then its shape: the commit point;
see `layout.py`). A SIGKILL at any moment loses at most the episode in progress;
`EpisodeWriter.open` (and `vitac dataset repair`) removes what it left (chunk files past the
end, metadata written but not committed) before appending. One writer per store at a time: a
flock(2) on `.vitac-writer.lock`, released by the OS when the process dies; `close` removes the
file. Readers may open the store while a writer appends; they see the episodes committed when
they opened it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import numpy as np
import zarr
from zarr.core.array import AsyncArray
from zarr.core.buffer import default_buffer_prototype
from zarr.core.common import ZARRAY_JSON
from zarr.core.sync import sync

from drivers.spec import FieldSpec
from sensing.errors import DatasetError
from sensing.store import lifecycle
from sensing.store import schema as sc
from sensing.store.layout import Layout, ZArray, open_layout
from sensing.store.reader import EpisodeStore

T = TypeVar("T")


class EpisodeWriter:
    """Records episodes frame by frame; an episode exists once `commit` returns."""

    def __init__(self, layout: Layout, lock_fd: int, flush_every: int) -> None:
        """Use `EpisodeWriter.create` or `EpisodeWriter.open`."""
        self._root = layout.root
        self._group = layout.group
        self._root_attrs = layout.root_attrs
        self._schema = layout.schema
        self._arrays = layout.arrays
        self._meta = layout.meta
        self._ends_array = layout.ends_array
        self._ends = [int(e) for e in layout.ends]
        self._episodes = layout.episodes
        self._lock_fd: int | None = lock_fd
        self._flush_every = flush_every
        self._buffers = {
            key: np.empty((flush_every, *spec.shape), spec.np_dtype)
            for key, spec in self._schema.items()
        }
        self._buffers[sc.TIMESTAMP] = np.empty(flush_every, np.float64)
        self._n_buffered = 0  # frames in the buffers
        self._n_flushed = 0  # frames of the episode in progress already in the arrays
        self._t_first: float | None = None
        self._t_last: float | None = None

    # ---------------------------------------------------------------- construction

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        schema: Mapping[str, FieldSpec],
        attrs: dict[str, Any] | None = None,
        *,
        flush_every: int = 32,
    ) -> EpisodeWriter:
        """Create a new, empty store at `path` (built aside, then renamed into place)."""
        root = Path(path)
        if root.exists() or root.is_symlink():
            raise DatasetError(
                f"{root} already exists; refusing to overwrite it. Choose a new path, or "
                "append to a store (vitac collect --resume; EpisodeWriter.open)"
            )
        checked = sc.check_schema(schema)
        user_attrs = sc.check_json(dict(attrs or {}), "store attrs")
        _check_flush_every(flush_every)
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = root.parent / f".{root.name}.creating-{uuid.uuid4().hex[:8]}"
        try:
            lifecycle.build_empty(staging, checked, user_attrs)
            lock_fd = lifecycle.lock(staging)
            if root.exists():
                raise DatasetError(f"{root} appeared while it was being created; not replacing it")
            staging.rename(root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            return cls(open_layout(root, writable=True), lock_fd, flush_every)
        except BaseException:
            os.close(lock_fd)
            raise

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, flush_every: int = 32) -> EpisodeWriter:
        """Append to an existing store, first repairing a tail left by a crashed writer."""
        root = Path(path)
        _check_flush_every(flush_every)
        open_layout(root)  # refuse foreign/damaged stores before touching anything
        lock_fd = lifecycle.lock(root)
        try:
            layout = open_layout(root, writable=True)
            lifecycle.repair(layout)
            return cls(layout, lock_fd, flush_every)
        except BaseException:
            os.close(lock_fd)
            raise

    # ---------------------------------------------------------------- properties

    @property
    def path(self) -> Path:
        return self._root

    @property
    def schema(self) -> dict[str, FieldSpec]:
        return dict(self._schema)

    @property
    def n_episodes(self) -> int:
        """Committed episodes."""
        return len(self._ends)

    @property
    def n_frames(self) -> int:
        """Committed frames."""
        return self._ends[-1] if self._ends else 0

    def episode_seeds(self) -> list[int]:
        """Seeds of the committed episodes that recorded one."""
        return [e["seed"] for e in self._episodes if isinstance(e.get("seed"), int)]

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        """Replace the free attrs given at creation (one atomic write of the root attrs)."""
        self._check_open()
        checked = sc.check_json(dict(attrs), "store attrs")
        root_attrs = {**self._root_attrs, "attrs": checked}
        self._guard(lambda: self._group.attrs.put(root_attrs))
        self._root_attrs = root_attrs

    @property
    def n_steps(self) -> int:
        """Frames added to the episode in progress."""
        return self._n_flushed + self._n_buffered

    # ---------------------------------------------------------------- recording

    def add(self, frame: Mapping[str, np.ndarray], timestamp: float) -> None:
        """Append one frame to the episode in progress; nothing is added if any key is wrong."""
        self._check_open()
        missing = [k for k in self._schema if k not in frame]
        unexpected = [k for k in frame if k not in self._schema]
        if missing or unexpected:
            raise DatasetError(
                f"frame keys do not match the schema of {self._root}: missing {missing}, "
                f"unexpected {unexpected}; nothing was added"
            )
        values: dict[str, np.ndarray] = {}
        for key, spec in self._schema.items():
            value = np.asarray(frame[key])
            if value.shape != spec.shape or value.dtype != spec.np_dtype:
                raise DatasetError(
                    f"{key}: expected shape {spec.shape} dtype {spec.dtype}, got shape "
                    f"{value.shape} dtype {value.dtype} (step {self.n_steps} of the episode in "
                    "progress); nothing was added"
                )
            values[key] = value
        t = sc.check_timestamp(timestamp, self._t_last)
        row = self._n_buffered
        for key, value in values.items():
            self._buffers[key][row] = value
        self._buffers[sc.TIMESTAMP][row] = t
        self._n_buffered += 1
        self._t_first = t if self._t_first is None else self._t_first
        self._t_last = t
        if self._n_buffered == self._flush_every:
            self._flush()

    def commit(
        self,
        *,
        success: bool,
        seed: int | None = None,
        task: str = "",
        rig: str = "",
        notes: str = "",
        **extra: Any,
    ) -> int:
        """Make the episode in progress durable and visible; returns its index."""
        self._check_open()
        if self.n_steps == 0:
            raise DatasetError("commit: the episode in progress has no frames; add frames first")
        clash = sorted(set(extra) & set(sc.DERIVED_FIELDS))
        if clash:
            raise DatasetError(f"commit: metadata names {clash} are reserved; rename them")
        if not isinstance(success, bool | np.bool_):
            raise DatasetError(f"commit: success must be a bool, got {success!r}")
        if seed is not None and not isinstance(seed, int | np.integer):
            raise DatasetError(f"commit: seed must be an int or None, got {seed!r}")
        index = len(self._ends)
        end = self.n_frames + self.n_steps
        entry = sc.check_json(
            {
                "task": str(task),
                "success": bool(success),
                "seed": None if seed is None else int(seed),
                "rig": str(rig),
                "notes": str(notes),
                **extra,
                "index": index,
                "length": self.n_steps,
                "t_start": self._t_first,
                "t_end": self._t_last,
                "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            "episode metadata",
        )
        self._flush()  # 1. data chunks ...
        self._arrays = self._guard(lambda: sync(_set_frames(self._arrays, end)))  # ... shapes
        episodes = [*self._episodes, entry]
        self._guard(lambda: self._meta.attrs.put({sc.EPISODES_ATTR: episodes}))  # 2. metadata
        ends = _beyond(self._ends_array, index + 1)  # 3. value, not yet visible ...
        self._guard(lambda: sync(ends.setitem(index, end)))
        grown = self._guard(lambda: sync(_set_frames({"": self._ends_array}, index + 1)))
        self._ends_array = grown[""]  # ... commit: its shape (one file, `.zarray`)
        self._episodes = episodes
        self._ends.append(end)
        self._reset_episode()
        return index

    def copy_episode(self, store: EpisodeStore, i: int, **extra: Any) -> int:
        """Append episode `i` of `store` (same schema) with its frames, timestamps and
        metadata, plus `extra` metadata; returns its index here."""
        if store.schema != self._schema:
            raise DatasetError(f"{store.path} has another schema than {self._root}; cannot copy")
        frames = store.episode(i)
        meta = {k: v for k, v in store.episode_meta(i).items() if k not in sc.DERIVED_FIELDS}
        for t, timestamp in enumerate(frames[sc.TIMESTAMP]):
            self.add({k: frames[k][t] for k in self._schema}, timestamp=float(timestamp))
        return self.commit(**{**meta, **extra})

    def discard(self) -> None:
        """Drop the episode in progress (its flushed frames are truncated away)."""
        self._check_open()
        written = self.n_frames + self._n_flushed
        self._reset_episode()
        if written > self.n_frames:
            self._guard(
                lambda: lifecycle.truncate(self._root, self._arrays, self.n_frames, written=written)
            )

    def close(self) -> None:
        """Discard any episode in progress (never commit implicitly) and release the store."""
        if self._lock_fd is None:
            return
        try:
            self.discard()
        finally:
            lifecycle.unlock(self._root, self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._lock_fd is None else f"{self.n_steps} steps in progress"
        return f"EpisodeWriter({str(self._root)!r}, {self.n_episodes} episodes, {state})"

    # ---------------------------------------------------------------- internals

    def _flush(self) -> None:
        """Write the buffered block into every array, past their on-disk shapes.

        One round trip to zarr's event loop per flush: the arrays are written concurrently.
        """
        n = self._n_buffered
        if n == 0:
            return
        start = self.n_frames + self._n_flushed
        blocks = {key: buffer[:n] for key, buffer in self._buffers.items()}
        self._guard(lambda: sync(_write_block(self._arrays, start, blocks)))
        self._n_flushed += n
        self._n_buffered = 0

    def _reset_episode(self) -> None:
        self._n_buffered = 0
        self._n_flushed = 0
        self._t_first = None
        self._t_last = None

    def _check_open(self) -> None:
        if self._lock_fd is None:
            raise DatasetError(f"the EpisodeWriter for {self._root} is closed")

    def _guard(self, action: Callable[[], T]) -> T:
        """Run a store write; a failure (disk full, permissions) becomes a DatasetError.

        Nothing in memory changes when a write fails, so the caller may retry or discard.
        """
        try:
            return action()
        except DatasetError:
            raise
        except Exception as err:
            raise DatasetError(
                f"{self._root}: writing failed ({type(err).__name__}: {err}); committed "
                "episodes are safe; free space or fix permissions, then retry or discard"
            ) from err


async def _write_block(
    arrays: Mapping[str, ZArray], start: int, blocks: Mapping[str, np.ndarray]
) -> None:
    """Write `blocks` at frame `start` of every array, without changing their shapes on disk."""
    stop = start + len(next(iter(blocks.values())))
    await asyncio.gather(
        *(_beyond(a, stop).setitem(slice(start, stop), blocks[k]) for k, a in arrays.items())
    )


def _beyond(arr: ZArray, n_frames: int) -> AsyncArray[Any]:
    """`arr` seen with room for `n_frames` frames; the larger shape lives only in memory.

    Writing through it stores chunk files past the end that no reader sees until a commit
    sets the shape (`resize` writes only `.zarray`).
    """
    shape = (max(n_frames, arr.shape[0]), *arr.shape[1:])
    a = arr.async_array
    return AsyncArray(a.metadata.update_shape(shape), a.store_path, a.config)


async def _set_frames(arrays: Mapping[str, ZArray], n_frames: int) -> dict[str, ZArray]:
    """Set each array's length to `n_frames` by rewriting its `.zarray` alone (one atomic file
    write per array; `resize` would also rewrite `.zattrs`). Returns the arrays at the new shape.
    """

    async def one(arr: ZArray) -> ZArray:
        if arr.shape[0] == n_frames:
            return arr
        a = arr.async_array
        metadata = a.metadata.update_shape((n_frames, *arr.shape[1:]))
        buffers = metadata.to_buffer_dict(default_buffer_prototype())
        await (a.store_path / ZARRAY_JSON).set(buffers[ZARRAY_JSON])
        return zarr.Array(AsyncArray(metadata, a.store_path, a.config))

    done = await asyncio.gather(*(one(a) for a in arrays.values()))
    return dict(zip(arrays, done, strict=True))


def _check_flush_every(flush_every: int) -> None:
    if not isinstance(flush_every, int) or flush_every < 1:
        raise DatasetError(f"flush_every must be a positive int, got {flush_every!r}")
