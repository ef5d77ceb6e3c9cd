"""The jobs behind the CLI: collect, train, evaluate and the end-to-end demo (task measures:
`launch.task_jobs`; the launch file's sections: `launch.launch_file`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from drivers.spec import FieldSpec
from launch.config import ConfigError, apply_overrides, validate
from launch.launch_file import RESOLVED_LAUNCH, Launch, resolved_toml, task_config
from policies import (
    ACTION_KEY,
    CheckpointError,
    PolicyConfig,
    PolicyIO,
    load_policy,
    read_checkpoint_config,
)
from policies.inference import InferenceConfig, deployed_config
from sensing.store import EpisodeStore
from sim import make_env
from sim.tasks import task_env
from training.actors import ActorSpec, BaselineSpec, PolicySpec
from training.collect import CollectResult, collect
from training.dataset import policy_io_from_schema
from training.eval_stats import EvalResult
from training.evaluate import EvalConfig, evaluate_parallel
from training.metric_sinks import missing_sinks
from training.plots import plot_summary
from training.resume import flat_diff
from training.rollouts import RolloutConfig
from training.run_dir import read_metrics
from training.trainer import TrainResult, train

VIDEO_DIR = "videos"  # under a run directory: videos/<actor>/seed_<seed>.mp4


def run_collect(
    launch: Launch, out: Path, progress: bool = True, resume: bool = False
) -> CollectResult:
    return collect(
        launch.config.task.name,
        launch.task_config,
        launch.config.collect,
        out,
        progress,
        resume=resume,
    )


def run_train(
    launch: Launch,
    dataset: Path,
    out: Path,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    device: str = "cpu",
) -> TrainResult:
    """Train on `dataset` into the run directory `out`, which also gets `config.toml`: the
    launch file as resolved (overrides applied, defaults filled in)."""
    check_inference(launch.config.policy, launch.config.eval.inference, launch.source)
    missing = missing_sinks(launch.config.train.log)
    if missing:
        raise ConfigError(f"train.log asks for sinks that are not installed: {', '.join(missing)}")
    attrs = EpisodeStore.open(dataset).attrs
    if "task" in attrs:
        differs = flat_diff(
            {"name": attrs["task"], "params": attrs.get("task_config", {})},
            {"name": launch.config.task.name, "params": launch.task_config.model_dump(mode="json")},
            "task",
        )
        if differs:
            log(
                f"warning: {launch.source} [task] is not the task {dataset} was collected on "
                f"(dataset -> launch file: {'; '.join(differs)}); the policy learns the "
                "dataset's task, and `vitac eval` runs that task"
            )
    return train(
        launch.config.policy,
        launch.config.train,
        dataset,
        out,
        resume=resume,
        progress=progress,
        metadata={"launch_file": launch.source},
        log=log,
        device=device,
        run_files={RESOLVED_LAUNCH: resolved_toml(launch)},
        rollout=_rollout(launch.config.train.rollout, launch.config.eval.inference, device)
        if launch.config.train.rollout.every is not None
        else None,
    )


def _rollout(
    config: RolloutConfig, inference: InferenceConfig, device: str
) -> Callable[[Path], float]:
    """Success rate of a checkpoint over the rollout's seeded episodes of its own task, run
    the way eval will run it (`eval.inference`)."""

    def run(checkpoint: Path) -> float:
        name, task_cfg = checkpoint_task(checkpoint)
        actors: list[ActorSpec] = [PolicySpec(checkpoint, device=device, inference=inference)]
        (result,) = evaluate_parallel(
            name, task_cfg, actors, config.episodes, config.seed, config.workers, progress=False
        )
        return result.success_rate

    return run


def run_eval(
    checkpoint: Path,
    config: EvalConfig,
    video_dir: Path | None = None,
    progress: bool = True,
    task: tuple[str, BaseModel] | None = None,
    device: str = "cpu",
) -> list[EvalResult]:
    """Evaluate a checkpoint on the task it was trained for (or `task`), then the baselines.

    The policy's inputs and action size are checked against the task's observations before
    any episode runs. The first `config.videos` episodes of each actor go to
    `video_dir/<actor>/seed_<seed>.mp4` (none without a `video_dir`); `config.workers`
    processes run the episodes.
    """
    name, task_cfg = task or checkpoint_task(checkpoint)
    policy = load_policy(checkpoint)  # a broken checkpoint fails here, once, not in every worker
    check_policy_fits_task(checkpoint, policy.io, name, task_cfg)
    check_inference(policy.config, config.inference, checkpoint)  # and so does a bad override
    actors: list[ActorSpec] = [PolicySpec(checkpoint, device=device, inference=config.inference)]
    actors += [BaselineSpec.parse(b) for b in config.baselines]
    return evaluate_parallel(
        name,
        task_cfg,
        actors,
        config.episodes,
        config.seed,
        workers=config.workers,
        video_dir=video_dir,
        video_episodes=config.videos if video_dir is not None else 0,
        progress=progress,
    )


def check_inference(policy: PolicyConfig, inference: InferenceConfig, where: object) -> None:
    """eval.inference's overrides must fit the policy they will run (before any training or
    episode): ConfigError naming `where` (the launch file or checkpoint) otherwise."""
    try:
        deployed_config(policy, inference)
    except ValueError as err:
        raise ConfigError(f"eval.inference does not fit {where}: {err}") from err


def inference_overrides(
    sets: Sequence[str], policy: PolicyConfig, where: object
) -> InferenceConfig:
    """`eval.inference.KEY=VALUE` words (from `--set`) as the config they make, checked against
    the policy they will run; ConfigError naming the key or `where` otherwise."""
    bad = [s for s in sets if not s.startswith("eval.inference.")]
    if bad:
        raise ConfigError(f"--set takes eval.inference.* keys here, got {bad}")
    data = apply_overrides({}, sets).get("eval", {}).get("inference", {})
    inference = validate(InferenceConfig, data, "--set", "eval.inference")
    check_inference(policy, inference, where)
    return inference


def checkpoint_task(
    checkpoint: Path, overrides: dict[str, Any] | None = None
) -> tuple[str, BaseModel]:
    """The task a checkpoint was trained on and its validated config, from its metadata;
    `overrides` ({"name": ..., "params": {...}}, from `--set task.*`) change it."""
    attrs = read_checkpoint_config(checkpoint)["metadata"].get("dataset_attrs", {})
    if "task" not in attrs:
        raise ConfigError(f"{checkpoint}: the checkpoint does not say which task it was trained on")
    overrides = overrides or {}
    name = overrides.get("name", attrs["task"])
    params = attrs.get("task_config", {}) if name == attrs["task"] else {}
    params = {**params, **overrides.get("params", {})}
    source = f"{checkpoint} (metadata)" if not overrides else "--set task.*"
    return name, task_config(name, params, source)


@dataclass(frozen=True)
class TaskSchema:
    observations: dict[str, FieldSpec]
    actions: dict[str, FieldSpec]
    control_hz: float


def task_schema(task: str, config: BaseModel) -> TaskSchema:
    """What `task` as configured observes and takes, and its control rate (its env built and
    closed)."""
    env = make_env(task, config)
    try:
        api = task_env(env)
        return TaskSchema(api.observation_spec(), api.action_spec(), api.control_hz)
    finally:
        env.close()


def check_policy_fits_task(checkpoint: Path, io: PolicyIO, task: str, config: BaseModel) -> None:
    """CheckpointError unless `task` as configured gives every input the policy reads, at the
    shape it was trained on, and takes actions of its size."""
    schema = task_schema(task, config)
    check_policy_fits_schema(checkpoint, io, schema.observations | schema.actions, f"task {task!r}")


def check_policy_fits_schema(
    checkpoint: Path, io: PolicyIO, schema: dict[str, FieldSpec], source: str
) -> None:
    """CheckpointError unless `schema` (of `source`: a task as configured, a store) has every
    input the policy reads, at the shape it was trained on, and actions of its size."""
    missing = sorted(k for k in io.obs_shapes if k not in schema)
    if missing:
        raise CheckpointError(
            f"{checkpoint}: the policy reads {missing}, which {source} does not have "
            f"(it gives {sorted(k for k in schema if k != ACTION_KEY)})"
        )
    wanted = io.model_dump(mode="json")
    given = policy_io_from_schema(schema, list(io.obs_shapes)).model_dump(mode="json")
    problems = flat_diff(wanted, given, "io")
    if problems:
        raise CheckpointError(
            f"{checkpoint}: the policy does not fit {source} (policy -> {source}): "
            f"{'; '.join(problems)}"
        )


@dataclass(frozen=True)
class EvalReport:
    results: list[EvalResult]
    json: Path
    plot: Path
    videos: list[Path]
    seconds: float


def run_eval_to_dir(
    checkpoint: Path,
    config: EvalConfig,
    out: Path,
    progress: bool = True,
    task: tuple[str, BaseModel] | None = None,
    device: str = "cpu",
) -> EvalReport:
    """`run_eval`, then write `out/results.json`, `out/summary.png` and `out/videos/`."""
    if out.exists() and any(out.iterdir()):
        raise ConfigError(
            f"{out} exists and is not empty; choose a new --out (nothing is overwritten)"
        )
    name, task_cfg = task or checkpoint_task(checkpoint)
    started = time.perf_counter()
    results = run_eval(checkpoint, config, out / VIDEO_DIR, progress, (name, task_cfg), device)
    seconds = time.perf_counter() - started
    plot = plot_summary(
        None, results, out / "summary.png", f"{name}: {checkpoint.name} vs baselines"
    )
    path = out / "results.json"
    path.write_text(
        json.dumps(
            {
                "checkpoint": portable(checkpoint, out),
                "task": name,
                "task_config": task_cfg.model_dump(mode="json"),
                "config": config.model_dump(mode="json"),
                "seconds": seconds,
                "results": [results_json(r, out) for r in results],
            },
            indent=2,
        )
    )
    return EvalReport(results, path, plot, [v for r in results for v in r.videos], seconds)


def portable(path: Path | str, out: Path) -> str:
    """A path for a JSON file in `out`: relative to `out` when inside it (the directory can
    move), else absolute (it does not depend on where the command ran)."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(out.resolve()).as_posix()
    except ValueError:
        return str(resolved)


def results_json(result: EvalResult, out: Path) -> dict[str, Any]:
    return result.to_json() | {"videos": [portable(v, out) for v in result.videos]}


@dataclass(frozen=True)
class DemoReport:
    out: Path
    collect: CollectResult
    train: TrainResult
    results: list[EvalResult]
    plot: Path
    videos: list[Path]
    seconds: float

    def lines(self) -> list[str]:
        c, t = self.collect, self.train
        return [
            f"collected {c.stored}/{c.attempted} expert episodes (expert success "
            f"{c.expert_successes / c.attempted:.0%}, {c.steps_per_s:.0f} env steps/s)",
            f"trained {t.steps} steps at {t.iterations_per_s:.1f} it/s "
            f"(final train loss {t.train_loss:.4f}"
            + (f", val loss {t.val_loss:.4f})" if t.val_loss is not None else ")"),
            *[r.summary() for r in self.results],
            f"dataset:    {c.path}",
            f"checkpoint: {t.best or t.checkpoint}"
            + (" (best of the rollouts)" if t.best is not None else ""),
            f"plot:       {self.plot}",
            *(
                [f"videos:     {self.out / VIDEO_DIR} ({len(self.videos)} mp4)"]
                if self.videos
                else []
            ),
            f"report:     {self.out / 'report.json'}",
            f"total time: {self.seconds:.0f} s",
        ]


def run_demo(
    launch: Launch,
    out: Path,
    progress: bool = True,
    log: Callable[[str], None] = print,
    device: str = "cpu",
) -> DemoReport:
    """Collect expert demos -> train -> evaluate against baselines -> plot, videos, report."""
    if out.exists() and any(out.iterdir()):
        raise ConfigError(
            f"{out} exists and is not empty; choose a new --out (nothing is overwritten)"
        )
    started = time.perf_counter()
    cfg = launch.config
    log(f"[1/3] collecting {cfg.collect.episodes} expert episodes of {cfg.task.name}")
    collected = run_collect(launch, out / "dataset.zarr", progress)
    log(f"[2/3] training {cfg.policy.name} for {cfg.train.steps} steps")
    trained = run_train(
        launch, collected.path, out / "train", progress=progress, log=log, device=device
    )
    actors = ", ".join(["policy", *cfg.eval.baselines])
    log(
        f"[3/3] evaluating {actors} over {cfg.eval.episodes} episodes each "
        f"({cfg.eval.workers} worker{'s' if cfg.eval.workers > 1 else ''})"
    )
    chosen = trained.best or trained.checkpoint  # the rollouts' pick when they ran
    results = run_eval(chosen, cfg.eval, out / VIDEO_DIR, progress, device=device)
    metrics = read_metrics(out / "train")
    plot = plot_summary(
        metrics, results, out / "summary.png", f"{cfg.task.name}: {cfg.policy.name} vs baselines"
    )
    videos = [v for r in results for v in r.videos]
    report = DemoReport(
        out, collected, trained, results, plot, videos, time.perf_counter() - started
    )
    (out / "report.json").write_text(
        json.dumps(
            {
                "launch_file": portable(launch.source, out),
                "config": launch.config.model_dump(mode="json"),
                "collect": {
                    "episodes": collected.stored,
                    "expert_successes": collected.expert_successes,
                    "env_steps_per_s": collected.steps_per_s,
                },
                "train": {
                    "steps": trained.steps,
                    "it_per_s": trained.iterations_per_s,
                    "train_loss": trained.train_loss,
                    "val_loss": trained.val_loss,
                    "checkpoint": portable(trained.checkpoint, out),
                    "evaluated": portable(chosen, out),
                },
                "eval": [results_json(r, out) for r in results],
                "seconds": report.seconds,
            },
            indent=2,
        )
    )
    return report
