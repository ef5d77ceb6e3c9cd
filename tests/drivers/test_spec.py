from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from drivers.spec import FieldSpec


def test_dtype_is_normalised_and_checked() -> None:
    assert FieldSpec(shape=(3,), dtype="f4").dtype == "float32"
    with pytest.raises(ValidationError, match="unknown numpy dtype 'pixels'"):
        FieldSpec(shape=(3,), dtype="pixels")


def test_dimensions_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="every dimension must be positive"):
        FieldSpec(shape=(0, 3), dtype="uint8")


def test_images_are_hwc_uint8_or_hw_uint16() -> None:
    assert FieldSpec(shape=(240, 320, 3), dtype="uint8").is_image
    assert FieldSpec(shape=(480, 640), dtype="uint16").is_image
    assert not FieldSpec(shape=(7,), dtype="float32").is_image


def test_check_names_the_key_and_both_layouts() -> None:
    spec = FieldSpec(shape=(2,), dtype="float32")
    spec.check("proprio.gripper", np.zeros(2, np.float32))
    with pytest.raises(
        ValueError,
        match=r"proprio.gripper: expected shape \(2,\) dtype float32, "
        r"got shape \(3,\) dtype float64",
    ):
        spec.check("proprio.gripper", np.zeros(3))


def test_json_round_trip_and_frozen() -> None:
    spec = FieldSpec(shape=(64, 64, 3), dtype="uint8", units="rgb", sensor="scene")
    assert FieldSpec.model_validate_json(spec.model_dump_json()) == spec
    with pytest.raises(ValidationError):
        spec.units = "m"  # type: ignore[misc]
