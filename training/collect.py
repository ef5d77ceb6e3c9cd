"""Demonstration collection: a scripted expert drives a simulated task into the episode store.

The recorded action is the expert's clean label; with `noise_std` > 0 the executed action is
perturbed (DART-style), so the data shows how to recover from small errors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drivers.spec import FieldSpec
from policies import ACTION_KEY
from sensing.errors import DatasetError
from sensing.store import EpisodeStore, EpisodeWriter
from sim import TASKS, make_env
from sim.experts import DEFAULT_EXPERT, expert_for
from sim.tasks import task_env
from training.interrupt import Interrupted, stop_on_signals
from training.progress import Progress
from training.resume import flat_diff


class CollectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(50, ge=1)
    seed: int = Field(0, ge=0, description="episode i uses seed + i")
    noise_std: float = Field(0.0, ge=0.0, description="executed-action noise, metres")
    keep_failures: bool = Field(False, description="also store episodes the expert failed")
    expert: str | None = Field(
        None,
        description="a named variant of the task's expert (sim.experts.EXPERT_VARIANTS, e.g. "
        f"memoryless) as the demonstrator; None or {DEFAULT_EXPERT!r}: the task's expert",
    )

    @field_validator("expert")
    @classmethod
    def _default_is_none(cls, expert: str | None) -> str | None:
        # one spelling of the default, so a store collected by it resumes under either name
        return None if expert == DEFAULT_EXPERT else expert


@dataclass(frozen=True)
class CollectResult:
    path: Path
    attempted: int
    stored: int
    expert_successes: int
    env_steps: int
    seconds: float

    @property
    def steps_per_s(self) -> float:
        return self.env_steps / self.seconds if self.seconds > 0 else float("nan")


def collect(
    task: str,
    task_config: BaseModel,
    config: CollectConfig,
    out: Path,
    progress: bool = True,
    *,
    resume: bool = False,
) -> CollectResult:
    """Run the task's expert for `config.episodes` episodes and append them to a new store.

    With `resume`, `out` is a store an earlier, interrupted collection of the same task and
    config left: attempts continue after its last committed episode (episode i still uses
    seed + i), so the finished store equals an uninterrupted collection's. On SIGINT/SIGTERM
    the episode in progress is dropped and `Interrupted` says how many are kept.
    """
    env = make_env(task, task_config)
    try:
        task_api = task_env(env)
        schema = {**task_api.observation_spec(), **task_api.action_spec()}
        dt = 1.0 / task_api.control_hz
        factory, kwargs = expert_for(task, config.expert)
        expert = factory(env, noise_std=config.noise_std, **kwargs)
        attrs = {
            "task": task,
            "task_config": task_config.model_dump(mode="json"),
            "rig": "sim",
            "gym_id": TASKS[task].gym_id,
            "collect": config.model_dump(),
        }
        writer = _open_store(out, schema, attrs, resume)
        stored = successes = steps = 0
        started = time.perf_counter()
        with writer, stop_on_signals() as stop:
            first = _next_attempt(writer, config) if resume else 0
            bar = Progress("collect", config.episodes, "ep", initial=first, bar=progress)
            for i in range(first, config.episodes):
                seed = config.seed + i
                obs, _ = env.reset(seed=seed)
                expert.reset(seed)
                done, success, t = False, False, 0
                while not done and not stop:
                    label = expert.act(obs)
                    writer.add({**obs, ACTION_KEY: label}, timestamp=t * dt)
                    obs, _, terminated, truncated, info = env.step(expert.perturb(label))
                    success = success or bool(info["is_success"])
                    done, t = terminated or truncated, t + 1
                if stop.signum is not None:
                    writer.discard()
                    bar.close()
                    raise Interrupted(
                        f"stopped during episode {i} of {config.episodes}; {out} keeps its "
                        f"{writer.n_episodes} committed episodes (the one in progress was "
                        "dropped)",
                        stop.signum,
                    )
                steps += t
                successes += success
                if success or config.keep_failures:
                    writer.commit(success=success, seed=seed, task=task, rig="sim")
                    stored += 1
                else:
                    writer.discard()
                bar.update(1, stored=stored, expert_success=f"{successes / (i + 1 - first):.0%}")
            bar.close()
        attempted = config.episodes - first
        return CollectResult(
            out, attempted, stored, successes, steps, time.perf_counter() - started
        )
    finally:
        env.close()


def _open_store(
    out: Path, schema: dict[str, FieldSpec], attrs: dict[str, Any], resume: bool
) -> EpisodeWriter:
    """A new store, or (resume) the existing one after checking it was made the same way."""
    if not resume:
        return EpisodeWriter.create(out, schema, attrs=attrs)
    store = EpisodeStore.open(out)
    old = {**store.attrs, "collect": {**store.attrs.get("collect", {}), "episodes": None}}
    new = {**attrs, "collect": {**attrs["collect"], "episodes": None}}  # may be raised
    problems = flat_diff(old, new, "attrs")
    problems += flat_diff(
        {k: s.model_dump(mode="json") for k, s in store.schema.items()},
        {k: s.model_dump(mode="json") for k, s in schema.items()},
        "schema",
    )
    if problems:
        raise DatasetError(
            f"{out}: was collected differently, so it cannot be resumed ("
            + "; ".join(problems)
            + "); resume with the launch file that made it, or collect into a new store"
        )
    writer = EpisodeWriter.open(out)
    writer.set_attrs(attrs)  # the episode count asked for now
    return writer


def _next_attempt(writer: EpisodeWriter, config: CollectConfig) -> int:
    """The attempt after the last committed episode (attempt i used seed + i)."""
    seeds = writer.episode_seeds()
    first = (max(seeds) - config.seed + 1) if seeds else 0
    if first >= config.episodes:
        raise DatasetError(
            f"{writer.path} already holds the {config.episodes} attempted episodes of this "
            "collection; nothing to resume"
        )
    return first
