"""Checkpoint selection by closed-loop success: every `rollout.every` steps the trainer runs
the deployed weights for `rollout.episodes` seeded episodes in the simulator and keeps
`checkpoints/best` on the checkpoint with the highest success rate. The validation loss
only breaks ties (lower wins), then the later step: robomimic's study (Mandlekar et al.
2021) found the validation loss a poor guide to which checkpoint succeeds most.

The rollout seeds (`rollout.seed + i`) are kept apart from the evaluation seeds (eval.seed,
100000 by default), so the success of the selected checkpoint in `vitac eval` is not
inflated by the selection. What runs the episodes is the caller's (launch.jobs builds it
from the dataset's task); the trainer only sees `Rollout = (checkpoint) -> success rate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from training.run_dir import BEST, checkpoint_path

Rollout = Callable[[Path], float]


class RolloutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every: int | None = Field(
        None, ge=1, description="steps between rollouts (and at the last step); None: off"
    )
    episodes: int = Field(20, ge=1, description="episodes per rollout")
    seed: int = Field(
        200_000, ge=0, description="episode i uses seed + i; apart from eval's and training's"
    )
    workers: int = Field(1, ge=1, description="processes running the rollout's episodes")

    def due(self, done: int, total: int) -> bool:
        return self.every is not None and (done % self.every == 0 or done == total)


class Selection:
    """The best checkpoint so far by (success, -val_loss, step); `checkpoints/best` follows."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.best: tuple[float, float, int] | None = None

    def consider(self, step: int, success: float, val_loss: float | None) -> bool:
        """Record a rollout; True (and the link moved) when it is the new best."""
        key = (success, -val_loss if val_loss is not None else -math.inf, step)
        if self.best is not None and key <= self.best:
            return False
        self.best = key
        target = checkpoint_path(self.out_dir, step)
        link = target.with_name(f".{BEST}.tmp")
        link.unlink(missing_ok=True)
        link.symlink_to(target.name)
        link.replace(target.with_name(BEST))
        return True

    def replay(self, records: Iterable[dict[str, Any]]) -> None:
        """Rebuild the best from a resumed run's metrics (the records up to its step)."""
        for record in records:
            if record.get("success") is not None:
                self.consider(record["step"], record["success"], record.get("val_loss"))

    @property
    def step(self) -> int | None:
        return self.best[2] if self.best is not None else None
