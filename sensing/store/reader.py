"""Read-only access to the committed episodes of a store.

`EpisodeStore.open` checks the store (layout.py) and then only ever reads committed frames:
`load()` pulls whole arrays into memory (what training uses), `arrays()` gives lazy per-key
views for reading windows straight from disk (`WindowSampler.sample_batch` accepts both).
Frames are decoded by `ChunkReader` (chunks.py); decode failures (bad CRC, bad compression)
surface as DatasetError naming the key and chunk file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from zarr.core.metadata import ArrayV2Metadata

from drivers.spec import FieldSpec
from sensing.errors import DatasetError
from sensing.store import schema as sc
from sensing.store.chunks import ChunkReader
from sensing.store.layout import Layout, check_chunk_files, episodes_of_frames, open_layout


class StoredFrames:
    """Lazy on-disk view of one data array, limited to the committed frames: `(n_frames, *shape)`.

    Indexing takes an int, a slice (step 1) or a 1-D integer array of frame indices and returns
    a numpy array; it is what `WindowSampler` reads windows through when data stays on disk.
    """

    def __init__(self, reader: ChunkReader, n_frames: int, frame: tuple[int, ...], dtype: Any):
        self._reader = reader
        self._n = n_frames
        self._frame = frame
        self.dtype = np.dtype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._n, *self._frame)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int | slice | np.ndarray) -> np.ndarray:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._n)
            if step != 1:
                raise IndexError("StoredFrames slices must have step 1")
            return self._reader.read(start, stop)
        if isinstance(index, int | np.integer):
            i = int(index) + (self._n if index < 0 else 0)
            if not 0 <= i < self._n:
                raise IndexError(f"frame {index} out of range for {self._n} frames")
            return np.asarray(self._reader.read(i, i + 1)[0])
        idx = np.asarray(index)
        if idx.ndim != 1 or (len(idx) and not np.issubdtype(idx.dtype, np.integer)):
            raise IndexError(f"index frames with an int, a slice or a 1-D int array, got {index!r}")
        if len(idx) and (idx.min() < 0 or idx.max() >= self._n):
            raise IndexError(
                f"frame indices must lie in [0, {self._n}), got {idx.min()}..{idx.max()}"
            )
        return self._reader.take(idx.astype(np.int64))


class EpisodeStore:
    """The committed episodes of a store, read-only."""

    def __init__(self, layout: Layout) -> None:
        """Use `EpisodeStore.open`."""
        self._layout = layout
        self._where = str(layout.root)
        self._readers = {key: _chunk_reader(layout, key) for key in layout.arrays}

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify: bool = False) -> EpisodeStore:
        """Open and check a store; `verify=True` also decodes every committed chunk."""
        layout = open_layout(path)
        check_chunk_files(layout)
        store = cls(layout)
        if verify:
            store.verify()
        return store

    # ---------------------------------------------------------------- description

    @property
    def path(self) -> Path:
        return self._layout.root

    @property
    def schema(self) -> dict[str, FieldSpec]:
        return dict(self._layout.schema)

    @property
    def keys(self) -> tuple[str, ...]:
        """Stream keys from the schema; `"timestamp"` is also readable but not listed here."""
        return tuple(self._layout.schema)

    @property
    def n_episodes(self) -> int:
        return len(self._layout.ends)

    @property
    def n_frames(self) -> int:
        return self._layout.n_frames

    @property
    def episode_ends(self) -> np.ndarray:
        """(n_episodes,) int64 cumulative end indices of the committed episodes."""
        return self._layout.ends.copy()

    @property
    def attrs(self) -> dict[str, Any]:
        """The free dict the creator passed to `EpisodeWriter.create`."""
        attrs = self._layout.root_attrs.get("attrs", {})
        return dict(attrs) if isinstance(attrs, dict) else {}

    @property
    def created_at(self) -> str:
        return str(self._layout.root_attrs.get("created_at", ""))

    def __len__(self) -> int:
        return self.n_episodes

    def __repr__(self) -> str:
        return f"EpisodeStore({self._where!r}, {self.n_episodes} episodes, {self.n_frames} frames)"

    # ---------------------------------------------------------------- reading

    def episode_slice(self, i: int) -> slice:
        """Frames of episode `i` (negative counts from the end) in the concatenated arrays."""
        j = self._index(i)
        start = int(self._layout.ends[j - 1]) if j else 0
        return slice(start, int(self._layout.ends[j]))

    def episode(self, i: int, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Every frame of episode `i` for `keys` (default: all streams and timestamp)."""
        span = self.episode_slice(i)
        return {key: self._read(key, span) for key in self._resolve(keys)}

    def episode_meta(self, i: int) -> dict[str, Any]:
        """Metadata of episode `i`: task, success, seed, rig, notes, length, extras."""
        return dict(self._layout.episodes[self._index(i)])

    def arrays(self, keys: Sequence[str] | None = None) -> dict[str, StoredFrames]:
        """Lazy on-disk views of the committed frames, for windowed reads without `load()`."""
        out = {}
        for key in self._resolve(keys):
            arr = self._layout.arrays[key]
            out[key] = StoredFrames(self._readers[key], self.n_frames, arr.shape[1:], arr.dtype)
        return out

    def load(self, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """All committed frames of `keys` in memory: `{key: (n_frames, *shape)}`."""
        span = slice(0, self.n_frames)
        return {key: self._read(key, span) for key in self._resolve(keys)}

    def verify(self) -> int:
        """Decode every committed chunk (CRC32 checked); returns how many.

        DatasetError lists the damaged episodes per key.
        """
        damaged: dict[str, list[int]] = {}
        chunks = 0
        for key in (*self.keys, sc.TIMESTAMP):
            arr = self._layout.arrays[key]
            step = arr.chunks[0]
            bad = []
            for start in range(0, self.n_frames, step):
                chunks += 1
                try:
                    self._read(key, slice(start, min(start + step, self.n_frames)))
                except DatasetError:
                    bad.append(start)
            if bad:
                damaged[key] = episodes_of_frames(self._layout.ends, bad, step)
        if damaged:
            listing = "; ".join(f"{key}: episodes {ids[:10]}" for key, ids in damaged.items())
            raise DatasetError(
                f"{self._where}: damaged chunks ({listing}); restore the store from a copy "
                "or re-record those episodes"
            )
        return chunks

    def summary(self) -> str:
        """Human-readable description (what `vitac dataset info` prints)."""
        meta = self._layout.episodes
        n = self.n_episodes
        successes = sum(1 for m in meta if m.get("success") is True)
        rate = f"{successes}/{n} = {successes / n:.1%}" if n else "n/a"
        lengths = np.diff(self._layout.ends, prepend=0)
        length = f"{lengths.min()}..{lengths.max()} (mean {lengths.mean():.1f})" if n else "n/a"
        lines = [
            f"episode store {self._where}",
            f"  format {self._layout.root_attrs.get('vitac_format')}, created {self.created_at}",
            f"  episodes: {n}   frames: {self.n_frames}   episode length: {length}",
            f"  success: {rate}",
            f"  tasks: {_counts(m.get('task', '') for m in meta)}",
            f"  rigs: {_counts(m.get('rig', '') for m in meta)}",
            f"  attrs: {self.attrs}",
            f"  size on disk: {_human_bytes(_disk_usage(self.path))}",
            "  streams:",
        ]
        rows = [("key", "shape", "dtype", "units", "sensor", "chunking")]
        for key, spec in self._layout.schema.items():
            chunking = "1 frame/chunk" if spec.is_image else f"{sc.LOWDIM_CHUNK} frames/chunk"
            rows.append(
                (key, str(spec.shape), spec.dtype, spec.units or "-", spec.sensor or "-", chunking)
            )
        rows.append((sc.TIMESTAMP, "()", "float64", "s", "-", f"{sc.LOWDIM_CHUNK} frames/chunk"))
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        lines += [
            "    " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        return "\n".join(lines)

    # ---------------------------------------------------------------- internals

    def _index(self, i: int) -> int:
        n = self.n_episodes
        j = int(i) + (n if i < 0 else 0)
        if not 0 <= j < n:
            raise IndexError(f"episode {i} out of range; {self._where} has {n} episodes")
        return j

    def _resolve(self, keys: Sequence[str] | None) -> list[str]:
        if keys is None:
            return [*self.keys, sc.TIMESTAMP]
        if isinstance(keys, str):
            raise TypeError(f"keys must be a sequence of keys, not the string {keys!r}")
        unknown = [k for k in keys if k not in self._layout.arrays]
        if unknown:
            raise DatasetError(
                f"{self._where}: unknown key(s) {unknown}; the store has "
                f"{[*self.keys, sc.TIMESTAMP]}"
            )
        return list(keys)

    def _read(self, key: str, span: slice) -> np.ndarray:
        return self._readers[key].read(span.start, span.stop)


def _chunk_reader(layout: Layout, key: str) -> ChunkReader:
    metadata = layout.arrays[key].metadata
    assert isinstance(metadata, ArrayV2Metadata)  # open_layout accepts zarr v2 arrays only
    return ChunkReader(layout.root / sc.DATA / key, metadata, key, str(layout.root))


def _counts(values: Iterable[object]) -> str:
    counts: dict[str, int] = {}
    for value in values:
        name = str(value) or "-"
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name} ({c})" for name, c in sorted(counts.items())) or "-"


def _disk_usage(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # a writer may be replacing files
            total += path.stat().st_size if path.is_file() else 0
    return total


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{n} B"
        size /= 1024
    return f"{n} B"
