"""The policies layer's one exception type."""


class CheckpointError(Exception):
    """A checkpoint directory is missing, incomplete, foreign or does not fit the model."""
