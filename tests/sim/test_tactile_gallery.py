"""`render_gallery` writes readable, non-trivial PNGs of each probe and an overview sheet."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sim.tactile_gallery import MARKER_PROBES, PROBES, main, render_gallery, render_probe


def read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, f"cannot read {path}"
    return np.asarray(image)


def test_render_gallery_writes_pngs(tmp_path: Path) -> None:
    paths = render_gallery(tmp_path, profiles=("gelsight_mini",))
    names = sorted(p.name for p in paths)
    assert names == [
        "edge_gelsight_mini.png",
        "overview_gelsight_mini.png",
        "pins_gelsight_mini.png",
        "shear_gelsight_mini.png",
        "sphere_gelsight_mini.png",
        "torsion_gelsight_mini.png",
    ]
    images = {p.stem: read_png(p) for p in paths}
    for probe in (*PROBES, *MARKER_PROBES):
        reading, reference = render_probe(probe, "gelsight_mini")
        image = images[f"{probe.name}_gelsight_mini"][..., ::-1]  # BGR -> RGB
        np.testing.assert_array_equal(image, reading.image)  # the PNG is the sensor's frame
        # the print is where the gel is pressed: it changes the frame there, not elsewhere
        h, w = image.shape[:2]
        pressed = cv2.resize((reading.depth > 0).astype(np.uint8), (w, h), cv2.INTER_NEAREST) > 0
        change = np.abs(image.astype(int) - reference.astype(int)).mean(axis=2)  # (H, W)
        assert 0.01 < pressed.mean() < 0.95, probe.name
        inside, outside = change[pressed].mean(), change[~pressed].mean()
        assert inside > 5.0 and inside > 3.0 * outside, (probe.name, inside, outside)
    # every contact image differs from the others: the probes leave different prints
    probes = [images[f"{p}_gelsight_mini"] for p in ("sphere", "edge", "pins")]
    for i, a in enumerate(probes):
        for b in probes[i + 1 :]:
            assert np.abs(a.astype(int) - b).mean() > 1.0
    overview = images["overview_gelsight_mini"]
    assert overview.shape[0] > 2 * 240 and overview.shape[1] > 6 * 320


def test_gallery_presses_are_simulated_and_balanced() -> None:
    """Each probe comes to rest on the gel carrying the force it was pressed with."""
    for probe in (*PROBES, *MARKER_PROBES):
        reading, _ = render_probe(probe, "gelsight_mini")
        assert reading.normal_force == pytest.approx(probe.force_n, rel=0.02), probe.name
        assert 0.0 < reading.depth.max() < 0.002
        np.testing.assert_allclose(reading.shear_force, probe.push_n, atol=0.02 * probe.force_n)
        assert reading.torque == pytest.approx(probe.torque_nm, abs=0.05 * 0.006 + 1e-9)


def test_command_line_writes_to_out(tmp_path: Path) -> None:
    main(["--out", str(tmp_path / "gallery"), "--profile", "digit"])
    written = sorted(p.name for p in (tmp_path / "gallery").iterdir())
    assert "overview_digit.png" in written and "sphere_digit.png" in written
    assert read_png(tmp_path / "gallery" / "sphere_digit.png").shape == (320, 240, 3)
