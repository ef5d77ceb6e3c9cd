"""The experiment's arms: each is the shipped launch file plus its policy's tables and one
change, so vision, proprioception, data and budget are the same in every arm."""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.cli_experiment import EXPERIMENT_FILE
from launch.config import read_toml
from launch.experiment_plan import ARMS, QUICK_RUN, arm_data, merge, quick_overrides
from launch.launch_file import launch_from_data, resolved_toml
from training.resume import flat_diff

KEYS = ["rgb.scene", "rgb.wrist", "tactile.left", "tactile.right", "proprio.joints"]
TRUNK = Path("/runs/x/pretrain/run/checkpoints/step_0000900")


def resolved(policy: str, arm: str, seed: int = 0) -> dict:
    import tomllib

    shipped = read_toml(EXPERIMENT_FILE)
    mode = shipped["experiment"]["pretrained_mode"]
    data = arm_data(shipped, policy, arm, seed, TRUNK, KEYS, mode)  # type: ignore[arg-type]
    return tomllib.loads(resolved_toml(launch_from_data(data, "test")))


@pytest.mark.parametrize("policy", ["bc", "diffusion"])
def test_the_arms_differ_only_in_the_tactile_encoder_and_inputs(policy: str) -> None:
    pretrained, scratch, no_touch = (resolved(policy, arm) for arm in ARMS)
    assert pretrained["policy"]["name"] == policy
    mode = read_toml(EXPERIMENT_FILE)["experiment"]["pretrained_mode"]
    assert pretrained["policy"]["t3"] == {"checkpoint": str(TRUNK), "mode": mode} | {
        k: pretrained["policy"]["t3"][k] for k in ("sensor", "pool", "lr_scale")
    }
    assert flat_diff(pretrained, scratch, "") == [f".policy.t3.mode: '{mode}' -> 'scratch'"]
    changed = {line.split(":")[0] for line in flat_diff(pretrained, no_touch, "")}
    assert changed == {
        ".policy.tactile_encoder", ".policy.t3", ".train.obs_keys", ".policy.base_frame_keys"
    }  # fmt: skip
    assert no_touch["train"]["obs_keys"] == ["rgb.scene", "rgb.wrist", "proprio.joints"]
    assert pretrained["policy"]["base_frame_keys"] == ["tactile.left", "tactile.right"]
    assert no_touch["policy"]["base_frame_keys"] == []


@pytest.mark.parametrize("policy", ["bc", "diffusion"])
def test_the_conv_arm_is_the_launch_file_with_touch_through_the_policys_own_encoders(
    policy: str,
) -> None:
    conv, pretrained = resolved(policy, "conv"), resolved(policy, "pretrained")
    assert conv["policy"]["tactile_encoder"] == "conv"
    changed = {line.split(":")[0] for line in flat_diff(pretrained, conv, "")}
    assert changed == {".policy.tactile_encoder", ".policy.t3"}
    assert conv["train"].get("obs_keys") == pretrained["train"].get("obs_keys")


def test_a_policys_tables_win_over_the_files_and_the_seed_is_the_runs() -> None:
    diffusion = resolved("diffusion", "pretrained", seed=2)
    bc = resolved("bc", "pretrained")
    shipped = read_toml(EXPERIMENT_FILE)
    ours = shipped["experiment"]["policies"]["diffusion"]
    assert diffusion["train"]["steps"] == ours["train"]["steps"]
    assert diffusion["policy"]["horizon"] == ours["policy"]["horizon"] != bc["policy"]["horizon"]
    assert diffusion["train"]["batch_size"] == shipped["train"]["batch_size"]  # from the file
    assert (diffusion["train"]["seed"], bc["train"]["seed"]) == (2, 0)
    assert diffusion["task"] == bc["task"] and diffusion["collect"] == bc["collect"]
    # the resolved config records the trunk the file pretrains, not pretrain's defaults
    assert bc["pretrain"]["model"]["width"] == shipped["pretrain"]["model"]["width"] == 64
    assert bc["pretrain"]["mae_steps"] == shipped["pretrain"]["mae_steps"]


def test_an_arm_with_touch_needs_a_tactile_input() -> None:
    data = merge(read_toml(EXPERIMENT_FILE), {"train": {"obs_keys": ["rgb.scene"]}})
    with pytest.raises(ValueError, match="scratch arm of bc has no tactile input"):
        arm_data(data, "bc", "scratch", 0, TRUNK, KEYS)
    assert arm_data(data, "bc", "no_touch", 0, TRUNK, KEYS)["train"]["obs_keys"] == [
        "rgb.scene", "rgb.wrist", "proprio.joints"
    ]  # fmt: skip


def test_merge_copies_and_leaves_its_inputs_alone() -> None:
    base = {"a": {"b": 1, "c": [1]}, "d": 2}
    over = {"a": {"b": 3}, "e": {"f": 4}}
    merged = merge(base, over)
    assert merged == {"a": {"b": 3, "c": [1]}, "d": 2, "e": {"f": 4}}
    merged["a"]["c"].append(2)
    merged["e"]["f"] = 5
    assert base == {"a": {"b": 1, "c": [1]}, "d": 2} and over == {"a": {"b": 3}, "e": {"f": 4}}


def test_quick_reaches_inside_every_policys_tables() -> None:
    overrides = quick_overrides(read_toml(EXPERIMENT_FILE))
    for policy in ("bc", "diffusion"):
        for item in QUICK_RUN:
            assert f"experiment.policies.{policy}.{item}" in overrides
