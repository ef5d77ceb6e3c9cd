"""On-disk layout of a vitac episode store: names, format version, schema, chunking, codecs.

A store is a zarr format-2 directory (zarr-python 2.x readers, e.g. diffusion_policy's
ReplayBuffer, can open it):

    <root>/.zattrs              vitac_format, schema {key: FieldSpec}, created_at, attrs {free}
    <root>/data/<key>           (n_frames, *spec.shape) one array per schema key
    <root>/data/timestamp       (n_frames,) float64 seconds
    <root>/meta/episode_ends    (n_episodes,) int64 cumulative end indices: THE commit point
    <root>/meta/.zattrs         {"episodes": [per-episode metadata, in episode order]}
    <root>/.vitac-writer.lock   flock(2) held by the one EpisodeWriter appending (if any)

Every chunk carries a CRC32 (numcodecs filter) so a truncated or overwritten chunk is reported
instead of silently decoding to garbage; images are one frame per chunk, low-dim streams 1024
frames per chunk. This module only describes the layout; `layout.py` opens and checks it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numcodecs

from drivers.spec import FieldSpec
from sensing.errors import DatasetError

FORMAT_NAME = "vitac.episodes"
FORMAT_VERSION = 1
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"

TIMESTAMP = "timestamp"  # data/timestamp: float64 seconds, one per frame
DATA = "data"
META = "meta"
EPISODE_ENDS = "episode_ends"
EPISODES_ATTR = "episodes"  # meta/.zattrs key holding the per-episode metadata list
LOCK_FILE = ".vitac-writer.lock"

LOWDIM_CHUNK = 1024  # frames per chunk of a non-image stream and of data/timestamp
ENDS_CHUNK = 1024  # entries per chunk of meta/episode_ends
ENDS_FILL = 0  # fill value of episode_ends: a torn commit reads as a trailing 0 (see layout.py)

# Per-episode metadata written by EpisodeWriter.commit; extras may not reuse these names.
EPISODE_FIELDS = ("task", "success", "seed", "rig", "notes")
DERIVED_FIELDS = ("index", "length", "t_start", "t_end", "committed_at")

_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def check_key(key: object) -> str:
    """Return `key` if it can name a data array (`rgb.scene`, `proprio.ee_pos`, `action`)."""
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise DatasetError(
            f"invalid stream key {key!r}: use letters, digits, '_', '-' and '.', "
            "not starting with '.' (e.g. 'rgb.scene', 'tactile.left', 'action')"
        )
    if key == TIMESTAMP:
        raise DatasetError(f"stream key {key!r} is reserved for data/{TIMESTAMP}; rename it")
    return key


def check_schema(schema: Mapping[str, FieldSpec]) -> dict[str, FieldSpec]:
    """Validate a creator's schema: at least one key, valid names, FieldSpec values."""
    if not isinstance(schema, Mapping) or not schema:
        raise DatasetError("the schema must be a non-empty mapping {key: FieldSpec}")
    checked: dict[str, FieldSpec] = {}
    for key, spec in schema.items():
        check_key(key)
        if not isinstance(spec, FieldSpec):
            raise DatasetError(f"schema[{key!r}] must be a FieldSpec, got {type(spec).__name__}")
        checked[key] = spec
    return checked


def encode_schema(schema: Mapping[str, FieldSpec]) -> dict[str, Any]:
    return {key: spec.model_dump(mode="json") for key, spec in schema.items()}


def decode_schema(raw: object, where: str) -> dict[str, FieldSpec]:
    """Parse the `schema` root attribute; `where` names the store in error messages."""
    if not isinstance(raw, dict) or not raw:
        raise DatasetError(
            f"{where}: the 'schema' attribute is missing or empty; the store is damaged"
        )
    schema: dict[str, FieldSpec] = {}
    for key, value in raw.items():
        try:
            schema[check_key(key)] = FieldSpec.model_validate(value)
        except (ValueError, DatasetError) as err:
            raise DatasetError(f"{where}: schema entry {key!r} is invalid: {err}") from err
    return schema


def check_format(value: object, where: str) -> None:
    """Accept `vitac.episodes/1`; explain any other value of the `vitac_format` attribute."""
    if value == FORMAT:
        return
    if isinstance(value, str) and value.startswith(FORMAT_NAME + "/"):
        raise DatasetError(
            f"{where}: episode store format {value!r} is not supported by this vitac, "
            f"which reads {FORMAT!r}; use the vitac version that wrote it, or upgrade"
        )
    raise DatasetError(f"{where}: unknown 'vitac_format' {value!r}; expected {FORMAT!r}")


def chunk_shape(spec: FieldSpec) -> tuple[int, ...]:
    """Images: one frame per chunk; low-dim streams: LOWDIM_CHUNK frames per chunk."""
    return (1, *spec.shape) if spec.is_image else (LOWDIM_CHUNK, *spec.shape)


def filters() -> list[numcodecs.abc.Codec]:
    """CRC32 on every chunk: truncation or garbage is caught at decode, never returned."""
    return [numcodecs.CRC32()]


def compressor(spec: FieldSpec | None) -> numcodecs.abc.Codec:
    """Blosc (lz4 for images: fast to decode when training; zstd for the small low-dim chunks)."""
    if spec is not None and spec.is_image:
        return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    return numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)


def check_json(value: Any, what: str) -> Any:
    """Return `value` if it survives a strict JSON round trip (no NaN), else DatasetError."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise DatasetError(f"{what} must be JSON-serialisable (no NaN/inf): {err}") from err


def check_timestamp(timestamp: object, previous: float | None) -> float:
    """A frame's time: a finite float, never earlier than the previous frame of the episode."""
    try:
        t = float(timestamp)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise DatasetError(f"timestamp must be a number of seconds, got {timestamp!r}") from err
    if not math.isfinite(t):
        raise DatasetError(f"timestamp must be finite, got {t}")
    if previous is not None and t < previous:
        raise DatasetError(
            f"timestamp went backwards within the episode ({t} < previous {previous}); "
            "use one monotonic clock (time.monotonic()) for every frame"
        )
    return t
