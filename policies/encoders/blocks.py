"""The transformer block shared by the tokenizers, the trunk and the MAE decoder.

Pre-norm: x + attn(norm1(x)), then + mlp(norm2(x)); multi-head self-attention with a
biased qkv projection and fused `scaled_dot_product_attention`; MLP with exact-erf GELU.
Names follow timm (`norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

TOKENIZER_EPS = 1e-6  # LayerNorm eps in the tokenizers (T3's ViT encoders)
TRUNK_EPS = 1e-5  # in the trunk and the decoders (torch's default, as T3 passes it)


class Attention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width, bias=True)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape  # (B, N, D)
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, D / heads)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, D / heads)
        projected: Tensor = self.proj(out.transpose(1, 2).reshape(b, n, d))  # (B, N, D)
        return projected


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.fc2(F.gelu(self.fc1(x)))  # exact-erf GELU
        return out


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x))."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=eps)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=eps)
        self.mlp = Mlp(width, int(width * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        out: Tensor = x + self.mlp(self.norm2(x))
        return out
