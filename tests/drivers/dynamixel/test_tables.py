"""Control tables against the e-manual's facts (../shared/research/dynamixel.md)."""

from __future__ import annotations

import math

import pytest

from drivers.dynamixel.tables import MODEL_BY_NUMBER, MODELS, RAD_PER_PULSE, OperatingMode, model


def test_model_numbers_and_the_fields_a_driver_uses() -> None:
    assert {m.name: m.number for m in MODELS.values()} == {
        "xl330-m288": 1200, "xl430-w250": 1060, "xm430-w350": 1020, "xm540-w270": 1120,
    }  # fmt: skip
    for m in MODELS.values():
        layout = {name: (m.field(name).address, m.field(name).size) for name in (
            "model_number", "id", "baud_rate", "operating_mode", "secondary_id", "torque_enable",
            "hardware_error_status", "profile_velocity", "goal_position", "present_position",
            "present_input_voltage", "present_temperature")}  # fmt: skip
        assert layout == {
            "model_number": (0, 2), "id": (7, 1), "baud_rate": (8, 1), "operating_mode": (11, 1),
            "secondary_id": (12, 1), "torque_enable": (64, 1), "hardware_error_status": (70, 1),
            "profile_velocity": (112, 4), "goal_position": (116, 4),
            "present_position": (132, 4), "present_input_voltage": (144, 2),
            "present_temperature": (146, 1),
        }  # fmt: skip
        assert MODEL_BY_NUMBER[m.number] is m


def test_models_differ_where_the_manual_says() -> None:
    xl430, xl330, xm430 = model("xl430-w250"), model("xl330-m288"), model("xm430-w350")
    assert not xl430.has_current and xl430.field("present_load").address == 126
    assert OperatingMode.CURRENT_BASED_POSITION not in xl430.operating_modes
    assert xl330.field("present_current").unit == 1e-3  # 1 mA
    assert xm430.field("present_current").unit == pytest.approx(2.69e-3)
    assert (xl330.field("velocity_limit").initial, xm430.field("velocity_limit").initial) == (
        445, 200
    )  # fmt: skip
    with pytest.raises(KeyError, match="xl430-w250 has no field 'goal_current'"):
        xl430.field("goal_current")
    with pytest.raises(KeyError, match="unknown servo model 'mx-28'"):
        model("mx-28")


def test_units() -> None:
    turn = RAD_PER_PULSE * 4096
    assert turn == pytest.approx(2 * math.pi)
    velocity = model("xm430-w350").field("profile_velocity")
    assert velocity.to_si(131) == pytest.approx(math.pi, rel=0.002)  # 30 rev/min
    assert velocity.from_si(math.pi) == 131
    signed = model("xm430-w350").field("present_velocity")
    assert signed.decode(signed.encode(-5)) == -5
