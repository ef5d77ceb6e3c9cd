"""Shared-trunk tactile transformers (the T3 family): one tokenizer per sensor, one trunk.

    image (B, 3, H, W) --tokenizer[sensor]--> (B, 1 + N, D) --trunk--> (B, 1 + N, D)

* A tokenizer is a ViT patch embedding (patch x patch convolution, a CLS token prepended, a
  learned positional embedding added after it, interpolated bicubically when the input's
  patch grid differs from the one it was trained on) followed by `tokenizer_depth` blocks
  (LayerNorm eps 1e-6) and no final norm.
* The trunk is `trunk_depth` blocks (LayerNorm eps 1e-5) and a final LayerNorm (eps 1e-5).
* A block is pre-norm multi-head self-attention (qkv with bias, fused
  `scaled_dot_product_attention`) and an MLP (ratio 4, exact-erf GELU), each residual.

Parameter names follow timm's VisionTransformer (`cls_token`, `pos_embed`,
`patch_embed.proj.weight`, `blocks.N.norm1.weight`, `blocks.N.attn.qkv.weight`, ...,
`norm.weight`), which is also the layout of T3's published weights, so importing them is a
plain, checked state-dict load (`policies.encoders.t3_import`).

Heads (policies/encoders/heads.py) sit on the trunk by task name: `model(x, sensor, task)`
for classification and regression, `model.pose(a, b, sensor, task)`, `model.mae(x, sensor,
task)`. The route (which sensor, which head) is an argument of every call, never hidden state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, cast

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn

from policies.encoders.blocks import TOKENIZER_EPS, TRUNK_EPS, Block
from policies.encoders.heads import HeadConfig, mae_loss, make_head, random_masking
from policies.encoders.preprocess import Preprocessing, preprocess

Pool = Literal["cls", "mean", "tokens"]

# name -> (width, heads): T3's sizes (about 12M / 45M / 174M / 304M parameters)
SIZES: dict[str, tuple[int, int]] = {
    "tiny": (192, 3),
    "small": (384, 6),
    "medium": (768, 12),
    "large": (1024, 16),
}


def heads_for_width(width: int) -> int:
    """T3's number of attention heads for a width (64 channels a head)."""
    for size_width, heads in SIZES.values():
        if size_width == width:
            return heads
    if width % 64:
        raise ValueError(f"width {width} is not a T3 size and not a multiple of 64; give heads")
    return width // 64


class TransformerConfig(BaseModel):
    """The architecture; the sensors' tokenizers and their preprocessing are listed apart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(192, ge=8)
    heads: int = Field(3, ge=1)
    tokenizer_depth: int = Field(3, ge=0)
    trunk_depth: int = Field(9, ge=0)
    mlp_ratio: float = Field(4.0, gt=0)
    patch_size: int = Field(16, ge=1)
    image_size: int = Field(224, ge=1, description="the tokenizers' training size, pixels")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> TransformerConfig:
        if self.width % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide width ({self.width})")
        if self.image_size % self.patch_size:
            raise ValueError(
                f"patch_size ({self.patch_size}) must divide image_size ({self.image_size})"
            )
        return self

    @classmethod
    def of_size(cls, size: str, **overrides: int | float) -> TransformerConfig:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; available: {sorted(SIZES)} or custom widths")
        width, heads = SIZES[size]
        return cls.model_validate({"width": width, "heads": heads, **overrides})

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, width: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.proj(x).flatten(2).transpose(1, 2)  # (B, 3, H, W) -> (B, N, D)
        return out


class Tokenizer(nn.Module):
    """One sensor's image -> tokens (B, 1 + N, D), CLS first."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d = config.width
        self.patch_size, self.grid = config.patch_size, config.grid
        self.patch_embed = PatchEmbed(config.patch_size, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + config.grid**2, d))
        self.blocks = nn.ModuleList(
            Block(d, config.heads, config.mlp_ratio, TOKENIZER_EPS)
            for _ in range(config.tokenizer_depth)
        )
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(
                f"image {h}x{w} is not a whole number of {self.patch_size}-pixel patches"
            )
        tokens: Tensor = self.patch_embed(x)  # (B, N, D)
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)  # (B, 1 + N, D)
        tokens = tokens + self._pos_embed(h // self.patch_size, w // self.patch_size)
        return self._blocks(tokens)

    def masked(
        self, x: Tensor, mask_ratio: float, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """MAE: positions added, then a random `mask_ratio` of the patch tokens removed per
        sample before the blocks -> (tokens (B, 1 + keep, D), mask (B, N), ids_restore)."""
        b, _, h, w = x.shape
        if (h, w) != (self.grid * self.patch_size,) * 2:
            size = self.grid * self.patch_size
            raise ValueError(f"masked pretraining takes {size}x{size} images, got {h}x{w}")
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), self.patch_embed(x)], dim=1)
        tokens = tokens + self.pos_embed  # (B, 1 + N, D)
        kept, mask, ids_restore = random_masking(tokens[:, 1:], mask_ratio, generator)
        return self._blocks(torch.cat([tokens[:, :1], kept], dim=1)), mask, ids_restore

    def _blocks(self, tokens: Tensor) -> Tensor:
        for block in self.blocks:
            tokens = block(tokens)
        return tokens

    def _pos_embed(self, gh: int, gw: int) -> Tensor:
        """(1, 1 + gh * gw, D): the learned table, bicubically resized for another grid."""
        if (gh, gw) == (self.grid, self.grid):
            return self.pos_embed
        cls, grid = self.pos_embed[:, :1], self.pos_embed[:, 1:]  # (1, 1, D), (1, g * g, D)
        d = grid.shape[-1]
        grid = grid.reshape(1, self.grid, self.grid, d).permute(0, 3, 1, 2)  # (1, D, g, g)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, gh * gw, d)], dim=1)


class Trunk(nn.Module):
    """Blocks shared by every sensor, then the final LayerNorm: (B, T, D) -> (B, T, D)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(config.width, config.heads, config.mlp_ratio, TRUNK_EPS)
            for _ in range(config.trunk_depth)
        )
        self.norm = nn.LayerNorm(config.width, eps=TRUNK_EPS)

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        out: Tensor = self.norm(x)
        return out


class TactileTransformer(nn.Module):
    """Tokenizers by sensor name around one trunk, each with its preprocessing contract.

    `tokens(x, sensor)` takes preprocessed float images; `encode(images, sensor, pool)` takes
    raw uint8 frames and applies the sensor's contract first.
    """

    def __init__(
        self,
        config: TransformerConfig,
        sensors: Mapping[str, Preprocessing] | Sequence[str],
        heads: Mapping[str, HeadConfig] | None = None,
    ) -> None:
        super().__init__()
        if not sensors:
            raise ValueError("a tactile transformer needs at least one sensor tokenizer")
        if not isinstance(sensors, Mapping):  # default: frames already at the training size
            size = config.image_size
            sensors = {s: Preprocessing(resize=size, crop=size) for s in sensors}
        self.config = config
        self.preprocessing: dict[str, Preprocessing] = dict(sensors)
        self.tokenizers = nn.ModuleDict({s: Tokenizer(config) for s in sensors})
        self.trunk = Trunk(config)
        self.head_configs: dict[str, HeadConfig] = dict(heads or {})
        self.heads = nn.ModuleDict(
            {
                task: make_head(head, config.width, config.grid, config.patch_size)
                for task, head in self.head_configs.items()
            }
        )
        self.apply(_init_linear)

    @property
    def sensors(self) -> list[str]:
        return list(self.tokenizers)

    def tokens(self, x: Tensor, sensor: str) -> Tensor:
        """x: preprocessed (B, 3, H, W) float -> trunk output (B, 1 + N, D), CLS first."""
        if sensor not in self.tokenizers:
            raise KeyError(f"no tokenizer for sensor {sensor!r}; this model has {self.sensors}")
        out: Tensor = self.trunk(self.tokenizers[sensor](x))
        return out

    def forward(self, x: Tensor, sensor: str, task: str) -> Tensor:
        """Preprocessed (B, 3, H, W) -> a classification or regression head's (B, outputs)."""
        out: Tensor = self._head(task, ("classification", "regression"))(self.tokens(x, sensor))
        return out

    def pose(self, first: Tensor, second: Tensor, sensor: str, task: str) -> Tensor:
        """Two preprocessed frames (B, 3, H, W) each -> the pose change (B, outputs)."""
        head = self._head(task, ("pose",))
        out: Tensor = head(self.tokens(first, sensor), self.tokens(second, sensor))
        return out

    def mae(
        self,
        x: Tensor,
        sensor: str,
        task: str,
        mask_ratio: float = 0.4,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Masked autoencoding of preprocessed (B, 3, H, W) -> (loss on the removed patches,
        predicted patches (B, N, p * p * 3), mask (B, N) with 1 = removed)."""
        head = self._head(task, ("mae",))
        if sensor not in self.tokenizers:
            raise KeyError(f"no tokenizer for sensor {sensor!r}; this model has {self.sensors}")
        tokenizer = cast(Tokenizer, self.tokenizers[sensor])
        tokens, mask, ids_restore = tokenizer.masked(x, mask_ratio, generator)
        pred: Tensor = head(self.trunk(tokens), ids_restore)
        return mae_loss(pred, x, mask, self.config.patch_size), pred, mask

    def add_head(self, task: str, head: HeadConfig) -> None:
        """A new, freshly initialised head: to fine-tune a task the checkpoint lacks."""
        if task in self.heads:
            raise ValueError(f"the model already has a head for task {task!r}")
        module = make_head(head, self.config.width, self.config.grid, self.config.patch_size)
        module.apply(_init_linear)
        self.head_configs[task] = head
        self.heads[task] = module.to(next(self.parameters()).device)

    def _head(self, task: str, kinds: tuple[str, ...]) -> nn.Module:
        if task not in self.heads:
            raise KeyError(f"no head for task {task!r}; this model has {list(self.heads)}")
        kind = self.head_configs[task].kind
        if kind not in kinds:
            raise ValueError(f"task {task!r} is a {kind} head; this call serves {list(kinds)}")
        return self.heads[task]

    def encode(
        self, images: Tensor, sensor: str, pool: Pool = "cls", reference: Tensor | None = None
    ) -> Tensor:
        """uint8 (B, H, W, 3) -> (B, D) for pool "cls" or "mean" (of the patch tokens), or
        (B, 1 + N, D) for "tokens". `reference`: the sensor's no-contact frame, uint8
        (H, W, 3), for a contract that takes differences."""
        if sensor not in self.preprocessing:
            raise KeyError(f"no tokenizer for sensor {sensor!r}; this model has {self.sensors}")
        device = next(self.parameters()).device
        x = preprocess(images.to(device), self.preprocessing[sensor], reference)
        tokens = self.tokens(x, sensor)
        if pool == "cls":
            return tokens[:, 0]
        if pool == "mean":
            return tokens[:, 1:].mean(dim=1)
        if pool == "tokens":
            return tokens
        raise ValueError(f"pool must be 'cls', 'mean' or 'tokens', got {pool!r}")


def _init_linear(module: nn.Module) -> None:
    """Xavier-uniform linear layers with zero bias (as ViT's JAX reference)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
