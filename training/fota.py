"""FoTa tactile data sets (T3, "Transferable Tactile Transformers"): write, check and stream.

A FoTa root holds one folder per source data set, each with `train/` and `val/` splits. A split
folder holds `count.txt` (the number of samples) and WebDataset-style tar shards `data-000000.tar`,
... of up to 10,000 samples; a sample is two adjacent members sharing a key: `<key>.jpg` (the raw
image) and `<key>.json` (its labels, a JSON object). Shards are streamed one at a time and the
shuffle buffer holds samples still encoded. Every problem with the files is a `FotaError` naming
the shard, the sample key where there is one, and what is wrong.

A data set folder may also hold `reference.jpg` (vitac's addition; T3's sets have none): the
sensor's image with nothing touching it, encoded as the samples are, for encoders that read a
press as its difference from the resting gel. A sample may also have a third member,
`<key>.base.jpg` (vitac's addition too): its own base image, the pad before the change the
labels describe (e.g. an object held still before it was pushed), which such encoders read
the sample against instead of the data set's reference.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, NamedTuple

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

COUNT_FILE = "count.txt"
REFERENCE_FILE = "reference.jpg"
SHARD_GLOB = "data-*.tar"
_KINDS = {"jpg": "image", "jpeg": "image", "json": "labels", "base.jpg": "base"}  # ext -> part
_END_MARKER = 1024  # a well-formed tar ends with two zero blocks of 512 bytes


class FotaError(Exception):
    """A FoTa split cannot be read or written as asked; the message names the file and why."""


class FotaSample(NamedTuple):
    key: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    labels: dict[str, Any]
    shard: str  # shard file name, e.g. "data-000003.tar"
    base: np.ndarray | None = None  # (H, W, 3) uint8 RGB: the sample's own base image, if any


class _Record(NamedTuple):  # a sample as stored, still encoded
    key: str
    jpeg: bytes
    labels: bytes
    shard: Path
    base: bytes | None  # the JPEG of <key>.base.jpg, if the sample has one


class FotaWriter:
    """Writes one split folder as a context manager. Shards are renamed into place when complete
    and count.txt comes last, so a crash leaves whole shards and no count.txt (readers refuse)."""

    def __init__(self, split_dir: str | Path, shard_size: int = 10_000) -> None:
        if shard_size < 1:
            raise ValueError(f"shard_size must be at least 1, got {shard_size}")
        self.split_dir, self.shard_size = Path(split_dir), shard_size
        if any(self.split_dir.glob(SHARD_GLOB)) or (self.split_dir / COUNT_FILE).exists():
            raise FotaError(f"{self.split_dir}: already holds a split; write into an empty folder")
        with _writing(self.split_dir):
            self.split_dir.mkdir(parents=True, exist_ok=True)
        self._keys: set[str] = set()
        self._file: BinaryIO | None = None  # the open shard, under its temporary name
        self._tar: tarfile.TarFile | None = None
        self._shards, self._closed = 0, False  # shards completed

    def add(
        self, key: str, image: np.ndarray, labels: dict[str, Any], base: np.ndarray | None = None
    ) -> None:
        """Append one sample; `image` (and `base`, its own base image) are (H, W, 3) uint8 RGB,
        `labels` JSON-serialisable."""
        if self._closed:
            raise FotaError(f"{self.split_dir}: the writer is closed")
        if not key or "/" in key or "." in key:
            raise FotaError(f"{self.split_dir}: key {key!r} must be non-empty, without '/' or '.'")
        if key in self._keys:
            raise FotaError(f"{self.split_dir}: duplicate key {key!r}")
        if base is not None and base.shape != image.shape:
            got = f"{base.shape}, not the image's {image.shape}"
            raise FotaError(f"{self.split_dir}: sample {key!r} base image is {got}")
        try:
            label_bytes = json.dumps(labels).encode()
        except (TypeError, ValueError) as e:
            raise FotaError(f"{self.split_dir}: labels of sample {key!r} are not JSON: {e}") from e
        members = [(f"{key}.jpg", _encode(image, f"{self.split_dir}: sample {key!r} image"))]
        members.append((f"{key}.json", label_bytes))
        if base is not None:
            members.append(
                (f"{key}.base.jpg", _encode(base, f"{self.split_dir}: sample {key!r} base"))
            )
        self._keys.add(key)
        with _writing(self._shard_path(temporary=False)):
            if self._tar is None:
                self._file = self._shard_path(temporary=True).open("wb")
                self._tar = tarfile.TarFile(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0  # fixed mtime: same bytes
                self._tar.addfile(info, io.BytesIO(data))
            if len(self._keys) % self.shard_size == 0:
                self._finish_shard()

    def close(self) -> None:
        """Complete the last shard and write count.txt."""
        if self._closed:
            return
        self._closed = True
        if not self._keys:
            raise FotaError(f"{self.split_dir}: no samples were added; nothing to write")
        with _writing(self.split_dir):
            if self._tar is not None:
                self._finish_shard()
            temporary = self.split_dir / f".{COUNT_FILE}.partial"
            temporary.write_text(f"{len(self._keys)}\n")
            temporary.replace(self.split_dir / COUNT_FILE)

    def _shard_path(self, temporary: bool) -> Path:
        name = f"data-{self._shards:06d}.tar"
        return self.split_dir / (f".{name}.partial" if temporary else name)

    def _finish_shard(self) -> None:
        assert self._tar is not None and self._file is not None
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._shard_path(temporary=True).replace(self._shard_path(temporary=False))
        self._tar, self._file, self._shards = None, None, self._shards + 1

    def __enter__(self) -> FotaWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            return self.close()
        self._closed = True  # after an error: drop the open shard, write no count.txt
        if self._file is not None:
            self._file.close()
            self._shard_path(temporary=True).unlink(missing_ok=True)


class FotaSplit:
    """One split folder (e.g. `<root>/<source>/train`): its shards, its count, its samples."""

    def __init__(self, split_dir: str | Path) -> None:
        self.split_dir = Path(split_dir)
        expected = f"expected a FoTa split folder with {COUNT_FILE} and {SHARD_GLOB} shards"
        if not self.split_dir.is_dir():
            raise FotaError(f"{self.split_dir}: no such folder; {expected}")
        count_path = self.split_dir / COUNT_FILE
        if not count_path.is_file():
            raise FotaError(f"{self.split_dir}: no {COUNT_FILE}; {expected}")
        text = count_path.read_text().strip()
        if not text.isdecimal():
            raise FotaError(f"{count_path}: should hold one non-negative integer, found {text!r}")
        self._count = int(text)
        self._shards = tuple(sorted(self.split_dir.glob(SHARD_GLOB)))
        if not self._shards:
            raise FotaError(f"{self.split_dir}: no shards; {expected}")

    @property
    def shards(self) -> tuple[Path, ...]:
        return self._shards

    @property
    def count(self) -> int:
        """The number of samples count.txt announces (`verify` checks it)."""
        return self._count

    def samples(
        self,
        *,
        seed: int,
        epoch: int = 0,
        shuffle: bool = True,
        shuffle_buffer: int = 1000,
        rank: int = 0,
        world_size: int = 1,
        worker: int = 0,
        num_workers: int = 1,
    ) -> Iterator[FotaSample]:
        """One reader's samples for one epoch, deterministic given the arguments: ordered shard i
        goes to reader `rank * num_workers + worker == i % (world_size * num_workers)`, so the
        readers together see every sample once (their counts differ when shard sizes do)."""
        if seed < 0 or epoch < 0 or shuffle_buffer < 1:
            raise ValueError("seed and epoch must be >= 0 and shuffle_buffer >= 1")
        if not (0 <= rank < world_size and 0 <= worker < num_workers):
            raise ValueError(f"rank {rank}/{world_size}, worker {worker}/{num_workers}")
        readers = world_size * num_workers
        if len(self._shards) < readers:
            raise FotaError(
                f"{self.split_dir}: {len(self._shards)} shards for {readers} readers ({world_size}"
                f" ranks x {num_workers} workers); use fewer workers or write smaller shards"
            )
        order = np.arange(len(self._shards))  # (S,) shard indices, stored order
        if shuffle:
            order = np.random.default_rng([seed, epoch]).permutation(order)
        mine = [self._shards[i] for i in order[rank * num_workers + worker :: readers]]
        records: Iterator[_Record] = (r for shard in mine for r in _read_shard(shard))
        if shuffle and shuffle_buffer > 1:
            rng = np.random.default_rng([seed, epoch, rank, worker])
            records = _shuffled(records, shuffle_buffer, rng)
        for record in records:
            yield _decode(record)

    def verify(self) -> int:
        """Read and decode every sample; check keys are unique and the total matches count.txt."""
        keys: set[str] = set()
        for sample in self.samples(seed=0, shuffle=False):
            if sample.key in keys:
                raise FotaError(f"{self.split_dir / sample.shard}: key {sample.key!r} repeats")
            keys.add(sample.key)
        if len(keys) != self._count:
            held = f"count.txt says {self._count} but the shards hold {len(keys)}"
            raise FotaError(f"{self.split_dir / COUNT_FILE}: {held}")
        return len(keys)


class FotaDataset(IterableDataset[Any]):
    """A split for a DataLoader: each iterator reads its share of the shards (rank from
    torch.distributed, worker from the DataLoader). Yields (image (H, W, 3) uint8, labels) or
    `transform(sample)`. Call `set_epoch` each epoch (persistent workers would not see it)."""

    def __init__(
        self,
        split: FotaSplit | str | Path,
        *,
        seed: int,
        shuffle: bool = True,
        shuffle_buffer: int = 1000,
        transform: Callable[[FotaSample], Any] | None = None,
    ) -> None:
        self.split = split if isinstance(split, FotaSplit) else FotaSplit(split)
        self.transform, self.epoch = transform, 0
        self._samples = partial(
            self.split.samples, seed=seed, shuffle=shuffle, shuffle_buffer=shuffle_buffer
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Any]:
        rank, world_size = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        samples = self._samples(
            epoch=self.epoch, rank=rank, world_size=world_size, worker=worker, num_workers=workers
        )
        for sample in samples:
            if self.transform is not None:
                yield self.transform(sample)
            else:
                yield torch.from_numpy(sample.image), sample.labels  # (H, W, 3) uint8


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise FotaError(f"{path}: cannot write ({e})") from e


def _read_shard(path: Path) -> Iterator[_Record]:
    """Stream one shard's samples, checking the tar through to its end-of-archive marker."""
    try:
        with path.open("rb") as file:
            try:
                tar = tarfile.TarFile(fileobj=file)
            except tarfile.TarError as e:
                raise FotaError(f"{path}: not a tar file ({e})") from e
            with tar:
                yield from _records(tar, file, path)
    except (tarfile.TarError, EOFError) as e:
        raise FotaError(f"{path}: damaged or truncated tar ({e})") from e
    except OSError as e:
        raise FotaError(f"{path}: cannot read ({e})") from e


def _records(tar: tarfile.TarFile, file: BinaryIO, path: Path) -> Iterator[_Record]:
    """Group adjacent members by key (WebDataset: the name up to the first '.' of its base)."""
    seen: set[str] = set()
    key: str | None = None
    parts: dict[str, bytes] = {}
    for member in tar:
        base = member.name.rfind("/") + 1
        dot = member.name.find(".", base)
        kind = _KINDS.get(member.name[dot + 1 :].lower()) if dot > base else None
        if not member.isfile() or kind is None:
            continue  # folders and other members are not part of the format
        name = member.name[:dot]
        if name != key:
            if key is not None:
                yield _complete(key, parts, path)
            if name in seen:
                raise FotaError(f"{path}: sample {name!r} appears twice (members not adjacent)")
            seen.add(name)
            key, parts = name, {}
        if kind in parts:
            raise FotaError(f"{path}: sample {name!r} has two {kind} members")
        data = tar.extractfile(member)
        if data is None:
            raise FotaError(f"{path}: cannot read member {member.name!r}")
        parts[kind] = data.read()
    _check_end(file, tar.offset, path)  # before the last sample: a cut shard reads as one
    if key is not None:
        yield _complete(key, parts, path)


def _complete(key: str, parts: dict[str, bytes], path: Path) -> _Record:
    if "labels" not in parts:
        raise FotaError(f"{path}: sample {key!r} has an image but no labels (.json)")
    if "image" not in parts:
        raise FotaError(f"{path}: sample {key!r} has labels but no image (.jpg)")
    return _Record(key, parts["image"], parts["labels"], path, parts.get("base"))


def _check_end(file: BinaryIO, offset: int, path: Path) -> None:
    """tarfile stops quietly at a damaged header or a short file: demand the end marker."""
    file.seek(offset)
    marker = file.read(_END_MARKER)
    if len(marker) < _END_MARKER:
        raise FotaError(f"{path}: truncated tar (no end-of-archive marker at byte {offset})")
    if marker.count(0) != len(marker):
        raise FotaError(f"{path}: damaged tar (unreadable member header at byte {offset})")


def _shuffled(records: Iterator[_Record], size: int, rng: np.random.Generator) -> Iterator[_Record]:
    """A shuffle buffer: each arriving record swaps out a random one from `size` held."""
    buffer: list[_Record] = []
    for record in records:
        if len(buffer) < size:
            buffer.append(record)
            continue
        slot = int(rng.integers(size))
        yield buffer[slot]
        buffer[slot] = record
    for slot in rng.permutation(len(buffer)):
        yield buffer[slot]


def write_reference(set_dir: str | Path, image: np.ndarray) -> Path:
    """Store a data set's no-contact image ((H, W, 3) uint8 RGB) as its samples are stored."""
    path = Path(set_dir) / REFERENCE_FILE
    jpeg = _encode(image, f"{path}: the reference")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg)
    return path


def _encode(image: np.ndarray, what: str) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes (quality 95); FotaError naming `what` otherwise."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise FotaError(f"{what} is {image.shape} {image.dtype}, not (H, W, 3) uint8")
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    if not ok:
        raise FotaError(f"{what}: cannot encode it as JPEG")
    return bytes(jpeg.tobytes())


def read_reference(set_dir: str | Path) -> np.ndarray:
    """A data set's no-contact image (H, W, 3) uint8 RGB; FotaError if it has none."""
    path = Path(set_dir) / REFERENCE_FILE
    if not path.is_file():
        raise FotaError(
            f"{path}: no reference image (difference preprocessing needs the resting pad's "
            "image; data made by `vitac encoders make-data` has one)"
        )
    return _decode_jpeg(path.read_bytes(), str(path))


def _decode(record: _Record) -> FotaSample:
    where = f"{record.shard}: sample {record.key!r}"
    rgb = _decode_jpeg(record.jpeg, where)
    base = None if record.base is None else _decode_jpeg(record.base, f"{where} base")
    if base is not None and base.shape != rgb.shape:
        raise FotaError(f"{where}: base image {base.shape} does not match the image {rgb.shape}")
    try:
        labels = json.loads(record.labels)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FotaError(f"{where}: labels are not valid JSON ({e})") from e
    if not isinstance(labels, dict):
        raise FotaError(f"{where}: labels must be a JSON object, got {type(labels).__name__}")
    return FotaSample(record.key, rgb, labels, record.shard.name, base)


def _decode_jpeg(data: bytes, where: str) -> np.ndarray:
    """JPEG bytes -> (H, W, 3) uint8 RGB."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # (H, W, 3) uint8 BGR
    if bgr is None:
        raise FotaError(f"{where}: cannot decode the JPEG")
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
