"""What the tactile pretraining reads: FoTa data sets, the tasks their labels define, and
batch streams that a resumed run can fast-forward to exactly where it stopped.

A data set `sim_<sensor>` (from `vitac encoders make-data`) serves its sensor's tokenizer;
its tasks come from its labels (TASKS). A stream yields batches of one data set's train
split forever, epoch after epoch (epoch e reads with seed (seed, e)); `skip(n)` passes over n
batches, which is how a resume restores the position without saving iterator state.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import Tensor

from policies.encoders.heads import HeadConfig
from policies.encoders.preprocess import Preprocessing, crop_resize, normalise
from training.augment import AugmentConfig, augment
from training.fota import FotaError, FotaSample, FotaSplit, read_reference

Metric = Literal["accuracy", "rmse", "loss"]


@dataclass(frozen=True)
class Task:
    """How a head is trained from a data set's labels, and how it is scored."""

    head: HeadConfig
    labels: tuple[str, ...]  # label keys: the class index, or the regression targets
    metric: Metric
    unit: str  # of the metric: "", "mm", "N", ...
    crop_safe: bool = False  # labels survive a random resized crop (training.augment)
    needs_markers: bool = False  # the images show the labels only on a gel with markers


TASKS: dict[str, Task] = {
    "mae": Task(
        HeadConfig(kind="mae", decoder_width=64, decoder_depth=2, decoder_heads=4),
        (),
        "loss",
        "",
        crop_safe=True,
    ),
    "shape": Task(
        HeadConfig(kind="classification", outputs=5),  # tactile_data.GRASP_SHAPES (SHAPES: 4)
        ("contact_class",),
        "accuracy",
        "",
        crop_safe=True,
    ),
    "location": Task(HeadConfig(kind="regression", outputs=2), ("x_mm", "y_mm"), "rmse", "mm"),
    "force": Task(HeadConfig(kind="regression", outputs=1), ("normal_force_n",), "rmse", "N"),
    # the push along the pad and the twist about its normal: data made with sideways pushes
    # (`vitac encoders make-data --shear`; otherwise both measure about 0). Only markers show
    # them: a ridge regression on a GelSight Mini's pixels reads both, on a DIGIT's (no
    # markers) neither
    "shear": Task(
        HeadConfig(kind="regression", outputs=2),
        ("shear_x_n", "shear_y_n"),
        "rmse",
        "N",
        needs_markers=True,
    ),
    "twist": Task(
        HeadConfig(kind="regression", outputs=1),
        ("torque_nmm",),
        "rmse",
        "N mm",
        needs_markers=True,
    ),
    # defined across sensor units (DERIVED, below)
    "depth": Task(HeadConfig(kind="regression", outputs=1), ("depth_mm",), "rmse", "mm"),
    "push_share": Task(
        HeadConfig(kind="regression", outputs=2),
        ("push_share_x", "push_share_y"),
        "rmse",
        "N/N",
        needs_markers=True,
    ),
    "twist_arm": Task(
        HeadConfig(kind="regression", outputs=1),
        ("twist_arm_mm",),
        "rmse",
        "mm",
        needs_markers=True,
    ),
}


# Targets that stay defined across sensor units (`make-data --unit-spread`): a gel twice as
# stiff shows a press half as deep and a push half as far, so the force and the push in
# newtons are not in its image; the indentation depth is, and so is the push (and the twist)
# per newton of press, which stiffness scales alike. Each is computed from stored labels
# (derived label -> (numerator, denominator)), so every data set made so far serves them.
DERIVED: dict[str, tuple[str, str]] = {
    "push_share_x": ("shear_x_n", "normal_force_n"),
    "push_share_y": ("shear_y_n", "normal_force_n"),
    "twist_arm_mm": ("torque_nmm", "normal_force_n"),  # N mm per N
}
PUSH_TASKS = frozenset({"shear", "twist", "push_share", "twist_arm"})


def needs_shear(tasks: Sequence[str]) -> bool:
    """Whether pretraining `tasks` need data made with sideways pushes (PUSH_TASKS)."""
    return bool(PUSH_TASKS & set(tasks))


def sensor_of(dataset: str) -> str:
    """`sim_mini` -> `mini`: the tokenizer a data set's images go through."""
    return dataset.removeprefix("sim_")


@dataclass
class Batch:
    images: Tensor  # (B, 3, S, S) float, preprocessed
    targets: Tensor  # (B,) int64 class indices, or (B, K) float32 standardised targets

    def to(self, device: str | torch.device) -> Batch:
        return Batch(self.images.to(device), self.targets.to(device))


class Standardiser:
    """Regression targets to zero mean, unit spread, from a train split's labels."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = mean, np.where(std > 1e-9, std, 1.0)

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardiser:
        return cls(values.mean(axis=0), values.std(axis=0))

    def forward(self, values: np.ndarray) -> np.ndarray:
        return np.asarray((values - self.mean) / self.std)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values * self.std + self.mean)


def label_array(samples: list[FotaSample], keys: tuple[str, ...], where: Path) -> np.ndarray:
    """(N, len(keys)) float64 labels; FotaError naming the sample that lacks one."""
    stored = list(dict.fromkeys(k for key in keys for k in DERIVED.get(key, (key,))))
    rows = []
    for sample in samples:
        missing = [k for k in stored if k not in sample.labels]
        if missing:
            raise FotaError(f"{where / sample.shard}: sample {sample.key!r} has no {missing}")
        rows.append([_label(sample, k, where) for k in keys])
    return np.asarray(rows, dtype=np.float64).reshape(len(samples), len(keys))


def _label(sample: FotaSample, key: str, where: Path) -> float:
    if key not in DERIVED:
        return float(sample.labels[key])
    numerator, denominator = DERIVED[key]
    below = float(sample.labels[denominator])
    if not below > 0.0:
        raise FotaError(
            f"{where / sample.shard}: sample {sample.key!r} has {denominator} {below}: "
            f"{key} needs it > 0"
        )
    return float(sample.labels[numerator]) / below


def to_batch(
    samples: list[FotaSample],
    task: Task,
    contract: Preprocessing,
    scaler: Standardiser | None,
    where: Path,
    augmentation: AugmentConfig | None = None,
) -> Batch:
    """Preprocessed images (augmented when `augmentation` is on) and the task's targets."""
    images = torch.from_numpy(np.stack([s.image for s in samples]))  # (B, H, W, 3) uint8
    reference = _references(samples, where) if contract.difference else None
    x = crop_resize(images, contract, reference)
    if augmentation is not None and augmentation.enabled:
        x = augment(x, augmentation, geometric=task.crop_safe, signed=contract.difference)
    x = normalise(x, contract)
    if task.metric == "accuracy":
        targets = torch.from_numpy(label_array(samples, task.labels, where)[:, 0].astype(np.int64))
    elif task.labels:
        values = label_array(samples, task.labels, where)
        scaled = scaler.forward(values) if scaler is not None else values
        targets = torch.from_numpy(scaled.astype(np.float32))
    else:
        targets = torch.zeros(len(samples))
    return Batch(x, targets)


def _references(samples: list[FotaSample], where: Path) -> Tensor:
    """(H, W, 3) uint8: the data set's resting pad, or (B, H, W, 3): each sample read against
    its own base image where it has one (`training.fota`), else against that resting pad."""
    if all(s.base is None for s in samples):
        return _reference(where.parent)
    bases = [s.base if s.base is not None else _reference(where.parent).numpy() for s in samples]
    return torch.from_numpy(np.stack(bases))


@functools.lru_cache(maxsize=16)
def _reference(set_dir: Path) -> Tensor:
    return torch.from_numpy(read_reference(set_dir))


class Source(Protocol):
    """What a stream reads: a whole split (FotaSplit) or a few of its samples (Subset)."""

    @property
    def split_dir(self) -> Path: ...

    @property
    def count(self) -> int: ...

    def samples(
        self, *, seed: int, epoch: int = 0, rank: int = 0, world_size: int = 1
    ) -> Iterator[FotaSample]: ...


class Subset:
    """`size` samples of a split, held in memory: the few-sample training sets of fine-tuning.
    They are the first `size` of the split read in a seeded shuffled order, so for one seed
    the 10-sample set lies inside the 100-sample set, which lies inside the 1000-sample set."""

    def __init__(self, split: FotaSplit, size: int, seed: int) -> None:
        if not 1 <= size <= split.count:
            raise FotaError(f"{split.split_dir}: holds {split.count} samples; asked for {size}")
        self.split_dir = split.split_dir
        self._held = list(itertools.islice(split.samples(seed=seed), size))

    @property
    def count(self) -> int:
        return len(self._held)

    def samples(
        self, *, seed: int, epoch: int = 0, rank: int = 0, world_size: int = 1, **_: Any
    ) -> Iterator[FotaSample]:
        order = np.random.default_rng([seed, epoch]).permutation(len(self._held))
        for i in order[rank::world_size]:
            yield self._held[int(i)]


class Stream:
    """Endless batches of `batch_size` samples from one source, epoch after epoch."""

    def __init__(
        self, split: Source, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.split, self.batch_size, self.seed = split, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self._samples = self._endless()

    def next(self) -> list[FotaSample]:
        return [next(self._samples) for _ in range(self.batch_size)]

    def skip(self, batches: int) -> None:
        for _ in range(batches * self.batch_size):
            next(self._samples)

    def _endless(self) -> Iterator[FotaSample]:
        epoch = 0
        while True:
            yield from self.split.samples(
                seed=self.seed, epoch=epoch, rank=self.rank, world_size=self.world_size
            )
            epoch += 1
