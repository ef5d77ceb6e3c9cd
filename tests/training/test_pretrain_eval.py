"""Scoring and target units: one standardiser per task, fitted on the pairs that train it or
taken from the checkpoint, and scores in label units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from policies.encoders import TactileTransformer, TransformerConfig
from policies.errors import CheckpointError
from training.fota import FotaSplit, FotaWriter
from training.pretrain_data import TASKS
from training.pretrain_eval import check_targets, fit_targets, targets_metadata, validate


def _split(root: Path, offset: float, n: int = 6) -> FotaSplit:
    with FotaWriter(root, shard_size=4) as writer:
        for i in range(n):
            labels = {"contact_class": i % 4, "x_mm": offset + i, "y_mm": 0.0, "normal_force_n": i}
            writer.add(f"s{i}", np.full((16, 16, 3), 9 * i, np.uint8), labels)
    return FotaSplit(root)


def test_a_task_is_standardised_on_the_data_sets_that_train_it(tmp_path: Path) -> None:
    sources = {"sim_a": _split(tmp_path / "a", 0.0), "sim_b": _split(tmp_path / "b", 100.0)}
    only_a = fit_targets([("sim_a", "location"), ("sim_a", "shape")], sources, {})
    assert set(only_a) == {"location"}  # classification needs none
    assert only_a["location"].mean.tolist() == [2.5, 0.0]
    assert only_a["location"].std[1] == 1.0  # a constant target is not divided by zero
    both = fit_targets([("sim_a", "location"), ("sim_b", "location")], sources, {})
    assert both["location"].mean[0] == pytest.approx(52.5)
    saved = targets_metadata({"location": only_a["location"]})
    kept = fit_targets([("sim_b", "location")], sources, saved)  # the checkpoint's units win
    assert kept["location"].mean.tolist() == [2.5, 0.0]
    with pytest.raises(CheckpointError, match=r"tasks \['force'\] are trained on no data set"):
        check_targets([("sim_a", "force"), ("sim_a", "shape")], only_a)


def test_validation_scores_in_label_units(tmp_path: Path) -> None:
    vals = {"sim_mini": _split(tmp_path / "val", 0.0)}
    config = TransformerConfig(
        width=16, heads=2, tokenizer_depth=1, trunk_depth=1, image_size=16, patch_size=8
    )
    heads = {t: TASKS[t].head.model_copy(update={"outputs": 2}) for t in ("location",)}
    heads["shape"] = TASKS["shape"].head
    model = TactileTransformer(config, ["mini"], heads)
    with torch.no_grad():  # the location head answers (0, 0) standardised: the mean
        model.heads["location"].model[-1].weight.zero_()
        model.heads["location"].model[-1].bias.zero_()
    scalers = fit_targets([("sim_mini", "location")], {"sim_mini": vals["sim_mini"]}, {})
    report = validate(model, [("sim_mini", "location")], vals, scalers, 4, 0.5, 0)
    x = np.arange(6.0)
    expected = np.sqrt(((x - x.mean()) ** 2).mean() / 2)  # x's spread; y is exact
    assert report["sim_mini/location"]["rmse"] == pytest.approx(expected, rel=1e-6)
