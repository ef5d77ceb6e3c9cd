"""What pretraining reads: few-sample subsets that nest, streams that resume in place, and
batches whose targets come from the right labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from policies.encoders import Preprocessing
from training.fota import FotaError, FotaSample, FotaSplit, FotaWriter, write_reference
from training.pretrain_data import (
    TASKS,
    Standardiser,
    Stream,
    Subset,
    label_array,
    needs_shear,
    to_batch,
)


def _split(root: Path, n: int = 40) -> FotaSplit:
    with FotaWriter(root, shard_size=7) as writer:
        for i in range(n):
            image = np.full((16, 16, 3), i, np.uint8)
            writer.add(f"s{i:03d}", image, {"contact_class": i % 4, "x_mm": i, "y_mm": -i})
    return FotaSplit(root)


def test_subsets_nest_for_one_seed_and_differ_between_seeds(tmp_path: Path) -> None:
    split = _split(tmp_path / "train")
    small, large = Subset(split, 5, seed=3), Subset(split, 20, seed=3)
    keys = [s.key for s in small.samples(seed=0)]
    assert small.count == 5 and len(set(keys)) == 5
    assert set(keys) <= {s.key for s in large.samples(seed=0)}
    assert set(keys) != {s.key for s in Subset(split, 5, seed=4).samples(seed=0)}
    every = {s.key for s in Subset(split, 40, seed=3).samples(seed=0)}
    assert len(every) == 40  # the whole split when asked for all of it
    with pytest.raises(FotaError, match="holds 40 samples; asked for 41"):
        Subset(split, 41, seed=0)


def test_a_subset_streams_every_epoch_in_a_new_order_and_shards_across_ranks(
    tmp_path: Path,
) -> None:
    subset = Subset(_split(tmp_path / "train"), 10, seed=0)
    first = [s.key for s in subset.samples(seed=1, epoch=0)]
    assert sorted(first) == sorted(s.key for s in subset.samples(seed=1, epoch=1))
    assert first != [s.key for s in subset.samples(seed=1, epoch=1)]
    ranks = [[s.key for s in subset.samples(seed=1, rank=r, world_size=2)] for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == sorted(first) and not set(ranks[0]) & set(ranks[1])


def test_a_stream_skipped_ahead_continues_where_an_unbroken_one_is(tmp_path: Path) -> None:
    subset = Subset(_split(tmp_path / "train"), 10, seed=0)
    unbroken = Stream(subset, 4, seed=2)
    for _ in range(3):
        unbroken.next()  # 12 samples: into the second epoch
    skipped = Stream(subset, 4, seed=2)
    skipped.skip(3)
    assert [s.key for s in skipped.next()] == [s.key for s in unbroken.next()]


def test_batches_carry_the_task_labels_standardised(tmp_path: Path) -> None:
    samples = list(_split(tmp_path / "train", 8).samples(seed=0, shuffle=False))
    contract = Preprocessing(resize=8, crop=8)
    shape = to_batch(samples, TASKS["shape"], contract, None, tmp_path)
    assert shape.images.shape == (8, 3, 8, 8) and shape.targets.tolist() == [0, 1, 2, 3] * 2
    scaler = Standardiser(np.array([1.0, -1.0]), np.array([2.0, 4.0]))
    location = to_batch(samples, TASKS["location"], contract, scaler, tmp_path)
    assert location.targets[3].tolist() == [1.0, -0.5]  # (3 - 1) / 2, (-3 + 1) / 4


def test_difference_batches_read_a_sample_against_its_own_base_where_it_has_one(
    tmp_path: Path,
) -> None:
    """A grasp sample (training.tactile_data, grasp=True) is read against its base image,
    the others against the data set's resting pad."""
    rest = np.full((16, 16, 3), 100, np.uint8)
    write_reference(tmp_path, rest)
    with FotaWriter(tmp_path / "train", shard_size=7) as writer:
        writer.add(
            "held",
            np.full((16, 16, 3), 180, np.uint8),
            {"i": 0},
            base=np.full((16, 16, 3), 170, np.uint8),
        )
        writer.add("plain", np.full((16, 16, 3), 180, np.uint8), {"i": 1})
    samples = list(FotaSplit(tmp_path / "train").samples(seed=0, shuffle=False))
    contract = Preprocessing(resize=8, crop=8, difference=True, mean=(0.0,) * 3, std=(1.0,) * 3)
    for batch in (samples, samples[:1], samples[1:]):  # mixed, all with a base, none with one
        x = to_batch(batch, TASKS["mae"], contract, None, tmp_path / "train").images
        expected = [10 / 255 if s.base is not None else 80 / 255 for s in batch]
        assert x.mean(dim=(1, 2, 3)).tolist() == pytest.approx(expected, abs=0.01)


def _pushed(root: Path, rows: list[dict[str, float]]) -> list[FotaSample]:
    with FotaWriter(root, shard_size=7) as writer:
        for i, labels in enumerate(rows):
            writer.add(f"p{i}", np.zeros((16, 16, 3), np.uint8), labels)
    return list(FotaSplit(root).samples(seed=0, shuffle=False))


def test_unit_free_targets_are_the_push_and_twist_per_newton_of_press(tmp_path: Path) -> None:
    """A gel twice as stiff shows the same push-to-press ratio: the derived targets are the
    stored push and twist divided by the press force, and the depth is stored as is."""
    press = {"normal_force_n": 2.0, "shear_x_n": 0.5, "shear_y_n": -1.0, "torque_nmm": 3.0}
    samples = _pushed(tmp_path / "train", [press | {"depth_mm": 0.7}])
    assert label_array(samples, TASKS["push_share"].labels, tmp_path).tolist() == [[0.25, -0.5]]
    assert label_array(samples, TASKS["twist_arm"].labels, tmp_path).tolist() == [[1.5]]
    assert label_array(samples, TASKS["depth"].labels, tmp_path).tolist() == [[0.7]]
    assert needs_shear(["shape", "push_share"]) and needs_shear(["twist_arm"])
    assert not needs_shear(["shape", "location", "depth", "force"])


def test_a_derived_target_names_the_stored_label_it_lacks_or_cannot_divide_by(
    tmp_path: Path,
) -> None:
    samples = _pushed(tmp_path / "a", [{"normal_force_n": 1.0, "shear_y_n": 0.1}])
    with pytest.raises(FotaError, match=r"sample 'p0' has no \['shear_x_n'\]"):
        label_array(samples, TASKS["push_share"].labels, tmp_path)
    samples = _pushed(tmp_path / "b", [{"normal_force_n": 0.0, "torque_nmm": 1.0}])
    with pytest.raises(FotaError, match=r"has normal_force_n 0\.0: twist_arm_mm needs it > 0"):
        label_array(samples, TASKS["twist_arm"].labels, tmp_path)
