"""WindowSampler against a naive reference of diffusion_policy's windowing; split_episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensing.store import EpisodeStore, EpisodeWriter, WindowSampler, split_episodes
from tests.sensing.store_helpers import SCHEMA, length_of, write_episode


def reference_windows(
    ends: list[int], horizon: int, pad_before: int, pad_after: int, episodes: list[int]
) -> list[tuple[int, int, int, int]]:
    """(buffer_start, buffer_end, sample_start, sample_end) per window, loop by loop."""
    windows = []
    for ep in sorted(episodes):
        start = ends[ep - 1] if ep else 0
        length = ends[ep] - start
        if length == 0:
            continue
        for idx in range(-pad_before, length - horizon + pad_after + 1):
            buffer_start = max(idx, 0) + start
            buffer_end = min(idx + horizon, length) + start
            sample_start = buffer_start - (idx + start)
            windows.append(
                (buffer_start, buffer_end, sample_start, sample_start + buffer_end - buffer_start)
            )
    return windows


def reference_sample(
    data: np.ndarray, window: tuple[int, int, int, int], horizon: int
) -> np.ndarray:
    buffer_start, buffer_end, sample_start, sample_end = window
    chunk = data[buffer_start:buffer_end]
    out = np.empty((horizon, *data.shape[1:]), data.dtype)
    out[:sample_start] = chunk[0]
    out[sample_end:] = chunk[-1]
    out[sample_start:sample_end] = chunk
    return out


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[int], int, int, int, list[int]]:
    lengths = draw(st.lists(st.integers(0, 12), min_size=0, max_size=6))
    ends = np.cumsum(lengths).tolist() if lengths else []
    horizon = draw(st.integers(1, 8))
    pad_before = draw(st.integers(0, horizon - 1))
    pad_after = draw(st.integers(0, horizon - 1))
    episodes = draw(st.lists(st.sampled_from(range(len(ends))), unique=True)) if ends else []
    return ends, horizon, pad_before, pad_after, episodes


@settings(max_examples=300, deadline=None)
@given(layouts())
def test_windows_match_the_reference(layout: tuple[list[int], int, int, int, list[int]]) -> None:
    ends, horizon, pad_before, pad_after, episodes = layout
    sampler = WindowSampler(ends, horizon, pad_before, pad_after, episodes=episodes)
    expected = reference_windows(ends, horizon, pad_before, pad_after, episodes)
    lengths = np.diff(ends, prepend=0).astype(int) if ends else np.zeros(0, int)
    count = sum(
        max(0, int(lengths[e]) - horizon + pad_before + pad_after + 1)
        for e in episodes
        if lengths[e]
    )
    assert len(sampler) == len(expected) == count
    assert sampler.indices.shape == (len(expected), 4)
    if not expected:
        return
    n = ends[-1]
    data = {
        "x": np.arange(n) * 10,
        "img": np.broadcast_to(np.arange(n)[:, None, None], (n, 2, 3)).copy(),
    }
    batch = sampler.sample_batch(data, np.arange(len(sampler)))
    assert batch["x"].shape == (len(sampler), horizon)
    assert batch["img"].shape == (len(sampler), horizon, 2, 3)
    frame_episode = np.searchsorted(ends, batch["x"] // 10, side="right")
    for i, window in enumerate(expected):
        np.testing.assert_array_equal(batch["x"][i], reference_sample(data["x"], window, horizon))
        np.testing.assert_array_equal(
            batch["img"][i], reference_sample(data["img"], window, horizon)
        )
        assert np.all(frame_episode[i] == sampler.indices[i, 0])  # never crosses episodes


def test_edge_replication_example() -> None:
    sampler = WindowSampler([3, 5], horizon=4, pad_before=1, pad_after=2)
    x = np.arange(5)
    got = sampler.sample_batch({"x": x}, np.arange(len(sampler)))["x"].tolist()
    # episode 0 = frames 0..2 (starts -1..1), episode 1 = frames 3..4 (starts -1..0)
    assert got == [[0, 0, 1, 2], [0, 1, 2, 2], [1, 2, 2, 2], [3, 3, 4, 4], [3, 4, 4, 4]]
    assert sampler.sample({"x": x}, 3)["x"].tolist() == [3, 3, 4, 4]
    assert sampler.sample({"x": x}, -1)["x"].tolist() == [3, 4, 4, 4]


def test_n_first_keys_and_errors() -> None:
    sampler = WindowSampler([10, 20], horizon=6, pad_before=1, pad_after=3)
    data = {"obs": np.arange(20), "action": np.arange(20) + 100}
    batch = sampler.sample_batch(data, [0, 5, 17], keys=["obs", "action"], n_first={"obs": 2})
    assert batch["obs"].shape == (3, 2) and batch["action"].shape == (3, 6)
    np.testing.assert_array_equal(batch["obs"], batch["action"][:, :2] - 100)
    assert set(sampler.sample_batch(data, [1], keys=["action"])) == {"action"}
    with pytest.raises(ValueError, match="n_first"):
        sampler.sample_batch(data, [0], n_first={"obs": 7})
    with pytest.raises(KeyError, match="n_first names 'rgb'"):
        sampler.sample_batch(data, [0], n_first={"rgb": 1})
    with pytest.raises(IndexError):
        sampler.sample_batch(data, [len(sampler)])
    with pytest.raises(ValueError, match="pad_before"):
        WindowSampler([10], horizon=4, pad_before=4)
    with pytest.raises(ValueError, match="episode ids"):
        WindowSampler([10], horizon=4, episodes=[1])
    with pytest.raises(ValueError, match="non-decreasing"):
        WindowSampler([10, 5], horizon=4)


def test_reading_from_the_store_matches_memory(tmp_path: Path) -> None:
    with EpisodeWriter.create(tmp_path / "s.zarr", SCHEMA) as w:
        for ep in range(4):
            write_episode(w, ep, length_of(ep))
    store = EpisodeStore.open(tmp_path / "s.zarr")
    train, _ = split_episodes(store.n_episodes, 0.25, seed=0)
    sampler = WindowSampler(store.episode_ends, 5, 1, 2, episodes=train)
    idxs = np.random.default_rng(0).integers(0, len(sampler), 16)
    first = {"rgb.scene": 2, "tactile.left": 2}
    on_disk = sampler.sample_batch(store.arrays(), idxs, n_first=first)
    in_memory = sampler.sample_batch(store.load(), idxs, n_first=first)
    assert set(on_disk) == {*SCHEMA, "timestamp"}
    for key, value in in_memory.items():
        np.testing.assert_array_equal(on_disk[key], value, err_msg=key)
    assert on_disk["rgb.scene"].shape == (16, 2, 24, 24, 3)
    assert on_disk["action"].shape == (16, 5, 7)
    actions = store.load(["action"])["action"]
    for key in ("action", "rgb.scene"):  # 1024-frame chunks and one-frame chunks
        frames = store.arrays([key])[key]
        expected = store.load([key])[key]
        assert frames.shape == expected.shape and len(frames) == store.n_frames
        np.testing.assert_array_equal(frames[-1], expected[-1])
        np.testing.assert_array_equal(frames[3], expected[3])
        np.testing.assert_array_equal(frames[5:17], expected[5:17])
        np.testing.assert_array_equal(frames[:], expected)
        picks = np.array([17, 2, 2, store.n_frames - 1, 0])
        np.testing.assert_array_equal(frames[picks], expected[picks])
        assert frames[np.array([], np.int64)].shape == (0, *expected.shape[1:])
        with pytest.raises(IndexError):
            frames[np.array([store.n_frames])]
        with pytest.raises(IndexError):
            frames[store.n_frames]
        with pytest.raises(IndexError):
            frames[::2]
    assert actions.dtype == np.float32


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 200), ratio=st.floats(0.0, 0.99), seed=st.integers(0, 2**32 - 1))
def test_split_is_a_deterministic_partition(n: int, ratio: float, seed: int) -> None:
    train, val = split_episodes(n, ratio, seed)
    again = split_episodes(n, ratio, seed)
    np.testing.assert_array_equal(train, again[0])
    np.testing.assert_array_equal(val, again[1])
    assert sorted([*train.tolist(), *val.tolist()]) == list(range(n))
    assert len(train) >= 1
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    if ratio == 0 or n == 1:
        assert len(val) == 0
    else:  # the nearest count to n * ratio that leaves each side at least one episode
        assert 1 <= len(val) <= n - 1
        assert abs(len(val) - n * ratio) <= 0.5 or len(val) in (1, n - 1)


@pytest.mark.parametrize(
    ("n", "ratio", "val_size"),
    [(10, 0.1, 1), (10, 0.26, 3), (20, 0.1, 2), (100, 0.01, 1), (3, 0.01, 1), (4, 0.9, 3)],
)
def test_split_sizes(n: int, ratio: float, val_size: int) -> None:
    assert len(split_episodes(n, ratio, 0)[1]) == val_size


def test_split_edges() -> None:
    assert split_episodes(10, 0.0, 0)[1].size == 0
    assert split_episodes(1, 0.5, 0)[0].tolist() == [0]
    assert not np.array_equal(split_episodes(50, 0.2, 0)[1], split_episodes(50, 0.2, 1)[1])
    for bad in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="val_ratio"):
            split_episodes(10, bad, 0)
    with pytest.raises(ValueError, match="at least 1 episode"):
        split_episodes(0, 0.1, 0)
