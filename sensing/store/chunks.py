"""Fast reads of committed frames: decode a data array's zarr-v2 chunk files directly.

zarr-python 3 schedules every chunk through its asyncio pipeline (several thread hops per
chunk), which costs ~0.4 ms per one-frame image chunk; a batch of windows touches ~1000 of
them. A zarr-v2 chunk file is just `compressor(filters(C-order bytes))`, so for reading we
open the files ourselves and decode them with the codecs named in the array's `.zarray`
(the store's layout guarantees C order, chunks that span whole frames, and one file per
chunk under the committed frames). Writes and metadata stay with zarr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from zarr.core.metadata import ArrayV2Metadata

from sensing.errors import DatasetError


class ChunkReader:
    """Reads frames of one data array (`(n, *frame)`, chunks of `(c, *frame)`) from disk."""

    def __init__(self, folder: Path, metadata: ArrayV2Metadata, key: str, where: str) -> None:
        self._folder = folder
        self._key = key
        self._where = where
        self._chunk_len = int(metadata.chunks[0])
        self._frame = tuple(int(d) for d in metadata.shape[1:])
        self._dtype = np.dtype(metadata.dtype.to_native_dtype())
        self._suffix = ".0" * len(self._frame)
        self._compressor: Any = metadata.compressor
        self._filters: list[Any] = list(metadata.filters or [])
        if metadata.order != "C":
            raise DatasetError(
                f"{where}: {key} is stored in {metadata.order!r} order; expected 'C'"
            )

    def take(self, frames: np.ndarray) -> np.ndarray:
        """Frames at the 1-D int indices `frames` (any order, repeats allowed): `(len, *frame)`."""
        out = np.empty((len(frames), *self._frame), self._dtype)
        if self._chunk_len == 1:  # images: one file per frame, decoded straight into place
            for row, frame in enumerate(frames.tolist()):
                out[row] = self._chunk(frame)[0]
            return out
        chunk_ids = frames // self._chunk_len
        for chunk_id in np.unique(chunk_ids).tolist():
            rows = np.flatnonzero(chunk_ids == chunk_id)
            out[rows] = self._chunk(chunk_id)[frames[rows] - chunk_id * self._chunk_len]
        return out

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames `start:stop` (contiguous)."""
        c = self._chunk_len
        out = np.empty((max(stop - start, 0), *self._frame), self._dtype)
        for chunk_id in range(start // c, (stop + c - 1) // c):
            lo, hi = max(start, chunk_id * c), min(stop, (chunk_id + 1) * c)
            out[lo - start : hi - start] = self._chunk(chunk_id)[
                lo - chunk_id * c : hi - chunk_id * c
            ]
        return out

    def _chunk(self, chunk_id: int) -> np.ndarray:
        """Decode chunk file `chunk_id`: `(c, *frame)`; a missing or bad file is DatasetError."""
        name = f"{chunk_id}{self._suffix}"
        try:
            buf: Any = (self._folder / name).read_bytes()
            if self._compressor is not None:
                buf = self._compressor.decode(buf)
            for codec in reversed(self._filters):
                buf = codec.decode(buf)
            flat = np.frombuffer(buf, self._dtype)
            return flat.reshape((self._chunk_len, *self._frame))
        except FileNotFoundError as err:
            raise DatasetError(
                f"{self._where}: chunk file data/{self._key}/{name} is missing; the store is "
                "damaged; restore it from a copy or re-record the affected episodes"
            ) from err
        except Exception as err:
            first = chunk_id * self._chunk_len
            raise DatasetError(
                f"{self._where}: cannot decode {self._key} chunk {name} (frames from {first}): "
                f"{type(err).__name__}: {err}; the chunk file is damaged; restore the store "
                "from a copy or re-record the affected episodes"
            ) from err
