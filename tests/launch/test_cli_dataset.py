"""`vitac dataset verify | repair`: find damage and what an interrupted writer left; repair
the latter so that plain zarr readers (diffusion_policy's ReplayBuffer) open the store."""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest
import zarr

from launch.cli import main
from sensing.store import EpisodeStore, EpisodeWriter
from tests.sensing.store_helpers import SCHEMA, foreign_consistent, frame, timestamp, write_episode


def _interrupted_store(path: Path) -> Path:
    """Two committed episodes and a third killed half-way (chunks past the end, lock file)."""
    writer = EpisodeWriter.create(path, SCHEMA, flush_every=2)
    write_episode(writer, 0, 5)
    write_episode(writer, 1, 4)
    for step in range(6):
        writer.add(frame(2, step), timestamp(2, step))
    os.close(writer._lock_fd)  # type: ignore[arg-type]  # what the kernel does when it dies
    return path


def test_verify_reports_what_an_interrupted_writer_left_and_repair_removes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _interrupted_store(tmp_path / "s.zarr")
    assert main(["dataset", "verify", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}: ok: 2 episodes, 9 frames; ") and "CRC32" in out[0]
    assert "chunk file(s) of uncommitted frames" in out[1] and "stale writer lock" in out[1]
    assert out[1].endswith(f"vitac dataset repair {path}")

    assert main(["dataset", "repair", str(path)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"{path}: removed ") and "2 committed episodes kept" in said
    assert not (path / ".vitac-writer.lock").exists()
    assert not (path / "data/rgb.scene/9.0.0.0").exists()  # the killed episode's first frame
    assert main(["dataset", "verify", str(path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1  # nothing left to repair
    assert main(["dataset", "repair", str(path)]) == 0
    assert "nothing to repair" in capsys.readouterr().out


def test_repair_makes_a_store_with_arrays_past_the_last_commit_readable_by_plain_zarr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What stores written before vitac kept shapes at the commit look like after a crash."""
    path = tmp_path / "old.zarr"
    with EpisodeWriter.create(path, SCHEMA) as writer:
        write_episode(writer, 0, 5)
    for key in (*SCHEMA, "timestamp"):
        array = zarr.open_array(path / "data" / key, mode="r+")
        array.resize((12, *array.shape[1:]))
    assert not foreign_consistent(path)  # the ReplayBuffer's assertion would fail
    assert EpisodeStore.open(path).n_frames == 5  # vitac reads it as committed
    assert main(["dataset", "repair", str(path)]) == 0
    assert "longer than the 5 committed frames" in capsys.readouterr().out
    assert foreign_consistent(path)


def test_damaged_chunks_pass_info_but_fail_verify_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.zarr"
    with EpisodeWriter.create(path, SCHEMA) as writer:
        write_episode(writer, 0, 5)
        write_episode(writer, 1, 4)
    chunk = path / "data/rgb.scene/6.0.0.0"  # frame 6: episode 1
    chunk.write_bytes(chunk.read_bytes()[:-3] + b"xyz")
    assert main(["dataset", "info", str(path)]) == 0  # reads metadata only
    capsys.readouterr()
    assert main(["dataset", "verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rgb.scene: episodes [1]" in err


@pytest.mark.parametrize("action", ["info", "verify", "repair"])
def test_a_file_or_missing_path_is_one_line(
    action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("mine")
    for path in (tmp_path / "file", tmp_path / "missing"):
        assert main(["dataset", action, str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"vitac dataset: error: {path}")
    assert (tmp_path / "file").read_text() == "mine"


def test_view_writes_one_episode_as_a_video(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ep.mp4"
    assert main(["dataset", "view", str(demo_store), "--episode", "-1", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"{out}: episode 3 of {demo_store}") and "10 fps" in said
    length = EpisodeStore.open(demo_store).episode_slice(3)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == length.stop - length.start
    assert main(["dataset", "view", str(demo_store), "--out", str(out)]) == 2  # not overwritten
    assert "exists" in capsys.readouterr().err
    assert (
        main(
            ["dataset", "view", str(demo_store), "--episode", "4", "--out", str(tmp_path / "x.mp4")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no episode 4; it has 4 episode(s), 0..3" in err
