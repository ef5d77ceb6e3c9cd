from __future__ import annotations

import io
import re

import pytest

import training.progress
from training.progress import Progress


def test_off_a_terminal_a_line_each_tenth_and_a_final_one_with_the_status() -> None:
    out = io.StringIO()  # not a terminal: the bar turns itself into log lines
    with Progress("train", 20, "it", stream=out) as shown:
        for i in range(20):
            shown.update(1, loss=1.0 / (i + 1))
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [f"{n}/20" for n in range(2, 21, 2)]
    assert re.fullmatch(r"train 2/20 \(10%\) [\d.]+ it/s, ETA \dm\d\ds, loss 0\.5", lines[0])
    assert re.fullmatch(r"train 20/20 \(100%\) [\d.]+ it/s, loss 0\.05", lines[-1])  # no ETA


def test_a_resumed_job_counts_from_where_it_starts_and_lines_come_at_least_each_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(training.progress, "LINE_SECONDS", 0.0)  # a minute has always passed
    out = io.StringIO()
    shown = Progress("collect", 100, "ep", initial=40, bar=False, stream=out)
    shown.update(1, stored=1)
    shown.update(1, stored=2)
    shown.close()
    shown.close()  # idempotent: one final line
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["41/100", "42/100"]
    assert lines[-1].endswith("stored 2")
