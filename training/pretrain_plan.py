"""What a pretraining run is: its settings, and which (data set, task) pair each step
trains. Every draw is a function of (seed, step), so a resumed run can replay the draws it
did before to put each data set's stream back where it was."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policies.encoders import TransformerConfig
from policies.encoders.encoder_checkpoint import CONFIG_FILE, FORMAT
from policies.encoders.preprocess import Preprocessing
from policies.errors import CheckpointError
from policies.files import read_config
from training.augment import AugmentConfig
from training.pretrain_data import TASKS, Source
from training.resume import flat_diff

Pair = tuple[str, str]  # (data set, task)
Weight = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # a finite draw weight
DIFFERENCE_STD = 0.25  # pretrain.difference: differences scaled 4x (about unit spread at a press)


class PretrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: TransformerConfig = TransformerConfig(
        width=96, heads=3, tokenizer_depth=2, trunk_depth=4, patch_size=8, image_size=64
    )  # images are resized and centre-cropped to model.image_size
    difference: bool = Field(
        False,
        description="read each image as its difference from the data set's resting pad "
        "(its reference image); marker motion then shows as signed pairs of spots",
    )
    datasets: list[str] = ["sim_mini", "sim_digit"]
    tasks: list[str] = ["shape", "location", "force"]
    mae_steps: int = Field(300, ge=0, description="stage I")
    supervised_steps: int = Field(600, ge=0, description="stage II")
    mask_ratio: float = Field(0.4, gt=0, lt=1)
    sampling: Literal["sqrt", "equal", "inverse"] = "sqrt"
    task_weights: dict[str, Weight] = Field(
        default_factory=dict,
        description="multiply the draw weight of every pair of a task, e.g. {shear = 4}: more "
        "of stage II's steps on it (1 for the tasks not named)",
    )
    batch_size: int = Field(32, ge=1)
    lr: float = Field(5e-4, gt=0)
    head_lr_scale: float = Field(1.0, gt=0, description="heads' lr = lr x this")
    weight_decay: float = Field(0.1, ge=0)
    warmup_steps: int = Field(30, ge=0)
    val_every: int = Field(150, ge=1)
    checkpoint_every: int = Field(150, ge=1)
    seed: int = Field(0, ge=0)
    init: str | None = Field(
        None, description="start from this encoder directory; its architecture must be model"
    )
    train_samples: int | None = Field(
        None, ge=1, description="train on this many samples of each data set, not all"
    )
    exclude: list[str] = Field(
        default_factory=list, description="'data set/task' pairs stage II leaves out"
    )
    freeze: bool = Field(False, description="train the heads only")
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="bf16 autocast; auto: on CUDA, fp32 on the CPU"
    )
    compile: Literal["auto", "on", "off"] = Field(
        "auto", description="torch.compile the tokenizers and trunk; auto: on CUDA"
    )

    @property
    def steps(self) -> int:
        return self.mae_steps + self.supervised_steps


def preprocessing(config: PretrainConfig) -> Preprocessing:
    """How a new run's tokenizers take their images: resized and centre-cropped to the model's
    size; with `difference`, signed differences from the resting pad, in [-1, 1]."""
    size = config.model.image_size
    if not config.difference:
        return Preprocessing(resize=size, crop=size)
    return Preprocessing(resize=size, crop=size, difference=True, mean=(0.0,) * 3,
                         std=(DIFFERENCE_STD,) * 3)  # fmt: skip


# settings that change how a run is watched or run, not what it trains
UNTRAINED_KEYS = ("pretrain.val_every", "pretrain.checkpoint_every", "pretrain.compile")


def saved_metadata(checkpoint: Path) -> dict[str, Any]:
    """A pretraining checkpoint's metadata, holding at least the settings it was made with
    (`pretrain`) and its `step`; CheckpointError for any other directory (a policy run's
    checkpoint, an imported encoder, a checkpoint saved without them)."""
    metadata = read_config(checkpoint, CONFIG_FILE, FORMAT, "encoder").get("metadata")
    if not isinstance(metadata, dict) or not {"pretrain", "step"} <= set(metadata):
        raise CheckpointError(
            f"{checkpoint}: not a pretraining checkpoint (its {CONFIG_FILE} records no "
            "pretraining settings and step)"
        )
    return metadata


def config_differences(saved: dict[str, Any], config: PretrainConfig) -> list[str]:
    """The settings (`pretrain.key: before -> now`) in which the pretraining a checkpoint
    recorded (`saved`: its metadata's `pretrain`) differs from `config` in what it trains.
    A setting added since it was saved counts at its default."""
    try:
        filled = PretrainConfig.model_validate(saved).model_dump(mode="json")
    except ValidationError:
        filled = saved  # a setting renamed or removed since: every difference shown
    problems = flat_diff(filled, config.model_dump(mode="json"), "pretrain")
    return [p for p in problems if not p.startswith(UNTRAINED_KEYS)]


def pretrained_as(checkpoint: Path, config: PretrainConfig, refusal: str) -> dict[str, Any]:
    """The metadata of a pretraining checkpoint made with `config`'s settings (`saved_metadata`);
    CheckpointError `refusal` with `{differs}` filled in (`key: before -> now; ...`) when it
    was made with others (filled by replacement: a path in `refusal` may hold braces)."""
    metadata = saved_metadata(checkpoint)
    differs = config_differences(metadata["pretrain"], config)
    if differs:
        raise CheckpointError(refusal.replace("{differs}", "; ".join(differs)))
    return metadata


def check_config(config: PretrainConfig) -> None:
    unknown = [t for t in config.tasks if t not in TASKS or t == "mae"]
    if unknown:
        raise CheckpointError(f"unknown tasks {unknown}; available: {sorted(set(TASKS) - {'mae'})}")
    every = {f"{d}/{t}" for d in config.datasets for t in config.tasks}
    stray = sorted(set(config.exclude) - every)
    if stray:
        raise CheckpointError(
            f"pretrain.exclude: {stray} are not pairs of this run; its pairs: {sorted(every)}"
        )
    unweighed = sorted(set(config.task_weights) - set(config.tasks))
    if unweighed:
        raise CheckpointError(
            f"pretrain.task_weights: {unweighed} are not tasks of this run; "
            f"its tasks: {config.tasks}"
        )
    if config.supervised_steps and not trained_pairs(config):
        raise CheckpointError("pretrain.exclude leaves stage II no pair to train")
    unseen = [f"{d}/{t}" for d, t in trained_pairs(config)
              if TASKS[t].needs_markers and d in markerless_sets()]  # fmt: skip
    if unseen:
        raise CheckpointError(
            f"pretrain: {unseen}: these sensors' gels have no markers, so their images do not "
            f"show a sideways push or twist (nothing to learn); add them to pretrain.exclude"
        )


def markerless_sets() -> set[str]:
    """The simulated data sets (`sim_<sensor>`) whose gel has no markers."""
    from sim.tactile import PROFILES  # the sim only when asked: pretraining runs without it
    from training.tactile_data import SENSORS

    return {f"sim_{name}" for name, profile in SENSORS.items() if not PROFILES[profile].markers}


def pairs(config: PretrainConfig, step: int) -> list[Pair]:
    """The (data set, task) pairs trained at `step`: MAE on every data set in stage I, then
    every supervised pair not excluded."""
    if step < config.mae_steps:
        return [(d, "mae") for d in config.datasets]
    return trained_pairs(config)


def trained_pairs(config: PretrainConfig) -> list[Pair]:
    """Stage II's pairs."""
    every = [(d, t) for d in config.datasets for t in config.tasks]
    return [(d, t) for d, t in every if f"{d}/{t}" not in config.exclude]


def validated_pairs(config: PretrainConfig) -> list[Pair]:
    """What validation scores: the MAE pairs when stage I runs, and every supervised pair,
    excluded ones too (untrained on that data set: their score is zero-shot transfer)."""
    mae = [(d, "mae") for d in config.datasets] if config.mae_steps else []
    return mae + [(d, t) for d in config.datasets for t in config.tasks]


def draw(config: PretrainConfig, sources: dict[str, Source], step: int) -> Pair:
    candidates = pairs(config, step)
    sizes = np.array([max(1, sources[d].count // config.batch_size) for d, _ in candidates], float)
    weights = {"sqrt": np.sqrt(sizes), "equal": np.ones_like(sizes), "inverse": 1.0 / sizes}[
        config.sampling
    ] * np.array([config.task_weights.get(t, 1.0) for _, t in candidates])
    index = np.random.default_rng([config.seed, step]).choice(
        len(candidates), p=weights / weights.sum()
    )
    return candidates[int(index)]


def draws_before(config: PretrainConfig, sources: dict[str, Source], start: int) -> dict[str, int]:
    counts = dict.fromkeys(config.datasets, 0)
    for step in range(start):
        counts[draw(config, sources, step)[0]] += 1
    return counts
