"""The one exception type of the sensing layer.

Every failure a caller of `sensing` can act on (a missing or damaged dataset, a frame that does
not match the schema, a second writer on the same store) is a `DatasetError` whose message names
the path, the key and what to do next. Errors from zarr and numcodecs are wrapped, never leaked.
"""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset cannot be read or written as asked; the message says why and what to do."""
