"""How a trained policy runs when it is deployed: eval, training rollouts, the robot loop.

None of these settings changes the weights, so they live beside the checkpoint, not in it
(`eval.inference` in a launch file), and one checkpoint can be run several ways:

- `n_action_steps` / `temporal_ensemble`: how chunks are executed (T_a actions per chunk, or
  ACT's exponential ensemble re-planned every step); `inference_steps`: a diffusion
  policy's denoising steps per chunk; None keeps the trained setting;
- `precision = "bf16"`: the whole observation -> chunk call under bfloat16 autocast (on
  CUDA the usual choice; on CPU it runs, but rarely faster);
- `compile`: `torch.compile` of that call. The denoising loop is plain tensor arithmetic
  (policies/sampling.py), so the call compiles to one graph; on CUDA, "reduce-overhead"
  records it as a CUDA graph (one launch for every kernel of every denoising step). Its
  first calls compile (seconds to minutes): warm it up before a timed loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import Tensor

from policies.base import Policy
from policies.registry import policy_config_from_dict


class InferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_action_steps: int | None = Field(
        None, ge=1, description="actions executed per chunk; None: the trained setting"
    )
    temporal_ensemble: float | None = Field(
        None, ge=0, description="k of ACT's exp(-k i) ensemble; None: the trained setting"
    )
    inference_steps: int | None = Field(
        None, ge=1, description="a diffusion policy's denoising steps; None: the trained setting"
    )
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16: autocast")
    compile: Literal["off", "default", "reduce-overhead", "max-autotune"] = Field(
        "off", description="torch.compile mode of the observation -> chunk call"
    )


def prepare_inference(policy: Policy, config: InferenceConfig) -> Policy:
    """Apply `config` to a loaded policy in place (and return it). Raises ValueError when an
    execution override does not fit the policy's chunk (e.g. n_action_steps > horizon)."""
    updates: dict[str, object] = {}
    if config.n_action_steps is not None:
        updates["n_action_steps"] = config.n_action_steps
    if config.temporal_ensemble is not None:
        updates["temporal_ensemble"] = config.temporal_ensemble
    if config.inference_steps is not None:
        updates["inference_steps"] = config.inference_steps
    if updates:  # re-validated as a whole: the chunk must still fit the horizon
        try:
            policy.config = policy_config_from_dict(policy.config.model_dump() | updates)
        except ValidationError as err:
            problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
            raise ValueError(f"{updates} does not fit the policy: {problems}") from None
        policy.configure_sampling()
        policy.reset()
    if config.precision == "fp32" and config.compile == "off":
        return policy
    eager = policy.predict_action_chunk
    device = next(policy.parameters()).device

    def call(obs: Mapping[str, Tensor], generator: torch.Generator | None = None) -> Tensor:
        with torch.autocast(device.type, torch.bfloat16, enabled=config.precision == "bf16"):
            out: Tensor = eager(obs, generator)
        return out.float()

    if config.compile == "off":
        policy.predict_action_chunk = call  # type: ignore[method-assign]
        return policy
    compiled = torch.compile(call, mode=config.compile, dynamic=False)
    graphs = config.compile == "reduce-overhead" and device.type == "cuda"

    def replay(obs: Mapping[str, Tensor], generator: torch.Generator | None = None) -> Tensor:
        if graphs:  # a new inference step: the graph may overwrite its last outputs
            torch.compiler.cudagraph_mark_step_begin()
        out: Tensor = compiled(obs, generator)
        return out.clone() if graphs else out

    policy.predict_action_chunk = replay  # type: ignore[method-assign]
    return policy
