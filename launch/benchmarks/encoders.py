"""Tactile transformer forward latency against timm's VisionTransformer, same run, CPU.

For each size (tiny, small) and batch (1, 32), `TactileTransformer.tokens` (one sensor's
tokenizer, 3 blocks, then the 9-block trunk and its norm) on 224x224 inputs against timm's
`VisionTransformer.forward_features` of the same width, heads and 12 blocks: the same
arithmetic, so the ratio is the implementation's overhead. Inference mode, float32, all of
torch's CPU threads; each model runs once to warm up, then the best of `repeats` timed runs,
the two models alternating. Goal: ratio <= 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import torch

from launch.bench import BenchOptions, BenchResult
from policies.encoders import TactileTransformer, TransformerConfig

PEER = "timm VisionTransformer, same width/heads/depth, same run"


def bench_encoders(options: BenchOptions) -> list[BenchResult]:
    import timm.models.vision_transformer as timm_vit  # the peer: in the dev extra

    sizes = ("tiny",) if options.quick else ("tiny", "small")
    batches = (1,) if options.quick else (1, 32)
    repeats = 2 if options.quick else 5
    results = []
    for size in sizes:
        config = TransformerConfig.of_size(size)
        torch.manual_seed(0)
        ours = TactileTransformer(config, ["mini"]).eval()
        peer = timm_vit.VisionTransformer(
            embed_dim=config.width, depth=12, num_heads=config.heads, num_classes=0
        ).eval()
        for batch in batches:
            x = torch.randn(batch, 3, config.image_size, config.image_size)
            ours_ms, peer_ms = best_of_alternating(
                partial(ours.tokens, x, "mini"), partial(peer.forward_features, x), repeats
            )
            results.append(
                BenchResult(
                    f"encoders.{size}.batch{batch}",
                    ours_ms,
                    "ms/forward",
                    peer_ms,
                    PEER,
                    higher_is_better=False,
                    goal=1.0,
                )
            )
    return results


def best_of_alternating(
    a: Callable[[], object], b: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Best wall time of `a` and of `b` in milliseconds, after one warm-up each, alternating
    a, b, a, b, ... so that drift in the machine's load hits both alike."""
    best = [float("inf"), float("inf")]
    with torch.inference_mode():
        a(), b()
        for _ in range(repeats):
            for i, action in enumerate((a, b)):
                start = time.perf_counter()
                action()
                best[i] = min(best[i], (time.perf_counter() - start) * 1000.0)
    return best[0], best[1]
