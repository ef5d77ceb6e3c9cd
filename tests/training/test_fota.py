from __future__ import annotations

import io
import re
import tarfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from training.fota import (
    FotaDataset,
    FotaError,
    FotaSample,
    FotaSplit,
    FotaWriter,
    read_reference,
    write_reference,
)

H, W = 24, 32


def _image(i: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB, different for every index: flat colours and a bar whose width varies."""
    image = np.empty((H, W, 3), np.uint8)
    image[...] = (10 * i % 250, 240 - 7 * i % 200, 60)
    image[:, : 8 * (1 + i % 3), 2] = 200
    return image


def _labels(i: int) -> dict[str, object]:
    return {"index": i, "contact_class": i % 3, "object_name": f"obj-{i}", "x_mm": i / 4}


def _write(split_dir: Path, n: int = 25, shard_size: int = 10) -> FotaSplit:
    with FotaWriter(split_dir, shard_size=shard_size) as writer:
        for i in range(n):
            writer.add(f"s{i:03d}", _image(i), _labels(i))
    return FotaSplit(split_dir)


def _keys(samples: Iterable[FotaSample]) -> list[str]:
    return [sample.key for sample in samples]


def _raw_split(split_dir: Path, members: list[tuple[str, bytes]], count: int) -> FotaSplit:
    """A split of one shard written member by member, for damage the writer never makes."""
    split_dir.mkdir()
    with tarfile.open(split_dir / "data-000000.tar", "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (split_dir / "count.txt").write_text(f"{count}\n")
    return FotaSplit(split_dir)


def _jpeg(i: int) -> bytes:
    return cv2.imencode(".jpg", _image(i))[1].tobytes()


def test_round_trip_keeps_labels_exactly_and_images_within_jpeg_loss(tmp_path: Path) -> None:
    split = _write(tmp_path / "digit" / "train")
    assert [p.name for p in split.shards] == [f"data-00000{i}.tar" for i in range(3)]
    assert split.count == 25 and split.verify() == 25
    written = sorted(p.name for p in (tmp_path / "digit" / "train").iterdir())
    assert written == ["count.txt", *(p.name for p in split.shards)]  # no temporary files left
    samples = list(split.samples(seed=0, shuffle=False))
    assert [s.key for s in samples] == [f"s{i:03d}" for i in range(25)]  # stored order
    assert Counter(s.shard for s in samples) == {
        "data-000000.tar": 10,
        "data-000001.tar": 10,
        "data-000002.tar": 5,
    }
    for i, sample in enumerate(samples):
        assert sample.labels == _labels(i)
        assert sample.image.shape == (H, W, 3) and sample.image.dtype == np.uint8
        assert np.abs(sample.image.astype(int) - _image(i)).mean() < 3  # RGB, not BGR


def test_readers_across_ranks_and_workers_see_every_sample_once(tmp_path: Path) -> None:
    split = _write(tmp_path / "train", n=25, shard_size=5)  # 5 shards for 4 readers
    for shuffle, epoch in [(True, 0), (True, 1), (False, 0)]:
        seen: list[str] = []
        for rank in range(2):
            for worker in range(2):
                keys = _keys(
                    split.samples(
                        seed=7,
                        epoch=epoch,
                        shuffle=shuffle,
                        shuffle_buffer=4,
                        rank=rank,
                        world_size=2,
                        worker=worker,
                        num_workers=2,
                    )
                )
                assert keys, "every reader gets at least one shard"
                seen += keys
        assert sorted(seen) == [f"s{i:03d}" for i in range(25)]  # each exactly once


def test_shuffling_is_deterministic_per_seed_and_epoch_and_off_means_stored_order(
    tmp_path: Path,
) -> None:
    split = _write(tmp_path / "train", n=25, shard_size=5)
    first = _keys(split.samples(seed=3, epoch=0, shuffle_buffer=8))
    assert first == _keys(split.samples(seed=3, epoch=0, shuffle_buffer=8))
    assert first != _keys(split.samples(seed=3, epoch=1, shuffle_buffer=8))
    assert first != _keys(split.samples(seed=4, epoch=0, shuffle_buffer=8))
    stored = [f"s{i:03d}" for i in range(25)]
    assert first != stored and sorted(first) == stored
    assert _keys(split.samples(seed=3, epoch=5, shuffle=False)) == stored
    for epoch in (0, 1):  # with a buffer of one, whole shards in the order drawn for the epoch
        shards = np.random.default_rng([3, epoch]).permutation(5)
        expected = [f"s{5 * shard + i:03d}" for shard in shards for i in range(5)]
        assert _keys(split.samples(seed=3, epoch=epoch, shuffle_buffer=1)) == expected
    one = _write(tmp_path / "one-shard", n=25, shard_size=25)  # the buffer alone varies too
    assert _keys(one.samples(seed=3, epoch=0)) != _keys(one.samples(seed=3, epoch=1))
    # Without shuffling, reader 1 of 2 reads shards 1 and 3, in stored order.
    second = _keys(split.samples(seed=3, shuffle=False, worker=1, num_workers=2))
    assert second == [f"s{i:03d}" for i in [*range(5, 10), *range(15, 20)]]


def test_more_readers_than_shards_is_refused(tmp_path: Path) -> None:
    split = _write(tmp_path / "train")  # 3 shards
    with pytest.raises(FotaError, match=r"3 shards for 4 readers.*fewer workers"):
        next(split.samples(seed=0, world_size=2, rank=1, num_workers=2))


def _truncate_at_a_header(path: Path) -> None:
    with tarfile.open(path) as tar:
        offset = tar.getmembers()[4].offset  # a whole number of samples before it
    path.write_bytes(path.read_bytes()[:offset])


def _cut_inside_a_labels_header(path: Path) -> None:
    with tarfile.open(path) as tar:
        offset = tar.getmembers()[5].offset  # k2.json: its image is whole, its labels are not
    path.write_bytes(path.read_bytes()[: offset + 100])


def _damage_a_header(path: Path) -> None:
    with tarfile.open(path) as tar:
        offset = tar.getmembers()[6].offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 100] = b"\xff" * 100
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "truncated"),
        (_truncate_at_a_header, "truncated tar"),
        (_cut_inside_a_labels_header, "truncated tar"),
        (_damage_a_header, "damaged tar"),
        (lambda p: p.write_bytes(b"not a tar at all " * 100), "not a tar file"),
        (lambda p: p.write_bytes(b""), "not a tar file"),
    ],
    ids=["cut-in-data", "cut-at-header", "cut-in-header", "bad-header", "garbage", "empty"],
)
def test_a_damaged_shard_raises_naming_the_shard(
    tmp_path: Path, damage: Callable[[Path], object], message: str
) -> None:
    split = _write(tmp_path / "train")
    damage(split.shards[1])
    with pytest.raises(FotaError, match=rf"data-000001\.tar: .*{message}"):
        list(split.samples(seed=0, shuffle=False))
    with pytest.raises(FotaError, match=r"data-000001\.tar"):
        split.verify()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (["a.jpg", "a.json", "b.jpg", "c.jpg", "c.json"], "sample 'b' has an image but no labels"),
        (["a.json", "a.jpg", "b.json"], "sample 'b' has labels but no image"),
        (["a.jpg", "a.json", "b.jpg", "b.json", "a.jpg"], "sample 'a' appears twice"),
        (["a.jpg", "a.jpg", "a.json"], "sample 'a' has two image members"),
        (["a.jpg", "a.json", "bad.jpg", "bad.json"], "sample 'bad'.*cannot decode the JPEG"),
        (["a.jpg", "a.json", "nolabels.jpg", "nolabels.json"], "sample 'nolabels'.*not valid JSON"),
    ],
)
def test_a_malformed_sample_raises_naming_shard_and_key(
    tmp_path: Path, members: list[str], message: str
) -> None:
    def data(name: str) -> bytes:
        if name.startswith("bad.jpg"):
            return b"\xff\xd8 not really a jpeg"
        if name.startswith("nolabels.json"):
            return b"{not json"
        return _jpeg(0) if name.endswith(".jpg") else b'{"index": 0}'

    split = _raw_split(tmp_path / "train", [(n, data(n)) for n in members], count=3)
    with pytest.raises(FotaError, match=rf"data-000000\.tar: {message}"):
        list(split.samples(seed=0, shuffle=False))


def test_json_first_members_and_other_files_are_read(tmp_path: Path) -> None:
    members = [("x.json", b'{"k": 1}'), ("x.jpg", _jpeg(1)), ("notes.txt", b"ignored")]
    split = _raw_split(tmp_path / "train", members, count=1)
    [sample] = split.samples(seed=0)
    assert sample.key == "x" and sample.labels == {"k": 1}
    assert split.verify() == 1


def test_verify_catches_a_count_that_does_not_match_the_shards(tmp_path: Path) -> None:
    split = _write(tmp_path / "train")
    (tmp_path / "train" / "count.txt").write_text("26\n")
    with pytest.raises(FotaError, match=r"count\.txt says 26 but the shards hold 25"):
        FotaSplit(tmp_path / "train").verify()
    assert split.verify() == 25  # the split opened before read 25 from count.txt


def test_opening_a_folder_that_is_not_a_split_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FotaError, match=r"missing.*no such folder.*count\.txt"):
        FotaSplit(tmp_path / "missing")
    (tmp_path / "train").mkdir()
    with pytest.raises(FotaError, match=r"train: no count\.txt"):
        FotaSplit(tmp_path / "train")
    (tmp_path / "train" / "count.txt").write_text("twelve")
    with pytest.raises(FotaError, match="non-negative integer, found 'twelve'"):
        FotaSplit(tmp_path / "train")
    (tmp_path / "train" / "count.txt").write_text("12")
    with pytest.raises(FotaError, match=r"train: no shards.*data-\*\.tar"):
        FotaSplit(tmp_path / "train")


def test_the_writer_refuses_existing_shards_and_duplicate_keys(tmp_path: Path) -> None:
    _write(tmp_path / "train")
    with pytest.raises(FotaError, match="already holds a split"):
        FotaWriter(tmp_path / "train")
    with FotaWriter(tmp_path / "val", shard_size=2) as writer:
        writer.add("a", _image(0), _labels(0))
        with pytest.raises(FotaError, match="duplicate key 'a'"):
            writer.add("a", _image(1), _labels(1))
        with pytest.raises(FotaError, match=re.escape("not (H, W, 3) uint8")):
            writer.add("b", _image(1)[..., 0], _labels(1))
        with pytest.raises(FotaError, match=re.escape("without '/' or '.'")):
            writer.add("b.c", _image(1), _labels(1))
    assert FotaSplit(tmp_path / "val").verify() == 1
    (tmp_path / "a-file").write_text("")
    with pytest.raises(FotaError, match="a-file/train: cannot write"):
        FotaWriter(tmp_path / "a-file" / "train")


def test_a_failed_write_leaves_whole_shards_and_no_count(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), FotaWriter(tmp_path / "train", shard_size=2) as writer:
        for i in range(3):
            writer.add(f"k{i}", _image(i), _labels(i))
        raise RuntimeError("collection crashed")
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["data-000000.tar"]
    with pytest.raises(FotaError, match=r"no count\.txt"):
        FotaSplit(tmp_path / "train")


def _index(sample: FotaSample) -> int:
    return int(sample.labels["index"])


def test_the_dataset_through_a_dataloader_with_two_workers_yields_every_sample_once(
    tmp_path: Path,
) -> None:
    split = _write(tmp_path / "train", n=25, shard_size=5)
    dataset = FotaDataset(split, seed=1, shuffle_buffer=4)
    loader = DataLoader(dataset, batch_size=None, num_workers=2)
    items = list(loader)
    assert sorted(int(labels["index"]) for _, labels in items) == list(range(25))
    image, labels = items[0]
    assert isinstance(image, torch.Tensor) and image.dtype == torch.uint8
    assert image.shape == (H, W, 3)
    assert np.abs(image.numpy().astype(int) - _image(int(labels["index"]))).mean() < 3

    indexed = FotaDataset(tmp_path / "train", seed=1, transform=_index)
    epoch0 = list(indexed)
    indexed.set_epoch(1)
    assert sorted(epoch0) == sorted(indexed) == list(range(25)) and epoch0 != list(indexed)


def test_the_dataset_takes_its_rank_from_torch_distributed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    split = _write(tmp_path / "train", n=25, shard_size=5)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    keys = [sample.key for sample in FotaDataset(split, seed=2, transform=lambda s: s)]
    assert keys == _keys(split.samples(seed=2, rank=1, world_size=2))
    assert 0 < len(keys) < 25


def test_a_reference_image_round_trips_as_the_samples_do(tmp_path: Path) -> None:
    image = np.zeros((24, 32, 3), np.uint8)
    image[..., 0], image[8:16, 8:24, 2] = 180, 90  # red, with a blue patch (RGB order kept)
    write_reference(tmp_path / "sim_x", image)
    back = read_reference(tmp_path / "sim_x")
    assert back.shape == image.shape and np.abs(back.astype(int) - image).mean() < 2
    with pytest.raises(FotaError, match=r"reference.jpg: no reference image"):
        read_reference(tmp_path / "none")
    with pytest.raises(FotaError, match=r"not \(H, W, 3\) uint8"):
        write_reference(tmp_path / "bad", np.zeros((4, 4), np.uint8))


def test_a_sample_may_carry_its_own_base_image(tmp_path: Path) -> None:
    """<key>.base.jpg: decoded beside the image; samples without one have None; a base of
    another size is refused when written."""
    image = np.full((24, 32, 3), 40, np.uint8)
    base = image.copy()
    base[4:12, 4:20] = 200  # unlike the image
    with FotaWriter(tmp_path / "train", shard_size=10) as writer:
        writer.add("with", image, {"i": 0}, base=base)
        writer.add("without", image, {"i": 1})
        with pytest.raises(FotaError, match=r"'bad' base image is \(4, 4, 3\)"):
            writer.add("bad", image, {"i": 2}, base=np.zeros((4, 4, 3), np.uint8))
    first, second = FotaSplit(tmp_path / "train").samples(seed=0, shuffle=False)
    assert first.key == "with" and first.base is not None and second.base is None
    assert np.abs(first.base.astype(int) - base).mean() < 2
    assert np.abs(first.image.astype(int) - image).mean() < 2  # the image is not the base
