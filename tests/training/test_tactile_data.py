"""Simulated tactile pretraining data: FoTa folders whose labels describe the press."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from launch.cli import main
from sim.tactile_gallery import press
from training.fota import FotaSplit, read_reference
from training.tactile_data import GRASP_SHAPES, SENSORS, SHAPES, PressRig, make_tactile_data


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fota") / "data"
    counts = make_tactile_data(out, 24, seed=3, shard_size=10, progress=False)
    assert counts == {"sim_mini": {"train": 22, "val": 2}, "sim_digit": {"train": 22, "val": 2}}
    return out


def test_each_sensor_is_a_fota_data_set_at_its_native_size(root: Path) -> None:
    for name, size in (("sim_mini", (240, 320)), ("sim_digit", (320, 240))):
        train, val = FotaSplit(root / name / "train"), FotaSplit(root / name / "val")
        assert (train.verify(), val.verify()) == (22, 2) and len(train.shards) == 3
        sample = next(iter(val.samples(seed=0, shuffle=False)))
        assert sample.image.shape == (*size, 3)
        assert set(sample.labels) == {
            "contact_class",
            "object_name",
            "x_mm",
            "y_mm",
            "normal_force_n",
            "depth_mm",
            "angle_deg",
            "shear_x_n",
            "shear_y_n",
            "torque_nmm",
        }


def test_each_data_set_keeps_its_resting_pad(root: Path) -> None:
    """The reference is the pad untouched: a press differs from it only where it pressed."""
    for name in ("sim_mini", "sim_digit"):
        reference = read_reference(root / name).astype(int)
        for sample in list(FotaSplit(root / name / "train").samples(seed=0, shuffle=False))[:4]:
            change = np.abs(sample.image.astype(int) - reference).max(axis=2)
            assert change.shape == reference.shape[:2] and change.max() > 30  # the press
            assert np.median(change) <= 3  # elsewhere the same gel (JPEG's loss aside)


def test_labels_describe_the_press_that_made_the_image(root: Path) -> None:
    samples = list(FotaSplit(root / "sim_mini" / "train").samples(seed=0, shuffle=False))[:6]
    rigs: dict[str, PressRig] = {}
    for sample in samples:
        labels = sample.labels
        assert SHAPES and list(SHAPES)[labels["contact_class"]] == labels["object_name"]
        rig = rigs.setdefault(
            labels["object_name"], PressRig(SHAPES[labels["object_name"]], SENSORS["mini"])
        )
        again = press(
            rig.sensor,
            rig.model,
            rig.data,
            labels["normal_force_n"],
            xy_m=(labels["x_mm"] / 1000, labels["y_mm"] / 1000),
            turn_rad=np.radians(labels["angle_deg"]),
        )
        assert again.depth.max() * 1000 == pytest.approx(labels["depth_mm"], rel=0.02)
        change = np.abs(again.image.astype(int) - sample.image).mean()
        assert change < 3.0, (sample.key, change)  # the same press, up to JPEG and label rounding
    assert len({s.labels["object_name"] for s in samples}) > 1


def test_the_seed_fixes_the_data(root: Path, tmp_path: Path) -> None:
    again = make_tactile_data(
        tmp_path / "d", 24, seed=3, sensors=["digit"], shard_size=10, progress=False
    )
    assert again == {"sim_digit": {"train": 22, "val": 2}}
    first = [s.labels for s in FotaSplit(root / "sim_digit" / "val").samples(seed=0, shuffle=False)]
    second = [
        s.labels
        for s in FotaSplit(tmp_path / "d" / "sim_digit" / "val").samples(seed=0, shuffle=False)
    ]
    assert first == second


def test_the_command_writes_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fota"
    assert (
        main(
            [
                "encoders",
                "make-data",
                "--out",
                str(out),
                "--samples",
                "10",
                "--sensor",
                "digit",
                "--no-progress",
            ]
        )
        == 0
    )
    said = capsys.readouterr().out.splitlines()
    assert said[0] == f"{out / 'sim_digit'}: 9 train, 1 val samples"
    assert main(["encoders", "make-data", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_shear_pushes_and_twists_the_same_presses(root: Path, tmp_path: Path) -> None:
    """shear=True: the same indenters, places and turns (the seed's other draws are kept),
    now pushed sideways and twisted; the measured push and twist are the labels (about 0
    without)."""
    make_tactile_data(
        tmp_path / "s", 24, 3, sensors=["mini"], shard_size=10, progress=False, shear=True
    )

    def labels(where: Path) -> list[dict[str, float]]:
        split = FotaSplit(where / "sim_mini" / "train")
        return [s.labels for s in split.samples(seed=0, shuffle=False)]

    plain, pushed = labels(root), labels(tmp_path / "s")
    for a, b in zip(plain, pushed, strict=True):
        assert (a["object_name"], a["x_mm"], a["angle_deg"]) == (
            b["object_name"],
            b["x_mm"],
            b["angle_deg"],
        )
    push = [np.hypot(x["shear_x_n"], x["shear_y_n"]) for x in pushed]
    still = [np.hypot(x["shear_x_n"], x["shear_y_n"]) for x in plain]
    assert max(still) < 0.05 and np.median(push) > 0.2, (still, push)
    assert max(abs(x["torque_nmm"]) for x in plain) < 0.05
    assert np.median([abs(x["torque_nmm"]) for x in pushed]) > 0.3


def test_grasp_samples_are_held_presses_disturbed_each_with_its_base(tmp_path: Path) -> None:
    """grasp=True: every sample has a base image, the same indenter pressed and held (not the
    resting pad), from which the sample differs by the push and twist its labels measure;
    the indenters include the face wider than the pad. Images are compared in 8x8-pixel
    means, which the two images' independent sensor noise hardly moves."""
    make_tactile_data(tmp_path, 30, 3, sensors=["mini"], shard_size=10, progress=False, grasp=True)
    rest = _pooled(read_reference(tmp_path / "sim_mini"))
    samples = list(FotaSplit(tmp_path / "sim_mini" / "train").samples(seed=0, shuffle=False))
    assert {s.labels["object_name"] for s in samples} == set(GRASP_SHAPES)
    pressed, changed = [], []
    for s in samples:
        assert s.base is not None and "base_force_n" in s.labels
        assert list(GRASP_SHAPES)[s.labels["contact_class"]] == s.labels["object_name"]
        changed.append(np.abs(_pooled(s.image) - _pooled(s.base)).mean())
        assert changed[-1] > 0.4, s.labels  # every sample disturbed beyond the noise
        if s.labels["object_name"] != "face":  # the wide face barely dents the gel
            pressed.append(np.abs(_pooled(s.base) - rest).mean())
    assert np.median(pressed) > 2 * np.median(changed), (pressed, changed)  # the base is held
    push = [np.hypot(s.labels["shear_x_n"], s.labels["shear_y_n"]) for s in samples]
    assert np.median(push) > 0.2 and np.median([abs(s.labels["torque_nmm"]) for s in samples]) > 0.3


def _pooled(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H // 8, W // 8, 3) float means of 8x8 blocks."""
    h, w = image.shape[0] // 8 * 8, image.shape[1] // 8 * 8
    blocks = image[:h, :w].astype(float).reshape(h // 8, 8, w // 8, 8, 3)
    return np.asarray(blocks.mean(axis=(1, 3)))


def test_unit_samples_are_the_same_presses_each_on_a_unit_of_its_own(
    root: Path, tmp_path: Path
) -> None:
    """units > 0: the same indenters, places and forces (the units draw from a stream of their
    own), each pressed on a sensor unit of its own whose resting frame is the sample's base:
    the press differs from its base where it pressed alone, while the bases differ from the
    data set's nominal reference (another gel, lights and camera mount)."""
    make_tactile_data(tmp_path, 24, 3, sensors=["mini"], shard_size=10, progress=False, units=1.0)
    rest = _pooled(read_reference(tmp_path / "sim_mini"))
    np.testing.assert_array_equal(rest, _pooled(read_reference(root / "sim_mini")))
    split = "sim_mini/train"
    plain = list(FotaSplit(root / split).samples(seed=0, shuffle=False))
    samples = list(FotaSplit(tmp_path / split).samples(seed=0, shuffle=False))
    moduli = set()
    for a, s in zip(plain, samples, strict=True):
        for key in ("object_name", "x_mm", "y_mm", "angle_deg"):
            assert a.labels[key] == s.labels[key], key
        assert s.base is not None
        moduli.add(s.labels["unit_modulus_scale"])
        assert 0.5 <= s.labels["unit_modulus_scale"] <= 2 and abs(s.labels["unit_turn_deg"]) <= 4
        assert 1 / 1.3 - 1e-4 <= s.labels["unit_gain_scale"] <= 1.3 + 1e-4
        change = np.abs(s.image.astype(int) - s.base.astype(int)).max(axis=2)
        assert change.max() > 30 and np.median(change) <= 3  # the press, on its own unit's gel
        assert np.abs(_pooled(s.base) - rest).mean() > 1.0  # not the nominal unit
    assert len(moduli) == len(samples)  # every press its own unit


@pytest.mark.parametrize("spread", ["-0.5", "2.5"])
def test_a_unit_spread_out_of_range_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spread: str
) -> None:
    out = tmp_path / "fota"
    assert main(["encoders", "make-data", "--out", str(out), "--unit-spread", spread]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--unit-spread must be in [0, 2.0]" in err
    assert not out.exists()
