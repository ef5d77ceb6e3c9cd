"""Demonstration collection: a scripted expert drives a simulated task into the episode store.

The recorded action is the expert's clean label; with `noise_std` > 0 the executed action is
perturbed (DART-style), so the data shows how to recover from small errors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from policies import ACTION_KEY
from sensing.store import EpisodeWriter
from sim import TASKS, make_env
from sim.experts import EXPERTS
from sim.tasks import task_env


class CollectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(50, ge=1)
    seed: int = Field(0, ge=0, description="episode i uses seed + i")
    noise_std: float = Field(0.0, ge=0.0, description="executed-action noise, metres")
    keep_failures: bool = Field(False, description="also store episodes the expert failed")


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
) -> CollectResult:
    """Run the task's expert for `config.episodes` episodes and append them to a new store."""
    env = make_env(task, task_config)
    try:
        task_api = task_env(env)
        schema = {**task_api.observation_spec(), **task_api.action_spec()}
        dt = 1.0 / task_api.control_hz
        expert = EXPERTS[task](env, noise_std=config.noise_std)
        attrs = {
            "task": task,
            "task_config": task_config.model_dump(mode="json"),
            "rig": "sim",
            "gym_id": TASKS[task].gym_id,
            "collect": config.model_dump(),
        }
        stored = successes = steps = 0
        started = time.perf_counter()
        with EpisodeWriter.create(out, schema, attrs=attrs) as writer:
            bar = tqdm(
                range(config.episodes),
                desc="collect",
                unit="ep",
                disable=None if progress else True,
            )
            for i in bar:
                seed = config.seed + i
                obs, _ = env.reset(seed=seed)
                expert.reset(seed)
                done, success, t = False, False, 0
                while not done:
                    label = expert.act(obs)
                    writer.add({**obs, ACTION_KEY: label}, timestamp=t * dt)
                    obs, _, terminated, truncated, info = env.step(expert.perturb(label))
                    success = success or bool(info["is_success"])
                    done, t = terminated or truncated, t + 1
                steps += t
                successes += success
                if success or config.keep_failures:
                    writer.commit(success=success, seed=seed, task=task, rig="sim")
                    stored += 1
                else:
                    writer.discard()
                bar.set_postfix(stored=stored, expert_success=f"{successes / (i + 1):.0%}")
        return CollectResult(
            out, config.episodes, stored, successes, steps, time.perf_counter() - started
        )
    finally:
        env.close()
