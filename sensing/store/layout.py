"""Open an episode store on disk and check it, for the reader and the writer alike.

The commit rule (one place, used by both sides):

* `meta/episode_ends` is the commit point. The writer writes the episode's data chunks (data
  arrays grown ahead as needed), sets the data shapes to the exact new length, writes the
  per-episode metadata list, then resizes `episode_ends` (.zarray) and finally writes the new
  end value (its chunk). zarr 3.1's LocalStore writes every file as `<file>.<uuid>.partial`
  and renames it over the old one (`_atomic_write` in zarr/storage/_local.py), so a killed
  process leaves each file wholly old or wholly new. (There is no fsync: a power cut may
  still lose recent writes; rename atomicity covers process crashes.)
* A commit torn between the resize and the value write shows as a trailing entry equal to the
  fill value 0 (no episode ends at frame 0): that entry is not committed and is dropped.
  Any other non-increasing entry is damage and raises DatasetError.
* Data arrays may be longer than `episode_ends[-1]` (an episode in progress, or a crash while
  writing one): frames past the last end are not committed and never read.
* Per-episode metadata entries past the committed count are ignored (written, not committed).

`open_layout` applies this rule and reports everything else (missing path, foreign zarr,
unsupported version, schema/array mismatch, short data, missing chunk files) as DatasetError.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.metadata import ArrayV2Metadata
from zarr.storage import LocalStore

from drivers.spec import FieldSpec
from sensing.errors import DatasetError
from sensing.store import schema as sc

ZArray = zarr.Array[Any]


@dataclass
class Layout:
    """A checked store: its arrays, the committed `episode_ends` and committed metadata."""

    root: Path
    group: zarr.Group
    meta: zarr.Group
    schema: dict[str, FieldSpec]
    root_attrs: dict[str, Any]
    arrays: dict[str, ZArray]  # schema keys, then "timestamp"
    ends_array: ZArray
    ends: np.ndarray  # (n_episodes,) int64, committed entries only
    torn_tail: bool  # episode_ends had a torn trailing entry (dropped from `ends`)
    episodes: list[dict[str, Any]]  # committed per-episode metadata
    n_meta_written: int  # entries in meta/.zattrs, >= len(episodes)

    @property
    def n_frames(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0


def check_exists(root: Path) -> None:
    if not root.exists():
        raise DatasetError(f"{root}: no such episode store (the path does not exist)")
    if not root.is_dir():
        raise DatasetError(f"{root}: not an episode store: it is a file, not a zarr directory")


def open_layout(path: str | os.PathLike[str], *, writable: bool = False) -> Layout:
    """Open the store at `path` and check it against the commit rule above."""
    root = Path(path)
    check_exists(root)
    if not (root / ".zgroup").is_file():
        if (root / "zarr.json").is_file():
            raise DatasetError(
                f"{root}: a zarr format 3 store; vitac episode stores are zarr format 2, "
                "so this was not written by vitac's EpisodeWriter"
            )
        found = sorted(p.name for p in root.iterdir())
        what = f"found {found[:8]}" if found else "the directory is empty"
        raise DatasetError(f"{root}: not a zarr store (no .zgroup file; {what})")
    where = str(root)
    try:
        store = LocalStore(root, read_only=not writable)
        group = zarr.open_group(store=store, mode="r+" if writable else "r", zarr_format=2)
        root_attrs = group.attrs.asdict()
    except Exception as err:
        raise DatasetError(f"{where}: cannot open the zarr group: {err}") from err
    if "vitac_format" not in root_attrs:
        raise DatasetError(_foreign_message(root))
    sc.check_format(root_attrs["vitac_format"], where)
    schema = sc.decode_schema(root_attrs.get("schema"), where)

    data = _subgroup(group, sc.DATA, where)
    meta = _subgroup(group, sc.META, where)
    arrays = {
        key: _array(data, key, spec.shape, spec.np_dtype, where) for key, spec in schema.items()
    }
    arrays[sc.TIMESTAMP] = _array(data, sc.TIMESTAMP, (), np.dtype("float64"), where)
    extra = sorted(set(_array_names(root / sc.DATA)) - set(arrays))
    if extra:
        raise DatasetError(
            f"{where}: data/{extra[0]} is not declared in the schema {sorted(schema)}; "
            "the store was modified outside vitac"
        )
    ends_array = _array(meta, sc.EPISODE_ENDS, (), np.dtype("int64"), where)
    if writable:
        # Always write chunks, even all-zero ones: then a missing chunk file means damage.
        arrays = {k: a.with_config({"write_empty_chunks": True}) for k, a in arrays.items()}
        ends_array = ends_array.with_config({"write_empty_chunks": True})

    try:
        raw_ends = np.asarray(ends_array[:], dtype=np.int64)
    except Exception as err:
        raise DatasetError(
            f"{where}: cannot decode meta/episode_ends ({type(err).__name__}: {err}); "
            "the store is damaged; restore it from a copy"
        ) from err
    torn = len(raw_ends) > 0 and int(raw_ends[-1]) == sc.ENDS_FILL
    last_chunk = (len(raw_ends) - 1) // sc.ENDS_CHUNK
    if torn and (len(raw_ends) - 1) % sc.ENDS_CHUNK and not _has_chunk(ends_array, last_chunk):
        # A torn commit leaves the chunk holding the earlier entries in place: this is damage.
        raise DatasetError(
            f"{where}: meta/episode_ends chunk file {chunk_key(ends_array, last_chunk)} is "
            "missing; the store is damaged; restore it from a copy"
        )
    ends = raw_ends[:-1] if torn else raw_ends
    _check_ends(ends, where)
    n_frames = int(ends[-1]) if len(ends) else 0
    for key, arr in arrays.items():
        if arr.shape[0] < n_frames:
            raise DatasetError(
                f"{where}: data/{key} holds {arr.shape[0]} frames but meta/episode_ends commits "
                f"{n_frames}; the store is truncated (copied while incomplete?); re-copy it"
            )
    episodes = meta.attrs.asdict().get(sc.EPISODES_ATTR, [])
    if not isinstance(episodes, list) or len(episodes) < len(ends):
        got = len(episodes) if isinstance(episodes, list) else "no"
        raise DatasetError(
            f"{where}: meta has {got} per-episode metadata entries for {len(ends)} committed "
            "episodes; the store is damaged"
        )
    if not all(isinstance(entry, dict) for entry in episodes[: len(ends)]):
        raise DatasetError(f"{where}: per-episode metadata entries must be objects; damaged store")
    return Layout(
        root=root,
        group=group,
        meta=meta,
        schema=schema,
        root_attrs=root_attrs,
        arrays=arrays,
        ends_array=ends_array,
        ends=ends,
        torn_tail=torn,
        episodes=[dict(entry) for entry in episodes[: len(ends)]],
        n_meta_written=len(episodes),
    )


def check_chunk_files(layout: Layout) -> None:
    """Every chunk under the committed frames must exist (zarr reads a missing one as zeros)."""
    problems = []
    named = {**layout.arrays, sc.EPISODE_ENDS: layout.ends_array}
    for key, arr in named.items():
        is_ends = key == sc.EPISODE_ENDS
        n = len(layout.ends) if is_ends else layout.n_frames
        folder = layout.root / (sc.META if is_ends else sc.DATA) / key
        present = {entry.name for entry in os.scandir(folder)}
        step = arr.chunks[0]
        missing = [i for i in range((n + step - 1) // step) if chunk_key(arr, i) not in present]
        if not missing:
            continue
        problem = (
            f"{folder.parent.name}/{key}: {len(missing)} chunk file(s) missing "
            f"(first {chunk_key(arr, missing[0])}, {'entry' if is_ends else 'frame'} "
            f"{missing[0] * step})"
        )
        if not is_ends:
            damaged = episodes_of_frames(layout.ends, [i * step for i in missing], step)
            more = f" and {len(damaged) - 10} more" if len(damaged) > 10 else ""
            problem += f", episodes {damaged[:10]}{more}"
        problems.append(problem)
    if problems:
        raise DatasetError(
            f"{layout.root}: damaged store: {'; '.join(problems)}. Restore the store from a "
            "copy, or re-record the damaged episodes"
        )


def chunk_key(arr: ZArray, time_chunk: int) -> str:
    """File name of the chunk holding time-chunk `time_chunk` (one chunk across other axes)."""
    coords = (time_chunk,) + (0,) * (arr.ndim - 1)
    return str(arr.metadata.encode_chunk_key(coords))


def episodes_of_frames(ends: np.ndarray, starts: list[int], span: int) -> list[int]:
    """Episode ids overlapping any frame range [s, s + span) for s in `starts`."""
    ids: set[int] = set()
    for start in starts:
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(ends, start + span - 1, side="right"))
        ids.update(range(first, min(last, len(ends) - 1) + 1))
    return sorted(ids)


def _has_chunk(arr: ZArray, time_chunk: int) -> bool:
    store = arr.store_path.store
    assert isinstance(store, LocalStore)
    return (store.root / arr.path / chunk_key(arr, time_chunk)).is_file()


def _check_ends(ends: np.ndarray, where: str) -> None:
    if len(ends) == 0:
        return
    bad = np.flatnonzero(np.diff(ends, prepend=0) <= 0)
    if len(bad):
        i = int(bad[0])
        previous = int(ends[i - 1]) if i else 0
        raise DatasetError(
            f"{where}: meta/episode_ends is not increasing at entry {i} "
            f"({int(ends[i])} after {previous}); the store is damaged"
        )


def _subgroup(group: zarr.Group, name: str, where: str) -> zarr.Group:
    try:
        node = group[name]
    except KeyError:
        node = None
    if not isinstance(node, zarr.Group):
        raise DatasetError(f"{where}: group '{name}' is missing; the store is damaged")
    return node


def _array(
    group: zarr.Group, key: str, shape: tuple[int, ...], dtype: np.dtype[Any], where: str
) -> ZArray:
    path = f"{group.basename}/{key}"
    try:
        node = group[key]
    except KeyError:
        node = None
    except Exception as err:
        raise DatasetError(f"{where}: cannot open {path}: {err}") from err
    if not isinstance(node, zarr.Array):
        raise DatasetError(f"{where}: array {path} is missing; the store is damaged")
    if tuple(node.shape[1:]) != shape or node.dtype != dtype:
        raise DatasetError(
            f"{where}: {path} does not match the schema: expected frames of shape {shape} "
            f"dtype {dtype}, found {tuple(node.shape[1:])} {node.dtype}"
        )
    metadata = node.metadata
    dotted = isinstance(metadata, ArrayV2Metadata) and metadata.dimension_separator == "."
    if not dotted or tuple(node.chunks[1:]) != shape:
        raise DatasetError(f"{where}: {path} has an unsupported chunk layout {node.chunks}")
    return node


def _array_names(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if (p / ".zarray").is_file()]


def _foreign_message(root: Path) -> str:
    """Describe a zarr store vitac did not write, e.g. a diffusion_policy ReplayBuffer."""
    found: list[str] = []
    for child in sorted(root.iterdir()):
        if (child / ".zarray").is_file():
            found.append(child.name)
        elif (child / ".zgroup").is_file():
            names = sorted(p.name for p in child.iterdir() if not p.name.startswith("."))
            found.append(
                f"{child.name}/{{{', '.join(names[:6])}{', ...' if len(names) > 6 else ''}}}"
            )
    hint = ""
    if any(f.startswith("meta/") and "episode_ends" in f for f in found):
        hint = (
            " It has the layout of a diffusion_policy ReplayBuffer (data/ + meta/episode_ends) "
            "but no vitac schema: re-record it, or convert it with EpisodeWriter."
        )
    content = ", ".join(found) if found else "no arrays or groups"
    return (
        f"{root}: a zarr store, but not a vitac episode store (no 'vitac_format' attribute; "
        f"found {content}).{hint}"
    )
