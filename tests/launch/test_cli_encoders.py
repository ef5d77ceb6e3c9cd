"""`vitac encoders import-t3`: a T3 folder in, vitac's safetensors encoder out, same tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from launch.cli import main
from policies.encoders import import_t3, load_encoder
from tests.policies.encoders.t3_folder import IMAGE, write_t3_folder


def test_import_writes_an_encoder_that_gives_t3s_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "t3", tmp_path / "enc"
    write_t3_folder(src)
    assert main(["encoders", "import-t3", str(src), "--out", str(out), "--sensor", "mini"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("imported T3 encoder: width 128, 2 heads, 3 tokenizer + 4 trunk")
    assert "sensors mini" in lines[0]
    assert "not imported: decoders/cls_test.pth (name its kind" in lines[1]
    assert "not imported: encoders/digit.pth (not selected)" in lines[-2]
    assert lines[-1] == f"written: {out}"
    x = torch.randn(2, 3, IMAGE, IMAGE)
    with torch.no_grad():
        expected = import_t3(src).model.tokens(x, "mini")
        torch.testing.assert_close(load_encoder(out).tokens(x, "mini"), expected, rtol=0, atol=0)
    assert main(["encoders", "import-t3", str(src), "--out", str(out)]) == 2  # not overwritten
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists; choose a new path" in err


def test_named_decoders_become_heads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "t3", tmp_path / "enc"
    write_t3_folder(src)
    heads = ["--head", "cls_test=classification", "--head", "mae=mae"]
    assert main(["encoders", "import-t3", str(src), "--out", str(out), *heads]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == [
        "head cls_test: classification, 5 outputs",
        "head mae: mae, width 64, 2 blocks",
    ]
    assert set(load_encoder(out).heads) == {"cls_test", "mae"}
