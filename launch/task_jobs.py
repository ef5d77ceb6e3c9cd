"""The jobs behind `vitac task`: the information probe, the task report, the touch calibration,
the search trace.

Each writes a JSON record naming the command, the commit and whether the checkout was dirty, so
that every number the docs quote can be traced to one re-runnable command.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from launch.config import ConfigError, apply_overrides
from launch.launch_file import task_config
from sim import TASKS
from sim.tasks.tactile_insertion import TactileInsertionConfig
from training.probe import ProbeError, ProbeResult, check_task, collect_probe_data, fit_and_score
from training.probe_curve import (
    MIN_SIZE,
    CurvePoint,
    curve_sizes,
    learning_curve,
    transfer_curve,
)
from training.progress import Progress
from training.search_trace import TraceSummary
from training.task_report import TaskReport, TaskReportError, run_task_report
from training.touch_calibration import PARTS as CALIBRATION_PARTS
from training.touch_calibration import calibrate, collect_presses, write_readout


@dataclass(frozen=True)
class ProbeReport:
    results: list[ProbeResult]
    samples: int
    skipped: int
    layouts: dict[str, str]
    json: Path
    seconds: float
    curve: list[CurvePoint]
    transfer: list[CurvePoint]  # fitted under the settings, scored under the test settings


def run_probe(
    task: str,
    episodes: int,
    seed: int,
    out: Path,
    command: str,
    progress: bool = True,
    variant: str | None = None,
    encoder: Path | None = None,
    decision: int = 1,
    curve: Sequence[int] = (),
    overrides: Sequence[str] = (),
    test_overrides: Sequence[str] = (),
) -> ProbeReport:
    """The information probe (training.probe) on `task`'s expert (or `variant`); writes
    `out/probe.json`. With `encoder` (a tactile encoder directory) its features and those of
    the same architecture untrained are probed too (training.probe_encoder). `decision`: which
    of each episode's decisions is the target (1: the first). `curve`: training-episode counts
    of the tactile inputs' learning curve (training.probe_curve); a count above what the
    episodes with a decision allow is lowered to that. `overrides`: task settings, as
    `task.params.KEY=VALUE`."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not an empty directory; choose a new --out")
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; available: {sorted(TASKS)}")
    if episodes < 3 or seed < 0 or decision < 1:
        raise ConfigError(
            f"need --episodes >= 3, --seed >= 0 and --decision >= 1, got {episodes}, {seed} "
            f"and {decision}"
        )
    if any(n < MIN_SIZE or n >= episodes for n in curve):
        raise ConfigError(
            f"--curve: each count of training episodes must be {MIN_SIZE} to {episodes - 1} "
            f"(under --episodes), got {list(curve)}"
        )
    if test_overrides and not curve:
        raise ConfigError("--test-set scores readers fitted on --curve counts: give --curve")
    settings = task_settings(task, overrides)
    test_settings = task_settings(task, [*overrides, *test_overrides]) if test_overrides else None
    extra = None
    if encoder is not None:
        from training.probe_encoder import encoder_inputs

        try:
            extra = encoder_inputs(encoder)
        except ValueError as err:
            raise ConfigError(f"--encoder: {err}") from err
    started = time.perf_counter()
    try:
        check_task(task, variant)
        data = collect_probe_data(
            task, episodes, seed, progress=progress, variant=variant, extra=extra,
            decision=decision, params=settings,
        )  # fmt: skip
        results = fit_and_score(data)
        points = learning_curve(data, curve_sizes(data, curve)) if curve else []
        transfer, tested = [], 0
        if test_settings is not None:
            test = collect_probe_data(
                task, episodes, seed + episodes, progress=progress, variant=variant,
                extra=extra, decision=decision, params=test_settings,
            )  # fmt: skip
            pool, tested = len(data.targets), len(test.targets)
            transfer = transfer_curve(data, test, sorted({min(n, pool) for n in curve}))
    except ProbeError as err:
        raise ConfigError(str(err)) from err
    seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    path = out / "probe.json"
    commit, dirty = git_state()
    report = {
        "task": task,
        "expert": variant or "expert",
        "decision": decision,
        "episodes": episodes,
        "seed": seed,
        "samples": len(data.targets),
        "skipped": data.skipped,
        "commit": commit,
        "dirty": dirty,
        "command": command,
        "encoder": None if encoder is None else str(encoder),
        "features": data.layouts,
        "seconds": seconds,
        "results": [r.to_json() for r in results],
        "curve": [p.to_json() for p in points],
        "test_settings": list(test_overrides),
        "test_samples": tested,  # the test episodes with a decision: what transfer is scored on
        "transfer": [p.to_json() for p in transfer],
    }
    path.write_text(json.dumps(report, indent=2))
    return ProbeReport(
        results, len(data.targets), data.skipped, data.layouts, path, seconds, points, transfer
    )


REPORT_FILE = "report.json"  # under `vitac task report --out DIR`
OVERRIDE_PREFIX = "task.params."  # the only keys `vitac task report --set` takes


def run_report(
    task: str,
    overrides: list[str],
    episodes: int,
    seed: int,
    workers: int,
    out: Path | None,
    command: str,
    progress: bool = True,
) -> tuple[TaskReport, Path | None]:
    """The task report (training.task_report) on `task` with `--set task.params.KEY=VALUE`
    overrides; writes `out/report.json` when `out` is given -> (report, its path)."""
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not an empty directory; choose a new --out")
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; available: {sorted(TASKS)}")
    if episodes < 1 or seed < 0 or workers < 1:
        raise ConfigError(
            f"need --episodes >= 1, --seed >= 0 and --workers >= 1, "
            f"got {episodes}, {seed} and {workers}"
        )
    config = task_settings(task, overrides)
    try:
        report = run_task_report(task, config, episodes, seed, workers, progress)
    except TaskReportError as err:
        raise ConfigError(str(err)) from err
    if out is None:
        return report, None
    out.mkdir(parents=True, exist_ok=True)
    commit, dirty = git_state()
    path = out / REPORT_FILE
    data = {"task": task, "command": command, "commit": commit, "dirty": dirty}
    path.write_text(json.dumps(data | report.to_json(), indent=2))
    return report, path


def task_settings(task: str, overrides: Sequence[str]) -> BaseModel:
    """`task`'s settings with `--set task.params.KEY=VALUE` overrides, validated; ConfigError
    (one line) for any other key or a bad value."""
    for item in overrides:
        if not item.strip().startswith(OVERRIDE_PREFIX):
            raise ConfigError(
                f"--set {item!r}: only task parameters can be set here, as "
                f"{OVERRIDE_PREFIX}KEY=VALUE (e.g. {OVERRIDE_PREFIX}clearance_mm=0.6)"
            )
    params = apply_overrides({}, overrides).get("task", {}).get("params", {})
    try:
        return task_config(task, params, "--set")
    except ConfigError as err:  # one line: the problems after the source
        raise ConfigError(" ".join(line.strip() for line in str(err).splitlines())) from None


def git_state() -> tuple[str | None, bool | None]:
    """The checkout's HEAD commit and whether tracked files differ from it (None outside git)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, (None if status is None else bool(status))


@dataclass(frozen=True)
class CalibrationReport:
    presses: int
    heldout_accuracy: list[float]  # per TCP axis (x, y)
    json: Path
    seconds: float


CALIBRATED_TASK = "tactile_insertion"  # the task whose expert has a touch readout


def run_calibrate(
    task: str,
    episodes: int,
    seed: int,
    out: Path,
    command: str,
    progress: bool = True,
    overrides: Sequence[str] = (),
) -> CalibrationReport:
    """Fit the touch expert's readout (training.touch_calibration) and write it to `out`;
    `overrides`: task settings (`task.params.KEY=VALUE`; the part is the calibration's)."""
    if task != CALIBRATED_TASK:
        raise ConfigError(f"only {CALIBRATED_TASK} has a touch readout to calibrate, not {task!r}")
    if out.exists() or (not out.parent.is_dir() and out.parent.exists()):
        raise ConfigError(f"{out} exists or its folder is a file; choose a new --out FILE")
    if episodes < 4 or seed < 0:
        raise ConfigError(f"need --episodes >= 4 and --seed >= 0, got {episodes} and {seed}")
    config = task_settings(task, overrides)
    assert isinstance(config, TactileInsertionConfig)  # the calibrated task's
    started = time.perf_counter()
    total = episodes * len(CALIBRATION_PARTS)
    with Progress("calibrate", total, "ep", bar=progress) as bar:
        presses = collect_presses(episodes, seed, progress=bar.update, config=config)
    try:
        readout, accuracy = calibrate(presses)
    except ValueError as err:
        raise ConfigError(f"cannot fit the readout: {err}; run more --episodes") from err
    seconds = time.perf_counter() - started
    commit, dirty = git_state()
    meta = {"command": command, "commit": commit, "dirty": dirty, "seed": seed}
    write_readout(out, readout, accuracy, presses, meta | {"seconds": round(seconds, 1)})
    return CalibrationReport(len(presses.features), accuracy, out, seconds)


def run_trace(
    checkpoint: Path,
    task_sets: list[str],
    episodes: int,
    seed: int,
    json_path: Path | None,
    command: str,
    progress: bool = True,
    inference_sets: Sequence[str] = (),
) -> list[TraceSummary]:
    """The search trace (training.search_trace) of a checkpoint and of its task's expert on
    the same seeds, the checkpoint run as `inference_sets` (`eval.inference.KEY=VALUE`) say;
    writes `json_path` when given."""
    from launch.jobs import check_policy_fits_task, checkpoint_task, inference_overrides
    from policies import load_policy
    from policies.inference import prepare_inference
    from sim import make_env
    from sim.tasks import task_env
    from training.actors import ExpertActor, PolicyActor
    from training.search_trace import EpisodeTrace, summarise, trace_episode

    if episodes < 1 or seed < 0:
        raise ConfigError(f"need --episodes >= 1 and --seed >= 0, got {episodes} and {seed}")
    name, task_cfg = checkpoint_task(checkpoint, apply_overrides({}, task_sets).get("task"))
    policy = load_policy(checkpoint)
    check_policy_fits_task(checkpoint, policy.io, name, task_cfg)
    inference = inference_overrides(inference_sets, policy.config, checkpoint)
    prepare_inference(policy, inference)
    env = make_env(name, task_cfg)
    try:
        api = task_env(env)
        needed = {"proprio.ee_pose", "proprio.ee_command"} - set(api.observation_spec())
        if needed or env.action_space.shape != (10,):
            raise ConfigError(
                f"task {name!r}: the trace needs absolute-pose actions (10 numbers) and "
                f"observations proprio.ee_pose and proprio.ee_command (an arm task)"
            )
        traces: dict[str, list[EpisodeTrace]] = {}
        actors = (PolicyActor(policy), ExpertActor())
        with Progress("trace", episodes * len(actors), "ep", bar=progress) as shown:
            for actor in actors:
                traces[actor.name] = []
                for i in range(episodes):
                    traces[actor.name].append(trace_episode(env, actor, seed + i))
                    shown.update(1)
    finally:
        env.close()
    rows = [summarise(actor, episodes_) for actor, episodes_ in traces.items()]
    if json_path is not None:
        commit, dirty = git_state()
        data = {
            "command": command,
            "commit": commit,
            "dirty": dirty,
            "checkpoint": str(checkpoint),
            "task": name,
            "task_config": task_cfg.model_dump(mode="json"),
            "inference": inference.model_dump(mode="json"),
            "n_action_steps": policy.config.n_action_steps,  # as it ran
            "summaries": [r.to_json() for r in rows],
            "episodes": {a: [vars(t) for t in ts] for a, ts in traces.items()},
        }
        json_path.write_text(json.dumps(data, indent=2))
    return rows
