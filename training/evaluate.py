"""Closed-loop evaluation: run actors in an env for N seeded episodes, serially or in parallel.

`evaluate` runs one actor (training/actors.py) in an env the caller built. `evaluate_parallel`
runs several actors from picklable specs (`PolicySpec`, `BaselineSpec`), because with
`workers > 1` the env and the actors are built inside each worker process
(training/eval_pool.py). Episode i of every actor uses seed `seed + i` and results are stored
by episode, so they do not depend on the number of workers or on which worker ran what.
Results (training/eval_stats.py) carry the success rate with a 95% Wilson interval; the first
episodes of each actor can be written to videos (training/video.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
from pydantic import BaseModel, ConfigDict, Field, field_validator

from policies.inference import InferenceConfig
from sim import TASKS, make_env  # importing sim sets up EGL before any GL context (sim/gl.py)
from training.actors import Actor, ActorSpec, BaselineSpec
from training.eval_pool import Job, Outcome, run_here, run_in_workers
from training.eval_stats import EvalResult
from training.progress import Progress
from training.video import render_frame, tiled_frame, write_video


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(20, ge=1)
    seed: int = Field(
        100_000, ge=0, description="episode i uses seed + i; keep apart from training seeds"
    )
    baselines: list[str] = Field(
        ["hold", "random"],
        description="hold, random, expert (the task's scripted expert) or expert:<variant> "
        "(one of its named variants, sim.experts.EXPERT_VARIANTS, e.g. the demonstrator)",
    )
    workers: int = Field(
        1,
        ge=1,
        description="processes running episodes in parallel (1 = in this process); each holds "
        "its own env, GL context and copy of the policy, so memory grows with workers",
    )
    videos: int = Field(
        1, ge=0, description="record the first N episodes of each actor as mp4 (0 = none)"
    )
    inference: InferenceConfig = Field(
        default_factory=InferenceConfig,
        description="how the policy runs: chunk execution, precision, compilation",
    )

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, baselines: list[str]) -> list[str]:
        for text in baselines:
            BaselineSpec.parse(text)  # ValueError naming what exists
        return baselines


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
    with Progress(f"eval {actor.name}", episodes, "ep", bar=progress) as shown:
        for i in range(episodes):
            video = video_path if i == 0 else None
            success, steps = run_episode(env, actor, seed + i, video)
            result.successes.append(success)
            result.lengths.append(steps)
            result.seeds.append(seed + i)
            if video is not None:
                result.videos.append(video)
            shown.update(1, success=f"{sum(result.successes)}/{i + 1}")
    return result


def run_episode(
    env: gym.Env[Any, Any], actor: Actor, seed: int, video_path: Path | None = None
) -> tuple[bool, int]:
    """One episode from `env.reset(seed=seed)` to termination -> (success, control steps)."""
    obs, _ = env.reset(seed=seed)
    actor.reset(env, seed)
    frames = [tiled_frame(render_frame(env), obs)] if video_path is not None else None
    success, steps, done = False, 0, False
    while not done:
        obs, _, terminated, truncated, info = env.step(actor.act(obs))
        steps += 1
        success = success or bool(info.get("is_success", False))
        done = terminated or truncated
        if frames is not None:
            frames.append(tiled_frame(render_frame(env), obs))
    if frames is not None and video_path is not None:
        write_video(video_path, frames, fps=env.metadata.get("render_fps", 10))
    return success, steps


@dataclass(frozen=True)
class _Plan:
    """Everything needed to run any job (an `eval_pool.Plan`); sent once to each worker, so it
    must pickle."""

    task: str
    task_config: BaseModel | Mapping[str, Any]
    actors: tuple[ActorSpec, ...]
    seed: int
    video_dir: Path | None
    video_episodes: int

    def video_path(self, job: Job) -> Path | None:
        actor, episode = job
        if self.video_dir is None or episode >= self.video_episodes:
            return None
        return self.video_dir / self.actors[actor].key / f"seed_{self.seed + episode}.mp4"

    def describe(self, job: Job) -> str:
        actor, episode = job
        return f"{self.actors[actor].name!r} episode {episode} (seed {self.seed + episode})"

    def runner(self) -> _EpisodeRunner:
        return _EpisodeRunner(self)


class _EpisodeRunner:
    """One env and the actors, built on first use in the process that runs the episodes."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self._env: gym.Env[Any, Any] | None = None
        self._actors: dict[int, Actor] = {}

    def run(self, job: Job) -> Outcome:
        plan = self.plan
        if self._env is None:
            render_mode = "rgb_array" if plan.video_dir is not None else None
            self._env = make_env(plan.task, plan.task_config, render_mode=render_mode)
        actor, episode = job
        if actor not in self._actors:
            self._actors[actor] = plan.actors[actor].build()
        return run_episode(
            self._env, self._actors[actor], plan.seed + episode, plan.video_path(job)
        )

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None


def _preflight(plan: _Plan) -> None:
    """Reset each scripted baseline once before any episode, so that one that cannot run on
    these settings (a touch readout calibrated on other pads) fails as itself (an operator
    error: one line), not as an episode's EvalError."""
    baselines = [spec for spec in plan.actors if isinstance(spec, BaselineSpec)]
    if not baselines:
        return
    env = make_env(plan.task, plan.task_config)
    try:
        env.reset(seed=plan.seed)
        for spec in baselines:
            spec.build().reset(env, plan.seed)
    finally:
        env.close()


def evaluate_parallel(
    task: str,
    task_config: BaseModel | Mapping[str, Any],
    actors: Sequence[ActorSpec],
    episodes: int,
    seed: int,
    workers: int = 1,
    video_dir: Path | None = None,
    video_episodes: int = 0,
    progress: bool = True,
) -> list[EvalResult]:
    """Run `episodes` episodes of every actor on `task`; one result per actor, in order.

    Episode i uses seed `seed + i` for every actor. `workers` > 1 runs the episodes in that
    many spawned processes (1 runs them here); the results are the same either way. The first
    `video_episodes` episodes of each actor are written to
    `video_dir/<actor key>/seed_<seed>.mp4` (pass `video_episodes >= episodes` for all).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; available: {sorted(TASKS)}")
    if episodes < 1 or workers < 1 or video_episodes < 0 or seed < 0:
        raise ValueError(
            f"need episodes >= 1, workers >= 1, video_episodes >= 0 and seed >= 0; got "
            f"episodes={episodes}, workers={workers}, video_episodes={video_episodes}, seed={seed}"
        )
    keys = [a.key for a in actors]
    if not actors or len(set(keys)) != len(keys):
        raise ValueError(f"need at least one actor and unique actor keys; got {keys}")
    plan = _Plan(
        task,
        task_config,
        tuple(actors),
        seed,
        video_dir if video_episodes > 0 else None,
        video_episodes,
    )
    jobs = [(a, e) for e in range(episodes) for a in range(len(actors))]
    outcomes: dict[Job, Outcome] = {}
    desc = f"eval ({workers} worker{'s' if workers > 1 else ''})"
    with Progress(desc, len(jobs), "ep", bar=progress) as bar:

        def record(job: Job, outcome: Outcome) -> None:
            outcomes[job] = outcome
            bar.update()

        _preflight(plan)
        if workers == 1:
            run_here(plan, jobs, record)
        else:
            run_in_workers(plan, jobs, min(workers, len(jobs)), record)

    results = []
    for a, spec in enumerate(actors):
        result = EvalResult(spec.name)
        for e in range(episodes):
            success, steps = outcomes[(a, e)]
            result.successes.append(success)
            result.lengths.append(steps)
            result.seeds.append(seed + e)
            if (video := plan.video_path((a, e))) is not None:
                result.videos.append(video)
        results.append(result)
    return results
