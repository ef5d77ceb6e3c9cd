"""The pretraining data pipeline against what a training step consumes, same run, CPU.

Pipeline: images/s through the whole path a pretraining step's batch takes before the model:
read the FoTa tar shards, decode the PNGs, crop and resize to the model's size, augment
(photometric jitter and random resized crops) and normalise. Consumption: images/s of one
training step (forward, backward, AdamW) of the default pretraining model (`[pretrain]`
defaults: width 96, 2 + 4 blocks, 64 px, batch 32) on the same batches. A ratio >= 1 means
one process prepares batches at least as fast as the model eats them; the time a step
spends waiting for data in the single-process loop is then at most half of it. The data is
made once by the simulator in the bench's work folder (not timed). Best of `repeats`
alternating timed rounds of `batches` batches each.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from launch.bench import BenchOptions, BenchResult
from policies.encoders import Preprocessing, TactileTransformer
from training.augment import AugmentConfig
from training.fota import FotaSplit
from training.pretrain_data import TASKS, Batch, Stream, to_batch
from training.pretrain_plan import PretrainConfig
from training.tactile_data import make_tactile_data

PEER = "a pretraining step's consumption (default model, batch 32, same run)"


def bench_encoder_data(options: BenchOptions) -> list[BenchResult]:
    config = PretrainConfig()
    presses, batches, repeats = (64, 2, 2) if options.quick else (640, 8, 3)
    root = options.workdir / "encoder-data"
    if not (root / "sim_mini" / "train" / "count.txt").is_file():
        make_tactile_data(root, presses, seed=0, sensors=("mini",), shard_size=64, progress=False)
    split = FotaSplit(root / "sim_mini" / "train")
    size = config.model.image_size
    contract = Preprocessing(resize=size, crop=size)
    stream = Stream(split, config.batch_size, seed=0)
    augmentation = AugmentConfig(enabled=True)

    def prepare() -> Batch:
        samples, where = stream.next(), split.split_dir
        return to_batch(samples, TASKS["shape"], contract, None, where, augmentation)

    torch.manual_seed(0)
    model = TactileTransformer(config.model, {"mini": contract}, {"shape": TASKS["shape"].head})
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    ready = [prepare() for _ in range(batches)]

    def step() -> None:
        for batch in ready:
            loss = F.cross_entropy(model(batch.images, "mini", "shape"), batch.targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    data_s, step_s = best_alternating(lambda: [prepare() for _ in range(batches)], step, repeats)
    images = batches * config.batch_size
    return [
        BenchResult(
            "encoders.pipeline",
            images / data_s,
            "images/s",
            images / step_s,
            PEER,
            goal=1.0,
        )
    ]


def best_alternating(
    a: Callable[[], object], b: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Best seconds of `a` and of `b` after a warm-up each, alternating (gradients on)."""
    best = [float("inf"), float("inf")]
    a(), b()
    for _ in range(repeats):
        for i, action in enumerate((a, b)):
            start = time.perf_counter()
            action()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]
