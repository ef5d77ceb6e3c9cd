"""The transformer denoiser of Diffusion Policy (the paper's "time-series diffusion
transformer", after minGPT): the noisy action chunk is a sequence of T_p tokens that
attend causally to each other and, through cross-attention, to condition tokens: the
diffusion step and one token per observation frame.

    actions (B, T_p, D_a) -> Linear -> + position -> decoder layers (causal self-attention,
    cross-attention to the condition) -> LayerNorm -> Linear -> (B, T_p, D_a)
    condition: [step embedding, Linear(frame features) for each of T_o frames] + position
    -> encoder layers -> memory (B, 1 + T_o, width)

Built from torch's own TransformerEncoder/DecoderLayer (pre-norm, GELU).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from policies.unet1d import StepEmbedding


class ConditionalTransformer1D(nn.Module):
    """(B, T_p, D_a) noisy actions, (B,) steps, (B, T_o, F) frame features -> (B, T_p, D_a)."""

    def __init__(
        self,
        action_dim: int,
        frame_features: int,
        horizon: int,
        n_obs_steps: int,
        width: int = 128,
        heads: int = 4,
        layers: int = 4,
        cond_layers: int = 1,
        dropout: float = 0.1,
        causal: bool = True,
    ) -> None:
        super().__init__()
        self.causal = causal
        self.action_in = nn.Linear(action_dim, width)
        self.action_position = nn.Parameter(torch.zeros(1, horizon, width))
        self.step_embedding = StepEmbedding(width)
        self.frame_in = nn.Linear(frame_features, width)
        self.cond_position = nn.Parameter(torch.zeros(1, 1 + n_obs_steps, width))

        def encoder_layer() -> nn.TransformerEncoderLayer:
            return nn.TransformerEncoderLayer(
                width, heads, 4 * width, dropout, "gelu", batch_first=True, norm_first=True
            )

        self.cond_encoder = (
            nn.TransformerEncoder(encoder_layer(), cond_layers, enable_nested_tensor=False)
            if cond_layers > 0
            else nn.Identity()
        )
        layer = nn.TransformerDecoderLayer(
            width, heads, 4 * width, dropout, "gelu", batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, action_dim))
        nn.init.normal_(self.action_position, std=0.02)
        nn.init.normal_(self.cond_position, std=0.02)

    def forward(self, sample: Tensor, step: Tensor, cond: Tensor) -> Tensor:
        step_token = self.step_embedding(step)[:, None]  # (B, 1, W)
        memory = torch.cat([step_token, self.frame_in(cond)], dim=1) + self.cond_position
        memory = self.cond_encoder(memory)  # (B, 1 + T_o, W)
        x = self.action_in(sample) + self.action_position  # (B, T_p, W)
        horizon = x.shape[1]
        mask = (
            nn.Transformer.generate_square_subsequent_mask(horizon, device=x.device)
            if self.causal
            else None
        )
        x = self.decoder(x, memory, tgt_mask=mask, tgt_is_causal=self.causal)  # (B, T_p, W)
        out: Tensor = self.out(x)  # (B, T_p, D_a)
        return out
