"""Observation encoders: images -> feature vectors."""

from policies.encoders.conv import ConvEncoder, SpatialSoftmax, random_shift

__all__ = ["ConvEncoder", "SpatialSoftmax", "random_shift"]
