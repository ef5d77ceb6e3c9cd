"""Crash safety: a SIGKILL (or a failed write) at any moment loses only the episode in progress.

Three angles: a real SIGKILL mid-episode; repeated SIGKILLs at random moments during heavy
image writes; and, in process, a simulated crash before each single file write of an episode
(every point of the commit protocol). Foreign readers (plain zarr, diffusion_policy's
ReplayBuffer) see a consistent store after a crash anywhere but inside a commit.
"""

from __future__ import annotations

import itertools
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import zarr
import zarr.storage._local as zarr_local

from drivers.spec import FieldSpec
from sensing.errors import DatasetError
from sensing.store import EpisodeStore, EpisodeWriter
from tests.sensing.store_helpers import (
    array_lengths,
    check_episode,
    foreign_consistent,
    frame,
    length_of,
    timestamp,
    write_episode,
)

REPO = Path(__file__).resolve().parents[2]

HEAVY = {
    "rgb.scene": FieldSpec(shape=(96, 96, 3), dtype="uint8", sensor="scene"),
    "tactile.left": FieldSpec(shape=(64, 64, 3), dtype="uint8", sensor="gelsight"),
    "action": FieldSpec(shape=(7,), dtype="float32"),
}

_PRELUDE = """
import time
from tests.sensing.store_helpers import frame, length_of, timestamp, write_episode
from sensing.store import EpisodeWriter
"""


def _spawn(body: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", _PRELUDE + body],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], word: str, timeout: float = 60.0) -> None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != word:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"child did not say {word!r} (got {line!r}); stderr:\n{err}")


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"child ended by itself; stderr:\n{err}"


def test_sigkill_mid_episode_loses_only_that_episode(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    k = 3
    proc = _spawn(
        f"""
from tests.sensing.store_helpers import SCHEMA
w = EpisodeWriter.create({str(path)!r}, SCHEMA, flush_every=4)
for ep in range({k}):
    write_episode(w, ep, length_of(ep))
step = 0
while True:  # episode {k}, never committed
    w.add(frame({k}, step), timestamp({k}, step))
    step += 1
    if step == 10:  # two blocks already flushed to disk
        print("mid", flush=True)
    time.sleep(0.002)
"""
    )
    _wait_for(proc, "mid")
    _kill(proc)

    store = EpisodeStore.open(path, verify=True)
    assert store.n_episodes == k
    for ep in range(k):
        check_episode(store, ep, ep, length_of(ep))
    # the lost episode's frames lie past the shapes on disk: foreign readers never see them
    assert foreign_consistent(path)
    lost_frame = path / "data/rgb.scene" / f"{store.n_frames}.0.0.0"
    assert lost_frame.is_file()

    with EpisodeWriter.open(path) as w:  # repairs the tail, then appends episode k
        assert set(array_lengths(path).values()) == {store.n_frames}
        assert not lost_frame.exists()
        assert write_episode(w, k, 11) == k
    store = EpisodeStore.open(path, verify=True)
    assert store.n_episodes == k + 1
    check_episode(store, k, k, 11)
    assert not list(path.rglob("*.partial"))


def test_repeated_sigkill_during_heavy_image_writes(tmp_path: Path) -> None:
    path = tmp_path / "heavy.zarr"
    EpisodeWriter.create(path, HEAVY).close()
    rng = random.Random(1234)
    committed = 0
    for _ in range(3):
        proc = _spawn(
            f"""
w = EpisodeWriter.open({str(path)!r}, flush_every=8)
print("ready", flush=True)
while True:
    write_episode(w, w.n_episodes, length_of(w.n_episodes))
"""
        )
        _wait_for(proc, "ready")
        time.sleep(rng.uniform(0.05, 0.6))  # a random moment of the write loop
        _kill(proc)
        store = EpisodeStore.open(path, verify=True)
        assert store.n_episodes >= committed
        committed = store.n_episodes
        for ep in range(committed):
            check_episode(store, ep, ep, length_of(ep))
    assert committed > 0, "the children never committed; give them more time"
    with EpisodeWriter.open(path) as w:
        write_episode(w, committed, 5)
    store = EpisodeStore.open(path, verify=True)
    assert store.n_episodes == committed + 1
    check_episode(store, committed, committed, 5)
    assert set(array_lengths(path).values()) == {store.n_frames}


class SimulatedCrashError(Exception):
    """The process 'dies' before this file write (and every later one)."""


@contextmanager
def _crash_after(n_writes: int, counter: list[str] | None = None) -> Iterator[None]:
    """Let `n_writes` store file writes through, then fail every one (LocalStore's `_put`)."""
    real = zarr_local._put
    count = itertools.count()

    def put(path: Path, value: Any, exclusive: bool = False) -> int:
        i = next(count)
        if counter is not None:
            counter.append(f"{path.parent.parent.name}/{path.parent.name}/{path.name}")
        if i >= n_writes:
            raise SimulatedCrashError(f"crash before write #{i} ({path.name})")
        return real(path, value, exclusive)

    zarr_local._put = put  # type: ignore[assignment]
    try:
        yield
    finally:
        zarr_local._put = real


def test_crash_before_any_single_write_of_an_episode(tmp_path: Path) -> None:
    schema = {
        "img": FieldSpec(shape=(4, 4, 3), dtype="uint8"),
        "a": FieldSpec(shape=(7,), dtype="float32"),
    }
    template = tmp_path / "template.zarr"
    with EpisodeWriter.create(template, schema) as w:
        write_episode(w, 0, 4)
        write_episode(w, 1, 3)

    def attempt(path: Path, n_writes: int, counter: list[str] | None = None) -> bool:
        """Append episode 2 with a crash after `n_writes` writes; True if it finished."""
        w = EpisodeWriter.open(path, flush_every=2)
        try:
            with _crash_after(n_writes, counter):
                write_episode(w, 2, 5)
            return True
        except DatasetError as err:
            assert isinstance(err.__cause__, SimulatedCrashError), err
            return False
        finally:
            os.close(w._lock_fd)  # type: ignore[arg-type]  # the kernel's job when a process dies

    writes: list[str] = []
    assert attempt(shutil.copytree(template, tmp_path / "count.zarr"), 10**6, writes)
    # the commit: data shapes (first .zarray under data/) ... episode_ends' shape (last write)
    first_shape = next(
        i for i, w in enumerate(writes) if w.startswith("data/") and w.endswith("/.zarray")
    )
    assert writes[-1] == "meta/episode_ends/.zarray"
    outcomes, inconsistent = [], []
    for n in range(len(writes) + 1):
        path = shutil.copytree(template, tmp_path / f"crash{n}.zarr")
        finished = attempt(path, n)
        ends_on_disk = zarr.open_array(path / "meta" / "episode_ends", mode="r").shape[0]
        store = EpisodeStore.open(path, verify=True)
        assert store.n_episodes == (3 if finished else 2), n
        assert finished == (n >= len(writes))
        for ep, length in enumerate([4, 3, 5][: store.n_episodes]):
            check_episode(store, ep, ep, length)
        outcomes.append((finished, ends_on_disk))
        if not foreign_consistent(path):
            inconsistent.append(n)
        with EpisodeWriter.open(path) as w:  # repair, then append
            assert set(array_lengths(path).values()) == {store.n_frames}
            write_episode(w, store.n_episodes, 6)
        again = EpisodeStore.open(path, verify=True)
        check_episode(again, again.n_episodes - 1, store.n_episodes, 6)
    # a commit is one file write: never a committed episode its writer reported as failed
    assert (False, 3) not in outcomes
    assert (False, 2) in outcomes and (True, 3) in outcomes
    assert inconsistent == list(range(first_shape + 1, len(writes)))  # only inside the commit


def test_reader_ignores_a_writer_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    with EpisodeWriter.create(path, HEAVY, flush_every=2) as w:
        write_episode(w, 0, length_of(0))
        for step in range(9):
            w.add(frame(1, step, HEAVY), timestamp(1, step))
        store = EpisodeStore.open(path, verify=True)  # while episode 1 is half on disk
        assert store.n_episodes == 1 and store.load()["action"].shape[0] == length_of(0)
        assert np.all(store.load()["timestamp"] < 100.0)
        write_episode(w, 1, 0)  # commit the 9 frames added so far
    assert EpisodeStore.open(path).episode_ends.tolist() == [length_of(0), length_of(0) + 9]
