"""A launch file: one section per stage; each job reads the sections it needs.

[task]     name + params (validated by the task's own config model)
[collect]  expert demonstrations        -> training.collect.CollectConfig
[policy]   the policy's hyper-parameters -> policies (by `name`)
[train]    optimisation                  -> training.trainer.TrainConfig
[eval]     closed-loop evaluation        -> training.evaluate.EvalConfig
[pretrain] tactile encoder pretraining   -> training.pretrain_plan.PretrainConfig
[transfer] the encoder transfer table    -> training.transfer.TransferConfig
[experiment] the tactile-insertion experiment -> launch.experiment_plan.ExperimentConfig
[run]      `vitac run` in real time                -> launch.run_plan.RunConfig
[rig]      the real devices `vitac run` drives (absent: the sim twin) -> launch.rig_plan.RigSection
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, model_validator

from launch.config import DEFAULT_LAUNCH_FILE, ConfigError, apply_overrides, read_toml, validate
from launch.experiment_plan import ExperimentConfig
from launch.rig_plan import RigSection
from launch.run_plan import RunConfig
from policies import BCConfig, DiffusionConfig
from sim import TASKS
from sim.experts import expert_for
from training.actors import BaselineSpec
from training.collect import CollectConfig
from training.evaluate import EvalConfig
from training.pretrain_plan import PretrainConfig
from training.trainer import TrainConfig
from training.transfer import TransferConfig

RESOLVED_LAUNCH = "config.toml"  # in a training run directory


class TaskSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "peg_insertion"
    params: dict[str, Any] = Field(default_factory=dict)


# [policy] by its `name`: one entry per registered policy kind (a test checks they agree)
PolicySection = Annotated[BCConfig | DiffusionConfig, Field(discriminator="name")]


class LaunchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: TaskSection = Field(default_factory=TaskSection)
    collect: CollectConfig = Field(default_factory=CollectConfig)
    policy: PolicySection = Field(default_factory=BCConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)
    experiment: ExperimentConfig = Field(default_factory=ExperimentConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    rig: RigSection | None = None

    @model_validator(mode="before")
    @classmethod
    def _policy_name_defaults_to_bc(cls, data: Any) -> Any:
        policy = data.get("policy") if isinstance(data, dict) else None
        if isinstance(policy, dict) and "name" not in policy:
            return {**data, "policy": {"name": "bc", **policy}}
        return data


@dataclass(frozen=True)
class Launch:
    """A validated launch file: the sections plus the task's own validated config."""

    config: LaunchConfig
    task_config: BaseModel
    source: str


def load_launch(path: Path | None, overrides: list[str] | None = None) -> Launch:
    path = Path(path) if path is not None else DEFAULT_LAUNCH_FILE
    return launch_from_data(apply_overrides(read_toml(path), overrides or []), str(path))


def launch_from_data(data: dict[str, Any], source: str) -> Launch:
    """A launch file's parsed tables (overrides applied), validated; errors name `source`."""
    config = validate(LaunchConfig, data, source)
    launch = Launch(config, task_config(config.task.name, config.task.params, source), source)
    check_expert_variants(config.task.name, source, config.eval.baselines, config.collect.expert)
    return launch


def check_expert_variants(
    task: str, source: str, baselines: list[str], demonstrator: str | None = None
) -> None:
    """ConfigError naming `source` unless the expert variants named (`collect.expert`, the
    `expert:<variant>` baselines) exist for `task`."""
    variants = [("collect.expert", demonstrator)]
    variants += [("eval.baselines", BaselineSpec.parse(b).variant) for b in baselines]
    for where, variant in variants:
        if variant is not None:
            try:
                expert_for(task, variant)
            except ValueError as e:
                raise ConfigError(f"{source}: {where}: {e}") from None


def task_config(
    name: str, params: dict[str, Any], source: str, prefix: str = "task.params"
) -> BaseModel:
    """The task's settings validated (`prefix`: where `params` came from, for the errors)."""
    if name not in TASKS:
        raise ConfigError(f"{source}: task.name: unknown task {name!r}; available: {sorted(TASKS)}")
    return validate(TASKS[name].config_cls, params, source, prefix=prefix)


def resolved_toml(launch: Launch) -> str:
    """The launch file as a run used it: every key, overrides applied, task params validated."""
    data = launch.config.model_dump(mode="json")
    data["task"]["params"] = launch.task_config.model_dump(mode="json")
    header = f"# resolved from {launch.source}; `vitac train --config THIS_FILE` repeats the run\n"
    return header + tomli_w.dumps(_without_none(data))


def _without_none(value: Any) -> Any:
    """TOML has no null: keys set to None (meaning "default") are left out."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value
