"""`render_gallery` writes readable, non-trivial PNGs of each probe and an overview sheet."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sim.tactile_gallery import main, render_gallery


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
    ]
    images = {p.stem: read_png(p) for p in paths}
    for stem, image in images.items():
        if stem != "overview_gelsight_mini":
            assert image.shape == (240, 320, 3)
            assert image.std() > 5.0  # shaded, with markers: not a flat frame
    # every contact image differs from the others: the probes leave different prints
    probes = [images[f"{p}_gelsight_mini"] for p in ("sphere", "edge", "pins")]
    for i, a in enumerate(probes):
        for b in probes[i + 1 :]:
            assert np.abs(a.astype(int) - b).mean() > 1.0
    overview = images["overview_gelsight_mini"]
    assert overview.shape[0] > 2 * 240 and overview.shape[1] > 5 * 320


def test_command_line_writes_to_out(tmp_path: Path) -> None:
    main(["--out", str(tmp_path / "gallery"), "--profile", "digit"])
    written = sorted(p.name for p in (tmp_path / "gallery").iterdir())
    assert "overview_digit.png" in written and "sphere_digit.png" in written
    assert read_png(tmp_path / "gallery" / "sphere_digit.png").shape == (320, 240, 3)
