"""Closed-loop evaluation: run an actor in an env for N seeded episodes.

An actor is anything with `reset()` and `act(obs) -> action`: a trained policy, or the
baselines every result is compared against (hold still, act at random). Success rates come
with a 95% Wilson interval; the first episode can be written to a video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import gymnasium as gym
import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from policies import Policy
from sim.tasks import task_env


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(20, ge=1)
    seed: int = Field(
        100_000, ge=0, description="episode i uses seed + i; keep apart from training seeds"
    )
    baselines: list[Literal["hold", "random"]] = ["hold", "random"]
    video: bool = Field(True, description="record the policy's first episode")


class Actor(Protocol):
    name: str

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None: ...

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray: ...


class PolicyActor:
    """A trained policy, stepping through its action chunks."""

    def __init__(self, policy: Policy, name: str = "policy") -> None:
        self.policy, self.name = policy.eval(), name

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        self.policy.reset()

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.policy.select_action(obs)


class HoldActor:
    """Baseline: command the pose the robot is already in (a zero-motion action)."""

    name = "hold (zero motion)"

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        self._task = task_env(env)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self._task.hold_action()


class RandomActor:
    """Baseline: uniform samples from the action space."""

    name = "random"

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        self._space = env.action_space
        self._space.seed(seed)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        sample: np.ndarray = self._space.sample()
        return sample


@dataclass
class EvalResult:
    name: str
    successes: list[bool] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return len(self.successes)

    @property
    def success_rate(self) -> float:
        return sum(self.successes) / self.episodes if self.episodes else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(sum(self.successes), self.episodes)

    def summary(self) -> str:
        lo, hi = self.interval
        return (
            f"{self.name}: success {self.success_rate:.0%} "
            f"({sum(self.successes)}/{self.episodes}, 95% CI {lo:.0%}-{hi:.0%})"
        )

    def to_json(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {
            "name": self.name,
            "success_rate": self.success_rate,
            "ci95": [lo, hi],
            "successes": self.successes,
            "lengths": self.lengths,
            "seeds": self.seeds,
        }


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (well-behaved at 0% and 100%)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def evaluate(
    env: gym.Env[Any, Any],
    actor: Actor,
    episodes: int,
    seed: int,
    video_path: Path | None = None,
    progress: bool = True,
) -> EvalResult:
    """Run `episodes` episodes with seeds seed, seed+1, ...; record episode 0 if asked."""
    result = EvalResult(actor.name)
    for i in tqdm(
        range(episodes), desc=f"eval {actor.name}", disable=None if progress else True, leave=False
    ):
        obs, _ = env.reset(seed=seed + i)
        actor.reset(env, seed + i)
        frames = [_frame(env)] if video_path is not None and i == 0 else None
        success, steps, done = False, 0, False
        while not done:
            obs, _, terminated, truncated, info = env.step(actor.act(obs))
            steps += 1
            success = success or bool(info.get("is_success", False))
            done = terminated or truncated
            if frames is not None:
                frames.append(_frame(env))
        result.successes.append(success)
        result.lengths.append(steps)
        result.seeds.append(seed + i)
        if frames is not None and video_path is not None:
            write_video(video_path, frames, fps=env.metadata.get("render_fps", 10))
    return result


def _frame(env: gym.Env[Any, Any]) -> np.ndarray:
    frame = env.render()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"video needs render_mode='rgb_array', the env rendered {type(frame)}")
    return frame


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """RGB frames (H, W, 3) uint8 -> mp4 (MPEG-4 part 2, plays everywhere)."""
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} (no mp4v encoder in this build)")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


BASELINES: dict[str, type[HoldActor] | type[RandomActor]] = {
    "hold": HoldActor,
    "random": RandomActor,
}
