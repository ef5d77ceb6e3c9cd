"""Streams to observations, and the episode store that records them.

Live streams: a capture worker (thread or process) per device (`sensing.capture`) moves its
frames into a shared-memory ring buffer (`sensing.ring_buffer`); the aligner
(`sensing.aligner`) takes every stream's newest frame at or before each observation time,
with its age; `sensing.recorder` records them into the episode store at a fixed rate.

Torch-free: nothing under `sensing/` imports torch, so recorders, converters and the CLI can
use the episode store (`sensing.store`) without the training stack installed.
"""
