"""How long one observation -> action chunk call takes, and where the time goes.

`time_inference(policy, obs)` calls `predict_action_chunk` repeatedly in inference mode and
reports the p50 and p99 of the whole call and of its parts: vision (camera encoders), touch
(tactile encoders), the action head (the diffusion denoiser over all its steps, or BC's
MLP) and the rest (normalisation, stacking, the scheduler's arithmetic). Parts are timed
by forward hooks on the policy's modules; on CUDA each hook synchronises first, so the
figures are wall time of finished work (and slightly slower than an unhooked call).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from policies.base import Policy, module_key
from policies.tactile import TACTILE_PREFIX


@dataclass(frozen=True)
class InferenceTiming:
    p50_ms: float
    p99_ms: float
    parts_p50_ms: dict[str, float]  # vision, touch, head, other
    calls: int


def timed_parts(policy: Policy) -> dict[str, list[nn.Module]]:
    """The modules of each part: image encoders by stream (tactile.* is touch), the head."""
    parts: dict[str, list[nn.Module]] = {"vision": [], "touch": [], "head": []}
    observations = getattr(policy, "observations", None)
    if observations is not None:
        for key in policy.io.image_keys:
            if key in observations.t3_keys:
                encoder = observations.t3
            else:
                encoder = observations.encoders[module_key(key)]
            part = parts["touch" if key.startswith(TACTILE_PREFIX) else "vision"]
            if all(encoder is not m for m in part):  # one shared tactile encoder: once
                part.append(encoder)
    for name in ("denoiser", "head"):
        module = getattr(policy, name, None)
        if isinstance(module, nn.Module):
            parts["head"].append(module)
    return parts


def time_inference(
    policy: Policy,
    obs: Mapping[str, Tensor],
    repeats: int = 50,
    warmup: int = 3,
    split: bool = True,
) -> InferenceTiming:
    """p50/p99 of `policy.predict_action_chunk(obs)` over `repeats` calls after `warmup`;
    split=False leaves the parts out (hooks would break a compiled call into pieces)."""
    device = next(policy.parameters()).device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    spent: dict[str, float] = defaultdict(float)  # part -> seconds in the current call
    handles = []
    for part, modules in timed_parts(policy).items() if split else ():
        for module in modules:
            started: list[float] = []

            def before(*_: object, started: list[float] = started) -> None:
                sync()
                started.append(time.perf_counter())

            def after(*_: object, started: list[float] = started, part: str = part) -> None:
                sync()
                spent[part] += time.perf_counter() - started.pop()

            handles += [
                module.register_forward_pre_hook(before),
                module.register_forward_hook(after),
            ]
    totals: list[float] = []
    per_part: dict[str, list[float]] = defaultdict(list)
    policy.eval()
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                spent.clear()
                sync()
                start = time.perf_counter()
                policy.predict_action_chunk(obs)
                sync()
                total = time.perf_counter() - start
                if i < warmup:
                    continue
                totals.append(total)
                for part in ("vision", "touch", "head") if split else ():
                    per_part[part].append(spent[part])
                if split:
                    per_part["other"].append(total - sum(spent.values()))
    finally:
        for handle in handles:
            handle.remove()
    ms = 1000.0
    return InferenceTiming(
        p50_ms=float(np.percentile(totals, 50)) * ms,
        p99_ms=float(np.percentile(totals, 99)) * ms,
        parts_p50_ms={k: float(np.percentile(v, 50)) * ms for k, v in per_part.items()},
        calls=repeats,
    )
