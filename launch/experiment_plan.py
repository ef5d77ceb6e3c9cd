"""What the tactile-insertion experiment runs: its settings (`[experiment]`) and the launch
file each (policy, arm, seed) trains with.

Every arm of one policy is the experiment's launch file with that policy's sections
(`[experiment.policies.<name>]`, e.g. its `policy` and `train` tables) merged over it, and
then only what makes the arm:

    pretrained  policy.tactile_encoder = "t3", policy.t3 = the pretrained trunk (frozen, or
                fine-tuned with `pretrained_mode = "finetune"`)
    scratch     the same transformer, fresh weights, trained with the policy
    no_touch    train.obs_keys = every observation but the tactile images (nor their
                episode-first frames in policy.base_frame_keys)
    conv        a reference beside the goal's three: touch through the policy's own conv
                encoders, trained with it (the launch file unchanged)

So vision, proprioception, data, steps and batch are the same in every arm by construction;
each run directory keeps the resolved launch file (`config.toml`) that repeats it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Arm = Literal["pretrained", "scratch", "no_touch", "conv"]
Part = Literal["switch3", "usb12", "vga17"]
ARMS: tuple[Arm, ...] = ("pretrained", "scratch", "no_touch")  # the goal's arms (the default)
TRUNK_ARMS: tuple[Arm, ...] = ("pretrained", "scratch")  # the arms built on the pretrained trunk
TACTILE_PREFIX = "tactile."


class ExperimentConfig(BaseModel):
    """[experiment]: the arms, seeds, parts and evaluation of `vitac experiment`."""

    model_config = ConfigDict(extra="forbid")

    parts: list[Part] = Field(["switch3", "usb12", "vga17"], min_length=1)
    arms: list[Arm] = Field(list(ARMS), min_length=1)
    seeds: int = Field(3, ge=1, description="training seeds per policy and arm")
    first_seed: int = Field(
        0,
        ge=0,
        description="runs use seeds first_seed .. first_seed + seeds - 1 (a session "
        "may train later seeds of an experiment another began)",
    )
    policies: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="policy name -> launch-file tables merged over this file for its runs",
    )
    pretrained_mode: Literal["frozen", "finetune"] = "frozen"
    episodes: int = Field(50, ge=1, description="evaluation episodes per part and seed")
    eval_seed: int = Field(100_000, ge=0, description="episode i of every run uses this + i")
    videos: int = Field(1, ge=0, description="videos per part of the first seed of every arm")
    data_samples: int = Field(3000, ge=1, description="presses per sensor to pretrain on")
    grasp_data: bool = Field(
        False,
        description="pretrain on held presses disturbed, each read against its own base image "
        "(as a policy reads a pad against its post-grasp frame; tactile_data, grasp=True)",
    )
    data_unit_spread: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="pretrain on presses each made on a sensor unit of its own, drawn at this "
        "spread (sim.sensor_unit; 0: the nominal sensor)",
    )
    eval_task_params: dict[str, Any] = Field(
        default_factory=dict,
        description="task.params merged over the launch file's when evaluating (the references "
        "and every run), not when collecting: e.g. pads of sensor units no demonstration had, "
        "{tactile_units = 1000000, tactile_unit_seed = 1}; the part comes from experiment.parts",
    )
    part_seed_stride: int = Field(
        10_000, ge=1, description="the demonstrations of part k use collect.seed + k x this"
    )


# `--quick`: the whole pipeline at toy sizes (seconds per stage), for CI and a first look;
# QUICK_RUN applies to every policy's own tables too (see quick_overrides).
QUICK = [
    "collect.episodes=3",
    "collect.keep_failures=true",  # 12-step episodes: the expert has no time to succeed
    "task.params.max_steps=12",
    "eval.workers=1",
    "experiment.seeds=1",
    "experiment.arms=['pretrained', 'scratch', 'no_touch']",
    "experiment.parts=['switch3', 'usb12']",
    "experiment.episodes=2",
    "experiment.data_samples=40",
    "pretrain.mae_steps=2",
    "pretrain.supervised_steps=2",
    "pretrain.batch_size=4",
    "pretrain.val_every=2",
    "pretrain.checkpoint_every=2",
    "pretrain.model.width=24",
    "pretrain.model.trunk_depth=1",
    "pretrain.model.tokenizer_depth=1",
    "pretrain.model.image_size=32",
]
QUICK_RUN = ["train.steps=3", "train.batch_size=4", "train.checkpoint_every=3"]


def quick_overrides(data: dict[str, Any]) -> list[str]:
    """QUICK, and QUICK_RUN both at the top level and inside every policy's tables (which
    are merged over the top level)."""
    policies = data.get("experiment", {}).get("policies", {})
    inside = [f"experiment.policies.{name}.{item}" for name in policies for item in QUICK_RUN]
    return QUICK + QUICK_RUN + inside


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`base` with `over` merged in, table by table (a copy; neither is changed)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def arm_data(
    data: dict[str, Any],
    policy: str,
    arm: Arm,
    seed: int,
    encoder: Path | None,
    obs_keys: list[str],
    mode: Literal["frozen", "finetune"] = "frozen",
) -> dict[str, Any]:
    """The launch-file data one run trains with (validated by the caller): `data` (the
    experiment's launch file) without its experiment table, `policy`'s tables merged in,
    the training seed, and the arm's change. `obs_keys`: the demonstrations' observations.
    The pretrain table stays: the run's resolved config then records how its trunk was made."""
    base = {k: v for k, v in data.items() if k not in ("experiment", "transfer")}
    run = merge(base, data.get("experiment", {}).get("policies", {}).get(policy, {}))
    run.setdefault("train", {})["seed"] = seed
    if arm == "no_touch":
        run["train"]["obs_keys"] = [k for k in obs_keys if not k.startswith(TACTILE_PREFIX)]
        policy_table = run.get("policy", {})
        if "base_frame_keys" in policy_table:  # no pads, so no pad at rest either
            policy_table["base_frame_keys"] = [
                k for k in policy_table["base_frame_keys"] if not k.startswith(TACTILE_PREFIX)
            ]
        return run
    if not any(k.startswith(TACTILE_PREFIX) for k in run["train"].get("obs_keys") or obs_keys):
        raise ValueError(f"the {arm} arm of {policy} has no tactile input (train.obs_keys)")
    if arm == "conv":
        return run
    if encoder is None:
        raise ValueError(f"the {arm} arm of {policy} needs the pretrained trunk; none was made")
    t3 = {"checkpoint": str(encoder), "mode": "scratch" if arm == "scratch" else mode}
    run.setdefault("policy", {}).update(tactile_encoder="t3", t3=t3)
    return run
