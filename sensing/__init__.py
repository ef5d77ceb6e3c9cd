"""Streams to observations, and the episode store that records them.

Torch-free: nothing under `sensing/` imports torch, so recorders, converters and the CLI can
use the episode store (`sensing.store`) without the training stack installed.
"""
