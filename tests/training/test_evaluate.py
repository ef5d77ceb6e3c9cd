from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from sim import make_env
from tests.conftest import TINY_TASK
from training.evaluate import HoldActor, RandomActor, evaluate, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (5, 10, 0.2366, 0.7634),
        (27, 30, 0.7438, 0.9654),
    ],
)
def test_wilson_interval_matches_reference_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_hold_baseline_never_succeeds_and_video_has_every_step(tmp_path: Path) -> None:
    env = make_env("peg_insertion", TINY_TASK | {"max_steps": 5}, render_mode="rgb_array")
    try:
        result = evaluate(
            env, HoldActor(), episodes=2, seed=3, video_path=tmp_path / "v.mp4", progress=False
        )
    finally:
        env.close()
    assert result.successes == [False, False] and result.lengths == [5, 5]
    assert result.seeds == [3, 4]
    video = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 6  # reset + 5 steps
    assert (video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (64, 48)


def test_random_baseline_is_reproducible() -> None:
    env = make_env("peg_insertion", TINY_TASK | {"max_steps": 4})
    try:
        actor = RandomActor()
        actor.reset(env, seed=7)
        first = [actor.act({}) for _ in range(3)]
        actor.reset(env, seed=7)
        again = [actor.act({}) for _ in range(3)]
    finally:
        env.close()
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
