"""How a trained policy runs when it is deployed: eval, training rollouts, the robot loop.

None of these settings changes the weights, so they live beside the checkpoint, not in it
(`eval.inference` in a launch file), and one checkpoint can be run several ways:

- `n_action_steps` / `temporal_ensemble` / `rtc`: how chunks are executed (T_a actions per
  chunk; ACT's exponential ensemble re-planned every step; or each chunk inpainted to agree
  with what is left of the last, real-time chunking in lockstep); `inference_steps`: a diffusion
  policy's denoising steps per chunk; `samples`: its chunks drawn per decision and averaged;
  None keeps the trained setting;
- `precision = "bf16"`: the whole observation -> chunk call under bfloat16 autocast (on
  CUDA the usual choice; on CPU it runs, but rarely faster);
- `compile`: `torch.compile` of that call from the initial noise on (the noise is drawn
  eagerly from the episode's generator, which a graph cannot take as an input). The
  denoising loop is plain tensor arithmetic (policies/sampling.py), so the call compiles
  to one graph; on CUDA, "reduce-overhead" and "max-autotune" record it as a CUDA graph
  (one launch for every kernel of every denoising step). Its first calls compile (seconds
  to minutes): warm it up before a timed loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import Tensor

from policies.base import Guide, Policy, PolicyConfig
from policies.registry import policy_config_from_dict


class InferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_action_steps: int | None = Field(
        None, ge=1, description="actions executed per chunk; None: the trained setting"
    )
    temporal_ensemble: float | None = Field(
        None, ge=0, description="k of ACT's exp(-k i) ensemble; None: the trained setting"
    )
    rtc: bool | None = Field(
        None,
        description="each chunk inpainted to agree with the last one's leftover (lockstep "
        "real-time chunking; diffusion with ddim, or flow); None: the trained setting",
    )
    inference_steps: int | None = Field(
        None, ge=1, description="a diffusion policy's denoising steps; None: the trained setting"
    )
    samples: int | None = Field(
        None, ge=1, le=64, description="a diffusion policy's chunks averaged per decision; "
        "None: the trained setting",
    )  # fmt: skip
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16: autocast")
    compile: Literal["off", "default", "reduce-overhead", "max-autotune"] = Field(
        "off", description="torch.compile mode of the observation -> chunk call"
    )


CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")  # torch.compile modes that record them


def deployed_config(trained: PolicyConfig, config: InferenceConfig) -> PolicyConfig:
    """The policy config with `config`'s execution overrides, validated as a whole (the chunk
    must still fit the horizon); ValueError in one line when they do not fit."""
    updates = {
        key: value
        for key in ("n_action_steps", "temporal_ensemble", "rtc", "inference_steps", "samples")
        if (value := getattr(config, key)) is not None
    }
    if not updates:
        return trained
    try:
        return policy_config_from_dict(trained.model_dump() | updates)
    except ValidationError as err:
        problems = "; ".join(
            ".".join(map(str, e["loc"]))
            + ": " * bool(e["loc"])
            + e["msg"].removeprefix("Value error, ")
            for e in err.errors()
        )
        raise ValueError(f"{updates} does not fit the {trained.name} policy: {problems}") from None


def prepare_inference(policy: Policy, config: InferenceConfig) -> Policy:
    """Apply `config` to a loaded policy in place (and return it), once. Raises ValueError
    when an execution override does not fit the policy (`deployed_config`)."""
    if "predict_action_chunk" in vars(policy):
        raise ValueError("prepare_inference was already applied to this policy")
    deployed = deployed_config(policy.config, config)
    if deployed is not policy.config:
        policy.config = deployed
        policy.configure_sampling()
        policy.reset()
    if config.precision == "fp32" and config.compile == "off":
        return policy
    eager = type(policy).predict_action_chunk.__get__(policy)
    bf16 = config.precision == "bf16"

    def from_noise(obs: Mapping[str, Tensor], noise: Tensor | None, guide: Guide | None) -> Tensor:
        device = next(iter(obs.values())).device.type  # where the policy is now
        with torch.autocast(device, torch.bfloat16, enabled=bf16):
            out: Tensor = eager(obs, None, noise, guide)
        return out.float()

    run = from_noise
    if config.compile != "off":  # the noise is drawn outside: a generator breaks a graph
        run = torch.compile(from_noise, mode=config.compile, dynamic=False)
    graphs = config.compile in CUDA_GRAPH_MODES and next(policy.parameters()).is_cuda

    def call(
        obs: Mapping[str, Tensor],
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
        guide: Guide | None = None,
    ) -> Tensor:
        if noise is None:
            noise = policy.initial_noise(obs, generator)
        if graphs:  # a new inference step: the graph may overwrite its last outputs
            torch.compiler.cudagraph_mark_step_begin()
        out = run(obs, noise, guide)
        return out.clone() if graphs else out

    policy.predict_action_chunk = call  # type: ignore[method-assign]
    return policy
