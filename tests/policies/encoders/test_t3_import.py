"""Importing T3's folder layout: a folder written the way T3 writes it (timm modules' pickled
state dicts) must give tokens equal to T3's own forward pass, computed here with timm."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import timm.models.vision_transformer as timm_vit
import torch
from torch import nn

from policies.encoders import Preprocessing, import_t3
from policies.errors import CheckpointError
from tests.policies.encoders.t3_folder import (
    IMAGE,
    PATCH,
    WIDTH,
    t3_decoders,
    t3_mae,
    t3_pose,
    t3_tokens,
    write_t3_folder,
)


@pytest.fixture(scope="module")
def t3_folder(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, timm_vit.VisionTransformer], nn.Module]:
    root = tmp_path_factory.mktemp("t3")
    encoders, trunk = write_t3_folder(root)
    return root, encoders, trunk


def test_imported_tokens_equal_t3s_forward(
    t3_folder: tuple[Path, dict[str, nn.Module], nn.Module],
) -> None:
    root, encoders, trunk = t3_folder
    imported = import_t3(root)
    model = imported.model
    assert model.config.width == WIDTH and model.config.heads == WIDTH // 64  # T3's heads rule
    assert (model.config.tokenizer_depth, model.config.trunk_depth) == (3, 4)
    assert (model.config.patch_size, model.config.image_size) == (PATCH, IMAGE)
    assert model.sensors == ["digit", "mini"]
    assert model.preprocessing["mini"] == Preprocessing(resize=37, crop=32)  # 256/224 of 32
    assert imported.skipped == [
        f"decoders/{name}.pth (name its kind to import it: --head {name}=KIND)"
        for name in ("cls_test", "mae", "pose_estimation_3d", "variance_estimation")
    ]
    x = torch.randn(2, 3, IMAGE, IMAGE)
    with torch.no_grad():
        for sensor in ("mini", "digit"):
            expected = t3_tokens(encoders[sensor], trunk, x)  # type: ignore[arg-type]
            torch.testing.assert_close(model.tokens(x, sensor), expected, rtol=1e-6, atol=1e-6)


def test_sensor_choice_heads_and_damage_are_reported(
    t3_folder: tuple[Path, dict[str, nn.Module], nn.Module], tmp_path: Path
) -> None:
    root, _, _ = t3_folder
    only = import_t3(root, num_heads=4, sensors=["mini"])
    assert only.model.sensors == ["mini"] and only.model.config.heads == 4
    assert "encoders/digit.pth (not selected)" in only.skipped
    with pytest.raises(
        CheckpointError, match=r"no encoder for \['wedge'\]; available: \['digit', 'mini'\]"
    ):
        import_t3(root, sensors=["wedge"])
    with pytest.raises(CheckpointError, match=r"heads \(3\) must divide width \(128\)"):
        import_t3(root, num_heads=3)
    broken = Path(shutil.copytree(root, tmp_path / "broken"))
    state = torch.load(broken / "encoders/mini.pth", weights_only=True)
    del state["blocks.1.attn.qkv.weight"]
    torch.save(state, broken / "encoders/mini.pth")
    with pytest.raises(
        CheckpointError,
        match=r"mini.pth: does not fit the trunk's architecture "
        r"\(missing: \['blocks.1.attn.qkv.weight'\]\)",
    ):
        import_t3(broken)
    with pytest.raises(CheckpointError, match="not a T3 checkpoint folder"):
        import_t3(tmp_path)


class _Payload:
    """Unpickling this would run code (`__reduce__`); weights_only must refuse it."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_pickled_code_is_refused(
    t3_folder: tuple[Path, dict[str, nn.Module], nn.Module],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, _, _ = t3_folder
    evil = Path(shutil.copytree(root, tmp_path / "evil"))
    torch.save({"x": _Payload()}, evil / "trunk.pth")
    with pytest.raises(CheckpointError, match="refusing to unpickle anything but tensors"):
        import_t3(evil)
    assert "pwned" not in capsys.readouterr().out


KINDS = {
    "cls_test": "classification",
    "variance_estimation": "regression",
    "pose_estimation_3d": "pose",
    "mae": "mae",
}


def test_imported_heads_equal_t3s_decoders(
    t3_folder: tuple[Path, dict[str, nn.Module], nn.Module],
) -> None:
    root, encoders, trunk = t3_folder
    imported = import_t3(root, sensors=["mini"], heads=KINDS)
    model, t3 = imported.model, t3_decoders()
    assert imported.skipped == ["encoders/digit.pth (not selected)"]
    configs = model.head_configs
    assert (configs["cls_test"].outputs, configs["cls_test"].hidden) == (5, (256, 128, 64))
    assert configs["variance_estimation"].dropout == 0.0  # no Dropout layers in the file
    assert configs["pose_estimation_3d"].hidden == (256, 64)
    assert (configs["mae"].decoder_width, configs["mae"].decoder_depth) == (64, 2)
    x, y = torch.randn(2, 3, IMAGE, IMAGE), torch.randn(2, 3, IMAGE, IMAGE)
    with torch.no_grad():
        tokens = t3_tokens(encoders["mini"], trunk, x)  # type: ignore[arg-type]
        other = t3_tokens(encoders["mini"], trunk, y)  # type: ignore[arg-type]
        expected = {
            "cls_test": t3["cls_test"].model(tokens[:, 0]),
            "variance_estimation": t3["variance_estimation"].model(tokens[:, 1:].mean(1)),
        }
        for task, value in expected.items():
            torch.testing.assert_close(model(x, "mini", task), value, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(
            model.pose(x, y, "mini", "pose_estimation_3d"),
            t3_pose(t3["pose_estimation_3d"], tokens, other),
            rtol=1e-5,
            atol=1e-5,
        )
        visible = tokens[:, :5]  # CLS + 4 kept patches of 16
        ids_restore = torch.stack([torch.randperm(16) for _ in range(2)])
        torch.testing.assert_close(
            model.heads["mae"](visible, ids_restore),
            t3_mae(t3["mae"], visible, ids_restore),
            rtol=1e-5,
            atol=1e-5,
        )


def test_decoder_mistakes_are_named(
    t3_folder: tuple[Path, dict[str, nn.Module], nn.Module],
) -> None:
    root, _, _ = t3_folder
    with pytest.raises(CheckpointError, match=r"pose_estimation_6d.pth: no such decoder"):
        import_t3(root, heads={"pose_estimation_6d": "pose"})
    with pytest.raises(CheckpointError, match=r"head kind 'segmentation'; allowed"):
        import_t3(root, heads={"cls_test": "segmentation"})
    with pytest.raises(CheckpointError, match=r"cls_test.pth: not a T3 pose decoder"):
        import_t3(root, heads={"cls_test": "pose"})
    with pytest.raises(CheckpointError, match=r"mae.pth: not a T3 classification decoder"):
        import_t3(root, heads={"mae": "classification"})
