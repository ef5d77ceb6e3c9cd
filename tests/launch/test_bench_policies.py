"""`bench_policies`: the figures, their references and the input they are measured on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import launch.benchmarks.policies as bench_module
from launch.bench import BenchOptions
from launch.benchmarks.policies import IO, LIMIT_MS, bench_policies
from policies.timing import InferenceTiming


def test_figures_are_judged_against_the_loops_budget_and_the_split_against_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []

    def fake(policy, obs, repeats, warmup, split):  # type: ignore[no-untyped-def]
        assert split
        seen.append((policy.config, {k: tuple(v.shape) for k, v in obs.items()}, repeats))
        parts = {"vision": 20.0, "touch": 10.0, "head": 40.0, "other": 10.0}
        return InferenceTiming(80.0, 120.0, parts, repeats)

    monkeypatch.setattr(bench_module, "time_inference", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the CPU's goal, anywhere
    results = {r.name: r for r in bench_policies(BenchOptions(workdir=tmp_path, quick=True))}
    ((config, shapes, repeats),) = seen
    assert config.name == "diffusion" and config.inference_steps == 10 and config.sampler == "ddim"
    assert shapes["rgb.scene"] == (1, 2, 96, 96, 3) and shapes["tactile.left"] == (1, 2, 60, 80, 3)
    assert set(shapes) == set(IO.obs_shapes) and repeats == 3
    p50, p99 = results["policies.diffusion.p50"], results["policies.diffusion.p99"]
    assert (p50.value, p50.reference, p50.goal, p50.meets_goal) == (80.0, LIMIT_MS, 1.0, True)
    assert (p99.value, p99.goal) == (120.0, None)
    head = results["policies.diffusion.head"]
    assert head.value == 40.0 and head.reference == 80.0 and head.ratio == 0.5


def test_the_default_diffusion_policy_runs_on_the_benchmark_input(tmp_path: Path) -> None:
    results = {r.name: r for r in bench_policies(BenchOptions(workdir=tmp_path, quick=True))}
    parts = [results[f"policies.diffusion.{p}"].value for p in ("vision", "touch", "head")]
    assert all(v > 0 for v in parts) and sum(parts) < results["policies.diffusion.p50"].value * 1.5


def test_the_fast_variant_is_the_default_policy_compiled_and_timed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = {}

    def fake(policy, obs, repeats, warmup, split):  # type: ignore[no-untyped-def]
        compiled = "predict_action_chunk" in vars(policy)  # replaced on the instance
        seen[len(seen)] = (policy.config, compiled, split)
        parts = {"vision": 1.0, "touch": 1.0, "head": 1.0, "other": 1.0} if split else {}
        return InferenceTiming(4.0, 5.0, parts, repeats)

    monkeypatch.setattr(bench_module, "time_inference", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the CPU's goal
    results = {r.name: r for r in bench_policies(BenchOptions(workdir=tmp_path))}
    default, *_, (fast, compiled, split) = seen.values()
    assert fast == default[0] and compiled and not split
    assert not any(c for _, c, _ in list(seen.values())[:-1])  # the others run eager
    assert (
        "policies.diffusion_fast.p50" in results and "policies.diffusion_fast.head" not in results
    )
    assert results["policies.diffusion_fast.p50"].goal == 1.0  # CPU: the 100 ms loop budget
