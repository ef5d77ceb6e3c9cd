"""Closed-loop evaluation: run actors in an env for N seeded episodes, serially or in parallel.

An actor is anything with `reset()` and `act(obs) -> action`: a trained policy, or the
baselines every result is compared against (hold still, act at random). Success rates come
with a 95% Wilson interval; the first episodes can be written to videos.

`evaluate` runs one actor in an env the caller built. `evaluate_parallel` runs several actors
from picklable descriptions (`PolicySpec`, `BaselineSpec`), because with `workers > 1` the env
and the actors are built inside each worker process:

- workers are started with `spawn`: `fork` would copy MuJoCo's GL context and torch's thread
  pools into the child, neither of which survives it. Each worker imports `sim` (with this
  module) before it opens a GL context (EGL, Triton before Mesa: see sim/gl.py), builds its
  own env and GL context, loads its own copy of the policy, and runs torch on one thread;
- episodes are handed out one at a time from a queue, so a long episode never idles the
  others; episode i of every actor uses seed `seed + i` and results are stored by episode,
  so they do not depend on the number of workers or on which worker ran what;
- an episode that raises, or a worker that dies, stops the run with an `EvalError` naming
  the actor, episode and seed; the workers are terminated on any error or Ctrl-C.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import gymnasium as gym
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from policies import Policy, load_policy
from sim import (
    EXPERTS,
    TASKS,
    make_env,
)  # importing sim sets up EGL before any GL context (sim/gl.py)
from sim.tasks import task_env


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(20, ge=1)
    seed: int = Field(
        100_000, ge=0, description="episode i uses seed + i; keep apart from training seeds"
    )
    baselines: list[Literal["hold", "random", "expert"]] = ["hold", "random"]
    workers: int = Field(
        1,
        ge=1,
        description="processes running episodes in parallel (1 = in this process); each holds "
        "its own env, GL context and copy of the policy, so memory grows with workers",
    )
    videos: int = Field(
        1, ge=0, description="record the first N episodes of each actor as mp4 (0 = none)"
    )


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
    videos: list[Path] = field(default_factory=list)  # the episodes recorded, in episode order

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
            "videos": [str(v) for v in self.videos],
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
        video = video_path if i == 0 else None
        success, steps = run_episode(env, actor, seed + i, video)
        result.successes.append(success)
        result.lengths.append(steps)
        result.seeds.append(seed + i)
        if video is not None:
            result.videos.append(video)
    return result


def run_episode(
    env: gym.Env[Any, Any], actor: Actor, seed: int, video_path: Path | None = None
) -> tuple[bool, int]:
    """One episode from `env.reset(seed=seed)` to termination -> (success, control steps)."""
    obs, _ = env.reset(seed=seed)
    actor.reset(env, seed)
    frames = [_frame(env)] if video_path is not None else None
    success, steps, done = False, 0, False
    while not done:
        obs, _, terminated, truncated, info = env.step(actor.act(obs))
        steps += 1
        success = success or bool(info.get("is_success", False))
        done = terminated or truncated
        if frames is not None:
            frames.append(_frame(env))
    if frames is not None and video_path is not None:
        write_video(video_path, frames, fps=env.metadata.get("render_fps", 10))
    return success, steps


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


class ExpertActor:
    """Reference: the task's scripted expert (privileged state, so an upper bound, not a rival)."""

    name = "scripted expert"

    def reset(self, env: gym.Env[Any, Any], seed: int) -> None:
        unwrapped = type(env.unwrapped)
        tasks = [name for name, entry in TASKS.items() if entry.env_cls is unwrapped]
        if not tasks or tasks[0] not in EXPERTS:
            raise ValueError(
                f"no scripted expert for {unwrapped.__name__}; tasks with one: {sorted(EXPERTS)}"
            )
        self._expert = EXPERTS[tasks[0]](env)
        self._expert.reset(seed)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self._expert.act()


BASELINES: dict[str, type[HoldActor] | type[RandomActor] | type[ExpertActor]] = {
    "hold": HoldActor,
    "random": RandomActor,
    "expert": ExpertActor,
}


# ------------------------------------------------------------------ parallel evaluation


class ActorSpec(Protocol):
    """A picklable description of an actor; `build()` makes the actor where it will run."""

    @property
    def key(self) -> str:
        """Short, file-name-safe label: the video directory, unique within one run."""
        ...

    @property
    def name(self) -> str:
        """The label results and plots show (the built actor's `name`)."""
        ...

    def build(self) -> Actor: ...


@dataclass(frozen=True)
class PolicySpec:
    """A trained policy, loaded from its checkpoint directory in whichever process runs it."""

    checkpoint: Path
    key: str = "policy"

    @property
    def name(self) -> str:
        return self.key

    def build(self) -> Actor:
        return PolicyActor(load_policy(self.checkpoint), self.key)


@dataclass(frozen=True)
class BaselineSpec:
    """One of `BASELINES`, by its key ("hold", "random" or "expert")."""

    key: str

    def __post_init__(self) -> None:
        if self.key not in BASELINES:
            raise ValueError(f"unknown baseline {self.key!r}; available: {sorted(BASELINES)}")

    @property
    def name(self) -> str:
        return BASELINES[self.key].name

    def build(self) -> Actor:
        return BASELINES[self.key]()


class EvalError(RuntimeError):
    """An episode raised or a worker died; the message names the actor, episode and seed."""


Job = tuple[int, int]  # (index into the actors, episode index)
Outcome = tuple[bool, int]  # (success, control steps)


@dataclass(frozen=True)
class _Plan:
    """Everything needed to run any job; sent once to each worker, so it must pickle."""

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
    with tqdm(
        total=len(jobs),
        desc=f"eval ({workers} worker{'s' if workers > 1 else ''})",
        disable=None if progress else True,
        leave=False,
    ) as bar:

        def record(job: Job, outcome: Outcome) -> None:
            outcomes[job] = outcome
            bar.update()

        if workers == 1:
            _run_here(plan, jobs, record)
        else:
            _run_in_workers(plan, jobs, min(workers, len(jobs)), record)

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


def _run_here(plan: _Plan, jobs: list[Job], record: Callable[[Job, Outcome], None]) -> None:
    """The jobs in order, in this process, with torch on one thread as in a worker (batch-1
    inference gains nothing from more, and loses badly when other processes share the cores)."""
    runner = _EpisodeRunner(plan)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for job in jobs:
            try:
                outcome = runner.run(job)
            except Exception as err:
                raise EvalError(
                    f"{plan.describe(job)} failed: {type(err).__name__}: {err}"
                ) from err
            record(job, outcome)
    finally:
        torch.set_num_threads(threads)
        runner.close()


@dataclass(frozen=True)
class _Report:
    """Worker -> parent: a job started, finished, or raised (with the worker's traceback)."""

    kind: Literal["start", "done", "fail"]
    worker: int
    job: Job
    outcome: Outcome | None = None
    error: str = ""


_POLL_S = 0.2  # how often the parent checks on its workers while no report arrives
_DEATH_GRACE_S = 1.0  # a dead worker's last reports can still be in the pipe this long
_EXIT_S = 30.0  # time for workers to close their envs and exit after the last job


def _run_in_workers(
    plan: _Plan, jobs: list[Job], workers: int, record: Callable[[Job, Outcome], None]
) -> None:
    """Hand `jobs` to `workers` spawned processes one at a time; stop all of them on error."""
    ctx = multiprocessing.get_context("spawn")
    todo: multiprocessing.Queue[Job | None] = ctx.Queue()
    reports: multiprocessing.Queue[_Report] = ctx.Queue()
    for job in jobs:
        todo.put(job)
    for _ in range(workers):
        todo.put(None)  # one stop sign per worker
    procs: list[BaseProcess] = [
        ctx.Process(
            target=_worker_main, args=(w, plan, todo, reports), name=f"vitac-eval-{w}", daemon=True
        )
        for w in range(workers)
    ]
    running: dict[int, Job | None] = dict.fromkeys(range(workers))
    dead_since: dict[int, float] = {}
    try:
        with _children_ignore_sigint():
            for proc in procs:
                proc.start()
        remaining = len(jobs)
        while remaining:
            try:
                report = reports.get(timeout=_POLL_S)
            except queue.Empty:
                _check_workers(plan, procs, running, dead_since, remaining)
                continue
            if report.kind == "start":
                running[report.worker] = report.job
            elif report.kind == "done" and report.outcome is not None:
                running[report.worker] = None
                remaining -= 1
                record(report.job, report.outcome)
            else:
                raise EvalError(
                    f"{plan.describe(report.job)} failed in worker {report.worker}: {report.error}"
                )
        for proc in procs:
            proc.join(timeout=_EXIT_S)
    finally:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                proc.terminate()
        for proc in procs:
            if proc.pid is not None:
                proc.join()
        todo.cancel_join_thread()  # unsent stop signs must not block this process's exit
        todo.close()
        reports.close()


def _check_workers(
    plan: _Plan,
    procs: list[BaseProcess],
    running: dict[int, Job | None],
    dead_since: dict[int, float],
    remaining: int,
) -> None:
    """Raise EvalError if a worker died holding a job, or all died with jobs left."""
    now = time.monotonic()
    for w, proc in enumerate(procs):
        if proc.exitcode is not None:
            dead_since.setdefault(w, now)
    settled = [w for w, since in dead_since.items() if now - since >= _DEATH_GRACE_S]
    for w in settled:
        job = running[w]
        if job is not None:
            raise EvalError(
                f"worker {w} died ({_exit_reason(procs[w].exitcode)}) while running "
                f"{plan.describe(job)}"
            )
    if len(settled) == len(procs):
        reasons = ", ".join(f"worker {w}: {_exit_reason(procs[w].exitcode)}" for w in settled)
        raise EvalError(f"all workers exited with {remaining} episode(s) left ({reasons})")


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside inherit SIGINT ignored: Ctrl-C reaches only the parent,
    which then terminates them (no KeyboardInterrupt tracebacks from every worker)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_main(
    worker: int,
    plan: _Plan,
    todo: multiprocessing.Queue[Job | None],
    reports: multiprocessing.Queue[_Report],
) -> None:
    """A worker process: run jobs until a stop sign, the first error, or the parent's death."""
    torch.set_num_threads(1)  # one core per worker; the workers are the parallelism
    parent = os.getppid()
    runner = _EpisodeRunner(plan)
    try:
        while os.getppid() == parent:  # else orphaned: the parent died without stopping us
            try:
                job = todo.get(timeout=1.0)
            except queue.Empty:
                continue
            if job is None:
                return
            reports.put(_Report("start", worker, job))
            try:
                outcome = runner.run(job)
            except Exception as err:
                details = traceback.format_exc()
                error = f"{type(err).__name__}: {err}\n\nworker traceback:\n{details}"
                reports.put(_Report("fail", worker, job, error=error))
                return
            reports.put(_Report("done", worker, job, outcome))
    finally:
        runner.close()
