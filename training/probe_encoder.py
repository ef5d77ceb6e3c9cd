"""A tactile encoder's features as inputs of the information probe (training.probe).

Does the pretrained trunk keep what the tactile images say about the expert's correction?
`encoder_inputs(path)` gives two extra probe inputs of the same size: `tactile_t3`, the
pooled features of both pads through the trunk in `path` (its sensor's tokenizer), and
`tactile_t3_init`, the same architecture with fresh weights (seeded): what the architecture
alone keeps; each also pooled by the mean over tokens (`tactile_t3_mean`,
`tactile_t3_init_mean`), since one token may keep less of where a pad is pressed than all of
them. Each is also scored as its change between the two frames. An encoder whose contract
takes differences reads each pad against the episode's first frame of that pad (after the
grasp), as the policy reads it against its base frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from policies.encoders import EncoderMode, PolicyEncoder, load_encoder, policy_encoder
from policies.encoders.transformer import Pool
from training.probe import GROUPS, Extractor, Obs

PADS = GROUPS["tactile"]


class EncoderFeatures:
    """(obs, first obs) -> (len(PADS) x D,): each pad's image through `encoder`, pooled,
    concatenated; read against the first obs's pad when the contract takes differences."""

    def __init__(self, encoder: PolicyEncoder, sensor: str, pool: Pool, layout: str) -> None:
        self.encoder, self.sensor, self.pool, self.layout = encoder.eval(), sensor, pool, layout
        self.difference = encoder.model.preprocessing[sensor].difference

    @torch.no_grad()
    def __call__(self, obs: Obs, first: Obs) -> NDArray[Any]:
        images = torch.from_numpy(np.stack([obs[k] for k in PADS]))  # (2, H, W, 3) uint8
        reference = None  # (2, H, W, 3) uint8: each pad's first frame, for a difference contract
        if self.difference:
            reference = torch.from_numpy(np.stack([first[k] for k in PADS]))
        features = self.encoder.encode(images, self.sensor, self.pool, reference)  # (2, D)
        return features.reshape(-1).numpy().astype(np.float64)


def encoder_inputs(
    path: Path, sensor: str = "mini", pools: tuple[Pool, ...] = ("cls", "mean"), seed: int = 0
) -> dict[str, Extractor]:
    """{"tactile_t3": the trunk in `path`, "tactile_t3_init": its architecture, fresh}, for
    the first of `pools`; the others' names end in "_<pool>"."""
    saved = load_encoder(path)
    if sensor not in saved.preprocessing:
        raise ValueError(f"{path}: no tokenizer for sensor {sensor!r}; it has {saved.sensors}")
    width = saved.config.width
    modes: tuple[tuple[str, EncoderMode, str], ...] = (
        ("tactile_t3", "frozen", f"trunk {path.name}"),
        ("tactile_t3_init", "scratch", "fresh trunk"),
    )
    encoders = {mode: policy_encoder(path, mode, seed) for _, mode, _ in modes}
    inputs: dict[str, Extractor] = {}
    for i, pool in enumerate(pools):
        for name, mode, how in modes:
            against = " less the first frame" if saved.preprocessing[sensor].difference else ""
            layout = f"{' + '.join(PADS)}{against} -> {how}, {pool} {width} each"
            inputs[name + ("" if i == 0 else f"_{pool}")] = EncoderFeatures(
                encoders[mode], sensor, pool, layout
            )
    return inputs
