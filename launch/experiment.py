"""`vitac experiment tactile-insertion`: does a pretrained tactile trunk make 0.4 mm insertion
succeed? One set of demonstrations, one pretrained trunk, and every policy trained in three
arms (launch.experiment_plan) for several seeds, each evaluated per part on the same seeds.

Stages, each skipped when an earlier run finished it (so an interrupted run resumes; a
training run cut short continues from its latest checkpoint):

    <out>/demos/<part>.zarr                  the task's expert per part (collect.* settings)
    <out>/demos/all.zarr                     every part's demonstrations: all arms' data
    <out>/pretrain/data/                     FoTa presses of both sensor profiles (no insertion;
                                             not needed once the trunk is finished)
    <out>/pretrain/run/                      MAE + supervised pretraining ([pretrain]): the trunk
                                             (of the pretrained and scratch arms; not made
                                             when neither is run)
    <out>/references/<part>.json             the expert and zero motion on the evaluation seeds
    <out>/runs/<policy>/<arm>/s<seed>/train  one training run (its config.toml repeats it)
    <out>/runs/<policy>/<arm>/s<seed>/eval/<part>.json   its evaluation on one part
    <out>/tactile_insertion.{json,md,png}    the rows, the pooled table, the plot

`<out>/seconds.json` adds up the wall time of every stage over all the runs it took.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from launch.config import ConfigError
from launch.experiment_plan import TRUNK_ARMS, Arm, arm_data
from launch.experiment_report import Row, write_report
from launch.jobs import run_collect, run_train
from launch.launch_file import Launch, launch_from_data, task_config
from policies import read_checkpoint_config
from sensing.errors import DatasetError
from sensing.store import EpisodeStore, EpisodeWriter
from training.actors import ActorSpec, BaselineSpec, PolicySpec
from training.evaluate import evaluate_parallel
from training.pretrain_data import needs_shear
from training.pretrain_plan import check_config
from training.resume import flat_diff
from training.run_dir import latest_checkpoint, resolve_checkpoint
from training.transfer import ensure_pretrained, ensure_tactile_data, finished_pretraining

TASK = "tactile_insertion"
DONE = "done.json"  # a finished stage's marker (and what it produced)
SETTINGS = "settings.json"  # the launch file's tables as the run in <out> began
CHANGEABLE = (  # none of these changes a finished stage: runs are added, or left out
    ".experiment.seeds",
    ".experiment.first_seed",
    ".experiment.arms",
    ".experiment.episodes",
    ".experiment.videos",
    ".eval.workers",
)
Log = Callable[[str], None]


def run_experiment(
    data: dict[str, Any],
    source: str,
    out: Path,
    log: Log = print,
    progress: bool = True,
    device: str = "cpu",
    record: Mapping[str, Any] | None = None,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    """Every stage not yet done; returns the record written to tactile_insertion.json (which
    starts with `record`: the command and the commit). The report is rewritten after every
    run's evaluation, so a run cut short shows what it has. `only`: run (and report) these
    policies' arms alone (the shared stages are the same either way)."""
    table = data.get("task")
    task = table.get("name") if isinstance(table, dict) else None
    if task != TASK:  # before the launch file's own checks, which are the task's
        raise ConfigError(f"{source}: task.name is {task!r}; expected {TASK!r}")
    launch = launch_from_data(data, source)
    exp = launch.config.experiment
    _check(launch, data, source)
    unknown = sorted(set(only) - set(exp.policies))
    if unknown:
        raise ConfigError(f"--only {unknown}: not in experiment.policies ({sorted(exp.policies)})")
    _same_settings(data, out / SETTINGS)
    clock = _Clock(out / "seconds.json")
    with clock("demonstrations"):
        demos = _demonstrations(launch, out / "demos", log, progress)
    obs_keys = [k for k in EpisodeStore.open(demos).schema if k != "action"]
    pretraining = launch.config.pretrain
    data_dir, run_dir = out / "pretrain" / "data", out / "pretrain" / "run"
    # a finished trunk needs no data: a run moved to another machine may carry the trunk alone
    needs_trunk = any(arm in TRUNK_ARMS for arm in exp.arms)
    trunk = finished_pretraining(pretraining, run_dir) if needs_trunk else None
    if trunk is None and needs_trunk:
        with clock("pretraining data"):
            ensure_tactile_data(
                data_dir, pretraining.datasets, exp.data_samples, log, progress, "experiment",
                shear=needs_shear(pretraining.tasks), grasp=exp.grasp_data,
                units=exp.data_unit_spread,
            )  # fmt: skip
        with clock("pretraining"):
            trunk = ensure_pretrained(
                pretraining, data_dir, run_dir, log, progress, device, "experiment"
            )
    with clock("references"):
        references = [_reference(launch, part, out / "references", log) for part in exp.parts]
    rows: list[Row] = []
    record = {**(record or {}), "settings": exp.model_dump(mode="json"), "references": references}
    for policy in [p for p in exp.policies if not only or p in only]:
        for arm in exp.arms:
            for seed in range(exp.first_seed, exp.first_seed + exp.seeds):
                run = out / "runs" / policy / arm / f"s{seed}"
                arm_launch = _arm_launch(launch, data, policy, arm, seed, trunk, obs_keys)
                with clock(f"train {policy}"):
                    checkpoint = _trained(arm_launch, demos, run / "train", log, progress, device)
                for part in exp.parts:
                    with clock(f"eval {policy}"):
                        result = _evaluated(
                            launch, arm_launch, checkpoint, part, seed, run, log, device
                        )
                    rows.append(Row(policy, part, arm, seed, *result))
                record = _report(record, clock, rows, out)  # so far: a cut-short run shows it
    return record


def _report(record: dict[str, Any], clock: _Clock, rows: list[Row], out: Path) -> dict[str, Any]:
    full = {**record, "seconds": clock.totals(), "results": [row.json() for row in rows]}
    write_report(full, out)
    return full


def _check(launch: Launch, data: dict[str, Any], source: str) -> None:
    """Refuse before any work what would fail later: no policies, unknown pretraining tasks,
    an arm whose launch file does not validate."""
    exp = launch.config.experiment
    check_config(launch.config.pretrain)
    if not exp.policies:
        raise ConfigError(f"{source}: experiment.policies is empty; name at least one policy")
    if "part" in exp.eval_task_params:
        raise ConfigError(
            f"{source}: experiment.eval_task_params.part: the parts are experiment.parts"
        )
    _part_config(launch, exp.parts[0], evaluation=True)
    keys = ["tactile.left", "tactile.right", "rgb.scene"]  # placeholders: only keys matter here
    for policy in exp.policies:
        for arm in exp.arms:
            _arm_launch(launch, data, policy, arm, 0, Path("pretrain/run"), keys)


def _same_settings(data: dict[str, Any], path: Path) -> None:
    """Record the settings of a new run; refuse to resume one made with others (its finished
    stages would be mixed with new ones), except for seeds, arms, episodes or workers."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, default=str) + "\n")
        return
    before = json.loads(path.read_text())
    now = json.loads(json.dumps(data, default=str))
    changed = [d for d in flat_diff(before, now, "") if not d.startswith(CHANGEABLE)]
    if changed:
        raise ConfigError(
            f"{path.parent} was run with other settings ({'; '.join(d[1:] for d in changed)}); "
            "resume it with the settings it began with, or choose a new --out"
        )


def _arm_launch(
    launch: Launch,
    data: dict[str, Any],
    policy: str,
    arm: Arm,
    seed: int,
    trunk: Path | None,
    obs_keys: list[str],
) -> Launch:
    """The validated launch of one run (`launch`: the experiment's, from `data`)."""
    source, mode = launch.source, launch.config.experiment.pretrained_mode
    try:
        derived = arm_data(data, policy, arm, seed, trunk, obs_keys, mode)
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from err
    return launch_from_data(derived, f"{source} (experiment.policies.{policy}, arm {arm})")


def _part_config(launch: Launch, part: str, evaluation: bool = False) -> Any:
    """The task's settings for `part`: to collect on, or (`evaluation`) to evaluate on, with
    experiment.eval_task_params merged over them."""
    params = launch.task_config.model_dump(mode="json")
    prefix = "task.params"
    if evaluation and launch.config.experiment.eval_task_params:
        params |= launch.config.experiment.eval_task_params
        prefix = "experiment.eval_task_params"  # task.params alone validated before
    return task_config(TASK, params | {"part": part}, launch.source, prefix)


def _demonstrations(launch: Launch, root: Path, log: Log, progress: bool) -> Path:
    """Each part's demonstrations (collect.seed + k x part_seed_stride for part k), then
    all of them in one store."""
    exp = launch.config.experiment
    merged = root / "all.zarr"
    if (root / DONE).is_file():
        return merged
    stores = []
    for k, part in enumerate(exp.parts):
        path = root / f"{part}.zarr"
        stores.append(path)
        if (root / f"{part}.{DONE}").is_file():
            continue
        collect = launch.config.collect.model_copy(
            update={"seed": launch.config.collect.seed + k * exp.part_seed_stride}
        )
        part_launch = Launch(
            launch.config.model_copy(update={"collect": collect}),
            _part_config(launch, part),
            launch.source,
        )
        resume = _resumable(path)
        log(f"experiment: {collect.episodes} demonstrations of {part}" + " (resumed)" * resume)
        result = run_collect(part_launch, path, progress, resume=resume)
        (root / f"{part}.{DONE}").write_text(json.dumps({"stored": result.stored}) + "\n")
    shutil.rmtree(merged, ignore_errors=True)  # cut short: cheap to make again
    sources = [EpisodeStore.open(p) for p in stores]
    attrs = {**sources[0].attrs, "parts": list(exp.parts)}
    with EpisodeWriter.create(merged, sources[0].schema, attrs=attrs) as writer:
        for part, store in zip(exp.parts, sources, strict=True):
            for i in range(store.n_episodes):
                writer.copy_episode(store, i, part=part)
    if not writer.n_episodes:
        raise DatasetError(f"{root}: the expert stored no demonstration; nothing to train on")
    (root / DONE).write_text(json.dumps({"episodes": writer.n_episodes}) + "\n")
    return merged


def _resumable(path: Path) -> bool:
    """A store an interrupted collection left (continued), else nothing there (a damaged
    or empty one is removed)."""
    try:
        return EpisodeStore.open(path).n_episodes > 0
    except DatasetError:
        shutil.rmtree(path, ignore_errors=True)
        return False


def _reference(launch: Launch, part: str, root: Path, log: Log) -> dict[str, Any]:
    """The task's expert and zero motion on the evaluation seeds of `part`."""
    path = root / f"{part}.json"
    exp, workers = launch.config.experiment, launch.config.eval.workers
    found: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    if found.get("expert", [0, 0])[1] == exp.episodes:
        return found  # done before, with as many episodes as asked now
    log(f"experiment: references on {part} ({exp.episodes} episodes)")
    kinds = ["expert", "hold"]  # the expert: the demonstrator (collect.expert)
    demonstrator = BaselineSpec("expert", launch.config.collect.expert)
    actors: list[ActorSpec] = [demonstrator, BaselineSpec("hold")]
    evaluated = _part_config(launch, part, evaluation=True)
    results = evaluate_parallel(
        TASK, evaluated, actors, exp.episodes, exp.eval_seed, workers, None, 0, False
    )
    row = {"part": part} | {
        k: [sum(r.successes), r.episodes] for k, r in zip(kinds, results, strict=True)
    }
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row) + "\n")
    return row


def _trained(launch: Launch, demos: Path, run: Path, log: Log, progress: bool, device: str) -> Path:
    """The run's final checkpoint: trained, continued, or found finished (an evaluation of
    the run made before it was trained on is removed)."""
    done = run / DONE
    if done.is_file():
        return Path(json.loads(done.read_text())["checkpoint"])
    latest = latest_checkpoint(run)
    steps = read_checkpoint_config(latest)["metadata"]["step"] if latest is not None else 0
    if steps < launch.config.train.steps:
        shutil.rmtree(run.parent / "eval", ignore_errors=True)  # of an earlier model: stale
        log(f"experiment: training {run}" + " (resumed)" * (latest is not None))
        run_train(launch, demos, run, resume=latest is not None, progress=progress, log=log,
                  device=device)  # fmt: skip
    checkpoint = resolve_checkpoint(run)  # the rollouts' best when they ran, else the last
    done.write_text(json.dumps({"checkpoint": str(checkpoint.resolve())}) + "\n")
    return checkpoint


def _evaluated(
    launch: Launch,
    arm: Launch,
    checkpoint: Path,
    part: str,
    seed: int,
    run: Path,
    log: Log,
    device: str,
) -> tuple[int, int]:
    """(successes, episodes) of the checkpoint on `part` as the experiment (`launch`) says,
    run as its policy's launch (`arm`) deploys it; the first seed's runs keep videos."""
    path = run / "eval" / f"{part}.json"
    exp, inference = launch.config.experiment, arm.config.eval.inference
    found = json.loads(path.read_text()) if path.is_file() else {}
    if found.get("episodes") == exp.episodes:  # done before, with as many episodes as now
        return int(found["successes"]), int(found["episodes"])
    log(f"experiment: evaluating {run} on {part} ({exp.episodes} episodes)")
    videos = exp.videos if seed == exp.first_seed else 0
    (result,) = evaluate_parallel(
        TASK,
        _part_config(launch, part, evaluation=True),
        [PolicySpec(checkpoint, device=device, inference=inference)],
        exp.episodes,
        exp.eval_seed,
        arm.config.eval.workers,
        run / "videos" / part if videos else None,
        videos,
        False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    found = {
        "successes": sum(result.successes),
        "episodes": result.episodes,
        "outcomes": result.successes,
        "lengths": result.lengths,
        "seeds": result.seeds,
        "videos": [str(v) for v in result.videos],
    }
    path.write_text(json.dumps(found) + "\n")
    return sum(result.successes), result.episodes


class _Clock:
    """Wall seconds per stage, added up over every run of the experiment (kept in a file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.seconds[stage] = self.seconds.get(stage, 0.0) + spent
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.seconds, indent=1) + "\n")

    def totals(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.seconds.items()}
