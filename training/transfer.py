"""The transfer table: does a trunk pretrained on sensor A's tasks, with only unlabelled frames
of sensor B, help B learn those tasks from 10, 100 or 1000 labelled samples?

Stages, each skipped when a previous run finished it (so an interrupted run resumes):

    <out>/data/                           FoTa data from the simulator (unless --data is given)
    <out>/pretrain/                       A's supervised tasks + MAE on A and B; B's task pairs
                                          held out (validated untrained: zero-shot)
    <out>/finetune/<task>/<arm>/n<N>_s<seed>/result.json   one fine-tuning run each
    <out>/transfer.json, transfer.md      the rows and the table

Arms, trained on the same samples for the same steps: `pretrained` (every weight from the
pretraining, all trained), `frozen` (the same, only the task head trained) and `scratch` (the
same architecture, fresh weights). Each seed draws its own samples (the N=10 set of a seed
lies inside its N=100 set) and its own initialisation.
"""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from training.fota import REFERENCE_FILE, FotaError, FotaSplit
from training.pretrain import pretrain
from training.pretrain_data import TASKS, needs_shear, sensor_of
from training.pretrain_plan import PretrainConfig, check_config, pretrained_as
from training.run_dir import latest_checkpoint, validations
from training.tactile_data import SENSORS, VAL_EVERY, make_tactile_data

Arm = Literal["pretrained", "frozen", "scratch"]
RESULT_FILE = "result.json"
MADE = "made.json"  # how ensure_tactile_data made a data root: {"samples": N, "shear": bool}


class TransferConfig(BaseModel):
    """[transfer]: the fine-tuning side; the pretraining side is the [pretrain] section
    (its datasets, tasks and exclude are set from `source`, `target` and `tasks`)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field("sim_mini", description="data set whose tasks are pretrained")
    target: str = Field("sim_digit", description="data set whose labels are held out")
    tasks: list[str] = ["shape", "location", "force"]
    samples: list[int] = Field([10, 100, 1000], min_length=1)
    seeds: int = Field(3, ge=1)
    arms: list[Arm] = ["pretrained", "frozen", "scratch"]
    steps: int = Field(300, ge=1, description="fine-tuning steps, every arm and size")
    lr: float = Field(5e-4, gt=0)
    batch_size: int = Field(32, ge=1)
    data_samples: int = Field(3000, ge=1, description="presses per sensor when making data")


def run_transfer(
    config: TransferConfig,
    pretraining: PretrainConfig,
    out: Path,
    data: Path | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    device: str = "cpu",
    record: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every stage not yet done; returns the rows also written to transfer.json (after
    `record`: e.g. the command and the commit)."""
    base = _with(
        pretraining,
        datasets=[config.source, config.target],
        tasks=config.tasks,
        exclude=[f"{config.target}/{t}" for t in config.tasks],
        init=None,
        train_samples=None,
        freeze=False,
    )
    check_config(base)  # before the data is made: a mistake costs nothing
    _check_samples(config, data)
    if data is None:
        data = out / "data"
        sets = (config.source, config.target)
        shear = needs_shear(base.tasks)
        ensure_tactile_data(data, sets, config.data_samples, log, progress, shear=shear)
    trunk = ensure_pretrained(base, data, out / "pretrain", log, progress, device)
    validation = _last_validation(trunk)
    rows = [_zero_shot(config, validation, task) for task in config.tasks]
    for task in config.tasks:
        for arm in config.arms:
            for n in config.samples:
                for seed in range(config.seeds):
                    where = out / "finetune" / task / arm / f"n{n}_s{seed}"
                    tuned = _finetune_config(config, base, trunk, task, arm, n, seed)
                    value = _finetune(tuned, data, where, config.target, task, log, device)
                    rows.append(_row(config, task, arm, n, seed, value))
    table_record = {
        **(record or {}),
        "settings": config.model_dump(),
        "pretraining": validation,  # every pair after pretraining: the source's tasks too
        "rows": rows,
    }
    (out / "transfer.json").write_text(json.dumps(table_record, indent=1) + "\n")
    (out / "transfer.md").write_text(table(config, rows))
    return rows


def _check_samples(config: TransferConfig, data: Path | None) -> None:
    """The largest sample count fits the target's train split (the one to be made, or
    the one in `data`); made data needs sensors the simulator has."""
    if data is None:
        unknown = [n for n in (config.source, config.target) if sensor_of(n) not in SENSORS]
        if unknown:
            made = [f"sim_{s}" for s in SENSORS]
            raise FotaError(f"transfer: cannot make {unknown}; the simulator makes {made}")
        held = config.data_samples - config.data_samples // VAL_EVERY
        where = "transfer.data_samples"
    else:
        held, where = FotaSplit(data / config.target / "train").count, str(data / config.target)
    if max(config.samples) > held:
        raise FotaError(
            f"transfer.samples: {max(config.samples)} is more than the {held} training samples "
            f"of {config.target} ({where}); lower it or make more data"
        )


def ensure_tactile_data(
    root: Path,
    sets: Sequence[str],
    samples: int,
    log: Callable[[str], None],
    progress: bool,
    who: str = "transfer",
    shear: bool = False,
    grasp: bool = False,
    units: float = 0.0,
) -> None:
    """The FoTa data sets `sets` (sim_<sensor>) under `root`, made unless an earlier run
    finished them the same way (`shear`: with sideways pushes, `grasp`: held presses disturbed,
    `units`: each press on a sensor unit of its own; `make_tactile_data`); a set cut short, or
    made otherwise, is made again: every set of `root` is."""
    made = root / MADE
    try:
        for name in sets:
            FotaSplit(root / name / "train"), FotaSplit(root / name / "val")
        before = json.loads(made.read_text()) if made.is_file() else {}
        references = all((root / name / REFERENCE_FILE).is_file() for name in sets)
        kind: dict[str, float] = {"shear": shear, "grasp": grasp, "units": units}
        made_as = {k: before.get(k, 0.0) for k in kind}
        if made_as == kind and references:
            return  # made by an earlier run
        why = f"with {made_as}" if references else "before data sets had references"
        log(f"{who}: {root} was made {why}; making it again")
    except FotaError:
        pass  # absent or cut short
    shutil.rmtree(root, ignore_errors=True)
    how = " (grasp)" if grasp else " (shear)" if shear else ""
    how += f" (sensor units, spread {units:g})" if units else ""
    log(f"{who}: making {samples} presses per sensor in {root}{how}")
    sensors = tuple(sensor_of(name) for name in sets)
    make_tactile_data(
        root, samples, 0, sensors, progress=progress, shear=shear, grasp=grasp, units=units
    )
    done = {"samples": samples, "shear": shear, "grasp": grasp, "units": units}
    made.write_text(json.dumps(done) + "\n")


def finished_pretraining(config: PretrainConfig, run: Path) -> Path | None:
    """The final checkpoint of the pretraining run `run` when an earlier run finished it
    (`config.steps` steps), else None. A run made with other settings (another trunk, e.g.
    one copied in from elsewhere) is refused, naming them, rather than used for this one."""
    latest = latest_checkpoint(run)
    if latest is None:
        return None
    refusal = (
        f"{run} was pretrained with other settings ({{differs}}); "
        "set them as that run had them, or move it aside to pretrain anew"
    )
    saved = pretrained_as(latest, config, refusal)
    return latest if saved["step"] >= config.steps else None


def ensure_pretrained(
    config: PretrainConfig,
    data: Path,
    run: Path,
    log: Callable[[str], None],
    progress: bool,
    device: str,
    who: str = "transfer",
) -> Path:
    """The pretraining run `run`'s final checkpoint (an encoder directory): trained, or
    continued from its latest checkpoint, unless an earlier run finished it."""
    finished = finished_pretraining(config, run)
    if finished is not None:
        return finished
    latest = latest_checkpoint(run)
    log(f"{who}: pretraining in {run}" + (f" (resuming {latest.name})" if latest else ""))
    resume = latest is not None
    return pretrain(config, data, run, resume=resume, progress=progress, device=device).checkpoint


def _finetune_config(
    config: TransferConfig,
    base: PretrainConfig,
    trunk: Path,
    task: str,
    arm: Arm,
    samples: int,
    seed: int,
) -> PretrainConfig:
    return _with(
        base,
        datasets=[config.target],
        tasks=[task],
        exclude=[],
        task_weights={},
        mae_steps=0,
        supervised_steps=config.steps,
        lr=config.lr,
        batch_size=config.batch_size,
        warmup_steps=min(base.warmup_steps, config.steps // 10),
        val_every=config.steps,
        checkpoint_every=config.steps,
        seed=seed,
        train_samples=samples,
        init=None if arm == "scratch" else str(trunk),
        freeze=arm == "frozen",
    )


def _with(config: PretrainConfig, **update: Any) -> PretrainConfig:
    """`config` with `update` applied and validated."""
    return PretrainConfig.model_validate(config.model_dump() | update)


def _finetune(
    config: PretrainConfig,
    data: Path,
    run: Path,
    target: str,
    task: str,
    log: Callable[[str], None],
    device: str,
) -> float:
    done = run / RESULT_FILE
    if done.is_file():
        return float(json.loads(done.read_text())["value"])
    shutil.rmtree(run, ignore_errors=True)  # cut short: short enough to do again
    log(f"transfer: fine-tuning {run}")
    result = pretrain(config, data, run, progress=False, device=device)
    value = next(iter(result.validation[f"{target}/{task}"].values()))
    done.write_text(json.dumps({"value": value}) + "\n")
    return value


def _last_validation(trunk: Path) -> dict[str, dict[str, float]]:
    """The pretraining run's last validation, per pair."""
    last: dict[str, dict[str, float]] = validations(trunk.parent.parent)[-1]["val"]
    return last


def _zero_shot(
    config: TransferConfig, validation: dict[str, dict[str, float]], task: str
) -> dict[str, Any]:
    """The pretrained model on B's task before any of B's labels."""
    value = next(iter(validation[f"{config.target}/{task}"].values()))
    return _row(config, task, "pretrained", 0, 0, value)


def _row(
    config: TransferConfig, task: str, arm: str, samples: int, seed: int, value: float
) -> dict[str, Any]:
    spec = TASKS[task]
    return {
        "dataset": config.target,
        "task": task,
        "metric": spec.metric,
        "unit": spec.unit,
        "arm": arm,
        "samples": samples,
        "seed": seed,
        "value": value,
    }


def table(config: TransferConfig, rows: list[dict[str, Any]]) -> str:
    """Markdown: per task, a line per sample count, a column per arm (mean over seeds, and
    the range when there are several)."""
    out = []
    for task in config.tasks:
        spec = TASKS[task]
        better = "higher" if spec.metric == "accuracy" else "lower"
        unit = f" ({spec.unit})" if spec.unit else ""
        out.append(f"**{config.target} / {task}**: {spec.metric}{unit}, {better} is better\n")
        out.append("| samples | " + " | ".join(config.arms) + " |")
        out.append("|---:|" + "---:|" * len(config.arms))
        for n in [0, *config.samples]:
            cells = []
            for arm in config.arms:
                values = [
                    r["value"]
                    for r in rows
                    if r["task"] == task and r["arm"] == arm and r["samples"] == n
                ]
                cells.append(_cell(values))
            out.append(f"| {n} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.3g}"
    return f"{mean:.3g} ({min(values):.3g}-{max(values):.3g})"
