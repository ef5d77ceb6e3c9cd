"""The policy trainer's data path against what a training step consumes, same run, CPU.

Pipeline: windows/s through what the trainer does before the model: draw 64 window indices,
gather each window's T_o observation frames and T_p actions from the in-memory store with
edge padding (`WindowDataset.batch`), as tensors. Consumption: windows/s of one training
step (forward with random-shift augmentation, DDPM loss, backward, AdamW) of the default
diffusion policy on the same kind of batch. The data: lift episodes from the simulator (two
96x96 cameras, two tactile images, proprio), collected once into the bench's work folder
(not timed). The trainer loads batches in its own thread, so a ratio r means data loading
takes 1 / (1 + r) of each step's time; goal: r >= 10 (under 10%).
"""

from __future__ import annotations

import numpy as np
import torch

from launch.bench import BenchOptions, BenchResult
from launch.benchmarks.encoder_data import best_alternating
from policies import DiffusionConfig, make_policy
from sim.tasks.lift import LiftConfig
from training.collect import CollectConfig, collect
from training.dataset import load_datasets

BATCH = 64
PEER = f"a default diffusion training step's consumption (batch {BATCH}, same run)"
KEYS = [
    "rgb.scene",
    "rgb.wrist",
    "tactile.left",
    "tactile.right",
    "proprio.ee_pose",
    "proprio.gripper",
    "proprio.joints",
]


def bench_policy_data(options: BenchOptions) -> list[BenchResult]:
    episodes, batches, repeats = (2, 1, 1) if options.quick else (10, 4, 3)
    store = options.workdir / f"policy-data-{episodes}.zarr"
    if not store.exists():
        task = LiftConfig(image_size=96, tactile_size=(60, 80))
        collect("lift", task, CollectConfig(episodes=episodes), store, progress=False)
    config = DiffusionConfig()
    train_set, _, io, _ = load_datasets(store, config, KEYS, 0.0, 0)
    rng = np.random.default_rng(0)

    def prepare() -> list[dict[str, torch.Tensor]]:
        return [train_set.batch(rng.integers(0, len(train_set), BATCH)) for _ in range(batches)]

    torch.manual_seed(0)
    policy = make_policy(config, io)
    policy.fit_normalizer(train_set.data)
    policy.train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    ready = prepare()

    def step() -> None:
        for batch in ready:
            loss = policy.compute_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    data_s, step_s = best_alternating(prepare, step, repeats)
    windows = batches * BATCH
    return [
        BenchResult(
            "policies.data_pipeline",
            windows / data_s,
            "windows/s",
            windows / step_s,
            PEER,
            goal=10.0,
        )
    ]
