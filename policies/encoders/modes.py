"""A tactile transformer as a policy's encoder, in one of three modes:

- `frozen`: the pretrained weights, fixed: no gradients, always in eval mode (whatever the
  policy's `.train()` says), computed under `no_grad`;
- `finetune`: the pretrained weights, trained with the policy;
- `scratch`: the same architecture and preprocessing contract, fresh weights.

The task heads are dropped: a policy reads features (`encode`), never a pretraining task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from policies.encoders.encoder_checkpoint import load_encoder
from policies.encoders.transformer import Pool, TactileTransformer

EncoderMode = Literal["frozen", "finetune", "scratch"]
MODES: tuple[str, ...] = get_args(EncoderMode)


class PolicyEncoder(nn.Module):
    """`encode(images, sensor, pool)` of the wrapped model, by mode."""

    def __init__(self, model: TactileTransformer, mode: EncoderMode) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"encoder mode {mode!r}: allowed {list(MODES)}")
        self.mode, self.model = mode, model
        if mode == "frozen":
            model.requires_grad_(False)
            model.eval()

    @property
    def width(self) -> int:
        """Feature size of pool "cls" or "mean"."""
        return self.model.config.width

    @property
    def sensors(self) -> list[str]:
        return self.model.sensors

    def train(self, mode: bool = True) -> PolicyEncoder:
        super().train(mode)
        if self.mode == "frozen":
            self.model.eval()
        return self

    def encode(
        self, images: Tensor, sensor: str, pool: Pool = "cls", reference: Tensor | None = None
    ) -> Tensor:
        """uint8 (B, H, W, 3) -> (B, D), or (B, 1 + N, D) for pool "tokens"."""
        if self.mode == "frozen":
            with torch.no_grad():
                return self.model.encode(images, sensor, pool, reference)
        return self.model.encode(images, sensor, pool, reference)


def policy_encoder(path: Path, mode: EncoderMode, seed: int = 0) -> PolicyEncoder:
    """The encoder saved in `path` (its architecture and preprocessing only, for scratch),
    without heads, wrapped for `mode`."""
    if mode not in MODES:
        raise ValueError(f"encoder mode {mode!r}: allowed {list(MODES)}")
    saved = load_encoder(path)
    torch.manual_seed(seed)
    model = TactileTransformer(saved.config, saved.preprocessing)
    if mode != "scratch":
        weights = {k: v for k, v in saved.state_dict().items() if not k.startswith("heads.")}
        model.load_state_dict(weights)
    return PolicyEncoder(model.train(), mode)
