"""Policy inference: one observation -> action chunk, p50/p99 and its split, against 100 ms.

The input is the rig's: two cameras at 96x96, two tactile images at 60x80, proprio (16
values), a 10-D action. Figures, batch 1, float32, inference mode, all of torch's threads
(`policies.timing.time_inference`, forward hooks on the encoders and the action head):
the default diffusion policy (conv encoders, U-Net 64-128-256, DDIM 10 steps) with the
share spent in vision, touch, denoising and the rest; for scale, the same with Diffusion
Policy's U-Net widths (256-512-1024) and the full DP recipe (GroupNorm ResNet-18 encoders
and those widths); the default BC policy; and the default diffusion policy the fast way
(`diffusion_fast`, whole call only: torch.compile on CPU; on CUDA compile with CUDA graphs
and bf16). The limit: 100 ms, the time a 10 Hz loop executing 8-step chunks has to hide one
call. Goals: the default diffusion p50 <= 100 ms on CPU; <= 10 ms on an H100/H200. On a
machine with CUDA every figure is measured there.
"""

from __future__ import annotations

import torch

from launch.bench import BenchOptions, BenchResult
from policies import Policy, PolicyIO, make_policy, policy_config_from_dict
from policies.inference import InferenceConfig, prepare_inference
from policies.timing import time_inference

LIMIT_MS = 100.0
LIMIT = "100 ms: a 10 Hz loop executing 8-step chunks"
IO = PolicyIO(
    obs_shapes={
        "rgb.scene": (96, 96, 3),
        "rgb.wrist": (96, 96, 3),
        "tactile.left": (60, 80, 3),
        "tactile.right": (60, 80, 3),
        "proprio.ee_pose": (9,),
        "proprio.gripper": (1,),
        "proprio.joints": (6,),
    },
    image_keys=["rgb.scene", "rgb.wrist", "tactile.left", "tactile.right"],
    action_dim=10,
)
VARIANTS: dict[str, dict[str, object]] = {
    "diffusion": {"name": "diffusion"},
    "diffusion_dp_unet": {"name": "diffusion", "down_widths": (256, 512, 1024)},
    "diffusion_dp_recipe": {
        "name": "diffusion",
        "down_widths": (256, 512, 1024),
        "image_encoder": "resnet18",
    },
    "bc": {"name": "bc"},
}
# the default diffusion policy run the fast way, beside its eager figures
FAST = {
    "cpu": InferenceConfig(compile="default"),
    "cuda": InferenceConfig(compile="reduce-overhead", precision="bf16"),
}
GPU_GOAL_MS = 10.0


def bench_policies(options: BenchOptions) -> list[BenchResult]:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    names = ["diffusion"] if options.quick else [*VARIANTS, "diffusion_fast"]
    repeats = 3 if options.quick else 30
    results = []
    for name in names:
        fast = name == "diffusion_fast"
        policy = _policy(VARIANTS["diffusion" if fast else name]).to(device)
        if fast:
            prepare_inference(policy, FAST[device])
        obs = {k: v.to(device) for k, v in _observation(policy).items()}
        timing = time_inference(
            policy, obs, repeats=repeats, warmup=1 if options.quick else 10, split=not fast
        )
        goal = None
        if name in ("diffusion", "diffusion_fast"):
            goal = 1.0 if device == "cpu" else GPU_GOAL_MS / LIMIT_MS
        for which, value in (("p50", timing.p50_ms), ("p99", timing.p99_ms)):
            results.append(
                BenchResult(
                    f"policies.{name}.{which}",
                    value,
                    "ms/chunk",
                    LIMIT_MS,
                    LIMIT,
                    higher_is_better=False,
                    goal=goal if which == "p50" else None,
                )
            )
        for part, value in timing.parts_p50_ms.items() if name == "diffusion" else ():
            results.append(
                BenchResult(
                    f"policies.{name}.{part}",
                    value,
                    "ms/chunk",
                    timing.p50_ms,
                    "share of the whole call (p50)",
                    higher_is_better=False,
                )
            )
    return results


def _policy(overrides: dict[str, object]) -> Policy:
    torch.manual_seed(0)
    policy = make_policy(policy_config_from_dict(dict(overrides)), IO)
    generator = torch.Generator().manual_seed(0)
    policy.fit_normalizer(
        {
            key: torch.randn(64, *IO.obs_shapes[key], generator=generator).numpy()
            for key in IO.lowdim_keys
        }
        | {"action": torch.randn(64, IO.action_dim, generator=generator).numpy()}
    )
    return policy.eval()


def _observation(policy: Policy) -> dict[str, torch.Tensor]:
    """One decision's input: (1, T_o, ...) per stream."""
    t = policy.config.n_obs_steps
    generator = torch.Generator().manual_seed(1)
    obs = {}
    for key, shape in IO.obs_shapes.items():
        if key in IO.image_keys:
            obs[key] = torch.randint(0, 256, (1, t, *shape), dtype=torch.uint8, generator=generator)
        else:
            obs[key] = torch.randn(1, t, *shape, generator=generator)
    return obs
