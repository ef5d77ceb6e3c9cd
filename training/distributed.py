"""Data parallelism for processes started by torchrun (`torchrun --nproc_per_node N -m
launch.cli pretrain ...`): join its process group (gloo on CPU, NCCL with CUDA), average
gradients after each backward pass, agree on stopping, and check that the replicas stayed
identical. Alone (no WORLD_SIZE, or 1) everything here is a no-op.

Gradients are averaged with one all_reduce per parameter rather than through the DDP
wrapper: each pretraining step runs one (data set, task) pair through a model method (a
head, the MAE decoder), so which parameters receive gradients changes from step to step;
every rank draws the same pair, so they always agree on which.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    device: str = "cpu"  # this process's: cuda:LOCAL_RANK under torchrun with CUDA

    @property
    def main(self) -> bool:
        """The process that validates, logs and writes checkpoints."""
        return self.rank == 0


def join_from_env(device: str = "cpu") -> World:
    """This process's place; on CUDA each process takes the GPU of its LOCAL_RANK (NCCL),
    on the CPU they talk over gloo."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(device=device)
    cuda = device.startswith("cuda")
    if cuda:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), device)


def leave(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(parameters: Iterable[nn.Parameter], world: World) -> None:
    if world.size == 1:
        return
    for p in parameters:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world.size


def any_rank(flag: bool, world: World) -> bool:
    """True on every rank when `flag` is true on any (e.g. a signal reached one process)."""
    if world.size == 1:
        return flag
    t = torch.tensor([int(flag)], device=world.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def check_replicas(model: nn.Module, world: World) -> None:
    """RuntimeError unless every rank holds the same weights (a sum of all of them)."""
    if world.size == 1:
        return
    total = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
    sums = [torch.zeros_like(total) for _ in range(world.size)]
    dist.all_gather(sums, total)
    if len({float(s) for s in sums}) > 1:
        raise RuntimeError(f"the replicas diverged: weight sums {[float(s) for s in sums]}")
