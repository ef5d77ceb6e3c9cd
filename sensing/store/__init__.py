"""The episode store: a crash-safe zarr (format 2) store of recorded episodes.

Read top to bottom: `schema.py` (the on-disk layout), `layout.py` (opening and checking a
store; the commit rule), `lifecycle.py` (create, lock, repair), `writer.py` (`EpisodeWriter`),
`chunks.py` + `reader.py` (`EpisodeStore`), `sampler.py` (`WindowSampler`), `split.py`
(`split_episodes`).
"""

from sensing.store.lifecycle import pending_repairs, repair_store
from sensing.store.reader import EpisodeStore, StoredFrames
from sensing.store.sampler import FrameSource, WindowSampler
from sensing.store.schema import FORMAT, TIMESTAMP
from sensing.store.split import split_episodes
from sensing.store.writer import EpisodeWriter

__all__ = [
    "FORMAT",
    "TIMESTAMP",
    "EpisodeStore",
    "EpisodeWriter",
    "FrameSource",
    "StoredFrames",
    "WindowSampler",
    "pending_repairs",
    "repair_store",
    "split_episodes",
]
