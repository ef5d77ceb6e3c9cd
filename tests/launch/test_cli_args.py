"""The command lines jobs record and print (launch.cli_args)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from launch.cli_args import PROJECT_ROOT, command_line, continue_command, portable


def args(config: Path | None, *overrides: str) -> argparse.Namespace:
    return argparse.Namespace(config=config, overrides=list(overrides))


def test_a_recorded_command_names_a_shipped_launch_file_from_the_checkout_root() -> None:
    shipped = PROJECT_ROOT / "launch" / "demo.toml"
    assert portable(shipped) == "launch/demo.toml"
    line = command_line("train", args(shipped, "train.steps=5"), record=True, out=Path("/x/o"))
    assert line == ["vitac", "train", "--config", "launch/demo.toml",
                    "--set", "train.steps=5", "--out", "/x/o"]  # fmt: skip


def test_a_launch_file_outside_the_checkout_and_every_hint_keep_their_paths(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "mine.toml"
    assert portable(mine) == str(mine)
    shipped = PROJECT_ROOT / "launch" / "demo.toml"
    assert command_line("train", args(shipped))[2:4] == ["--config", str(shipped)]
    hint = shlex.split(continue_command("collect", args(None, "a=1"), out=tmp_path / "s"))
    assert hint == ["vitac", "collect", "--set", "a=1", "--out", str(tmp_path / "s"), "--resume"]
