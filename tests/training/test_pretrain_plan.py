"""Which pair each pretraining step trains: MAE first, then the supervised pairs not held
out, drawn by the square root of their sizes; held-out pairs are still scored."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest

from policies.errors import CheckpointError
from training.pretrain_data import Source
from training.pretrain_plan import (
    PretrainConfig,
    check_config,
    config_differences,
    draw,
    markerless_sets,
    pairs,
    trained_pairs,
    validated_pairs,
)


class _Sized:
    def __init__(self, count: int) -> None:
        self.count, self.split_dir = count, Path()


def _sources(**counts: int) -> dict[str, Source]:
    return {name: cast(Any, _Sized(n)) for name, n in counts.items()}


def test_pairs_are_drawn_by_stage_and_by_the_square_root_of_their_size() -> None:
    config = PretrainConfig(tasks=["shape", "location"], mae_steps=10, supervised_steps=8000)
    sources = _sources(sim_mini=3200, sim_digit=800)  # 100 and 25 batches of 32
    assert {draw(config, sources, s) for s in range(10)} == set(pairs(config, 0))
    assert all(task == "mae" for _, task in pairs(config, 9))
    drawn = Counter(draw(config, sources, s) for s in range(10, 8010))
    assert set(drawn) == {(d, t) for d in sources for t in ("shape", "location")}
    for task in ("shape", "location"):  # sqrt(100) : sqrt(25) = 2 : 1
        ratio = drawn[("sim_mini", task)] / drawn[("sim_digit", task)]
        assert 1.8 < ratio < 2.2, ratio
    assert draw(config, sources, 500) == draw(config, sources, 500)  # a function of the step


def test_a_task_weight_multiplies_its_pairs_draws_and_must_name_a_task() -> None:
    config = PretrainConfig(
        tasks=["shape", "location"], mae_steps=0, supervised_steps=8000,
        task_weights={"location": 3.0},
    )  # fmt: skip
    sources = _sources(sim_mini=3200, sim_digit=800)
    drawn = Counter(draw(config, sources, s) for s in range(8000))
    for dataset in sources:  # 3 : 1 on each data set; sqrt of the size still across them
        ratio = drawn[(dataset, "location")] / drawn[(dataset, "shape")]
        assert 2.7 < ratio < 3.3, ratio
    ratio = drawn[("sim_mini", "location")] / drawn[("sim_digit", "location")]
    assert 1.8 < ratio < 2.2, ratio
    check_config(config)
    with pytest.raises(CheckpointError, match=r"task_weights: \['force'\] are not tasks"):
        check_config(config.model_copy(update={"task_weights": {"force": 2.0}}))
    with pytest.raises(ValueError, match="greater than 0"):
        PretrainConfig(task_weights={"shape": 0.0})
    with pytest.raises(ValueError, match="finite number"):
        PretrainConfig(task_weights={"shape": float("inf")})


def test_a_setting_added_since_a_checkpoint_was_saved_differs_only_from_its_default() -> None:
    config = PretrainConfig(tasks=["shape"])
    saved = config.model_dump(mode="json")
    del saved["task_weights"]  # a checkpoint saved before the setting existed
    assert config_differences(saved, config) == []
    weighted = config.model_copy(update={"task_weights": {"shape": 2.0}})
    assert config_differences(saved, weighted) == ["pretrain.task_weights.shape: '(absent)' -> 2.0"]
    watched = config.model_copy(update={"val_every": 7, "compile": "on"})
    assert config_differences(saved, watched) == []
    del saved["augment"]["enabled"]  # inside a nested setting too
    assert config_differences(saved, config) == []
    saved["sampling"] = "cube root"  # not a value of this vitac: every difference shown
    assert config_differences(saved, config) == [
        "pretrain.augment.enabled: '(absent)' -> False",
        "pretrain.sampling: 'cube root' -> 'sqrt'",
        "pretrain.task_weights: '(absent)' -> {}",
    ]


def test_held_out_pairs_are_scored_but_never_trained() -> None:
    config = PretrainConfig(tasks=["shape", "force"], mae_steps=0, exclude=["sim_digit/force"])
    assert ("sim_digit", "force") not in trained_pairs(config)
    assert ("sim_digit", "force") in validated_pairs(config)
    assert ("sim_mini", "mae") not in validated_pairs(config)  # no stage I: no MAE head trained
    sources = _sources(sim_mini=100, sim_digit=100)
    assert ("sim_digit", "force") not in {draw(config, sources, s) for s in range(500)}


def test_a_push_or_twist_on_a_gel_without_markers_is_refused() -> None:
    """DIGIT's gel has no markers: its images do not show shear, so training it is noise."""
    tasks = ["force", "shear", "twist"]
    with pytest.raises(CheckpointError, match=r"\['sim_digit/shear', 'sim_digit/twist'\].*exclude"):
        check_config(PretrainConfig(tasks=tasks))
    check_config(PretrainConfig(tasks=tasks, exclude=["sim_digit/shear", "sim_digit/twist"]))
    assert markerless_sets() == {"sim_digit"}
