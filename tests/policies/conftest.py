"""Tiny policy fixtures: small enough that every test runs in well under a second."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from policies import BCConfig, PolicyConfig, PolicyIO, policy_config_from_dict

IO = PolicyIO(
    obs_shapes={"rgb.scene": (16, 16, 3), "tactile.left": (8, 8, 3), "proprio.ee_pos": (3,)},
    image_keys=["rgb.scene", "tactile.left"],
    action_dim=4,
)


def tiny_config(**overrides: object) -> BCConfig:
    base: dict[str, object] = dict(
        n_obs_steps=2,
        horizon=6,
        n_action_steps=3,
        image_features=8,
        conv_widths=(4, 8),
        num_keypoints=4,
        hidden_dim=32,
        hidden_layers=1,
        shift_pixels=1,
    )
    return BCConfig.model_validate(base | overrides)


TINY_DIFFUSION: dict[str, object] = dict(
    n_obs_steps=2,
    horizon=8,
    n_action_steps=3,
    image_features=8,
    conv_widths=(4, 8),
    num_keypoints=4,
    shift_pixels=1,
    down_widths=(8, 16),
    step_embed_dim=8,
    num_train_steps=20,
    inference_steps=5,
)


TINY_TRANSFORMER: dict[str, object] = dict(
    backbone="transformer", transformer_width=16, transformer_heads=2, transformer_layers=2
)
# every registered kind, BC's transformer head, the second diffusion backbone and the
# flow-matching objective
VARIANTS = ("bc", "bc_transformer", "diffusion", "diffusion_transformer", "diffusion_flow")


def tiny_policy_config(name: str, **overrides: object) -> PolicyConfig:
    """A tiny config of any registered policy kind (or of a variant in VARIANTS)."""
    if name == "bc":
        return tiny_config(**overrides)
    if name == "diffusion":
        return policy_config_from_dict({"name": name, **TINY_DIFFUSION, **overrides})
    if name == "bc_transformer":
        return tiny_config(head="transformer", **overrides)
    if name == "diffusion_transformer":
        return tiny_policy_config("diffusion", **TINY_TRANSFORMER, **overrides)
    if name == "diffusion_flow":
        return tiny_policy_config("diffusion", objective="flow", **overrides)
    raise KeyError(f"no tiny config for policy {name!r}: add one to tests/policies/conftest.py")


def make_batch(batch: int, config: PolicyConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Observation windows (B, T_o, ...) and action chunks (B, T_p, D_a)."""
    rng = np.random.default_rng(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape in IO.obs_shapes.items():
        if key in IO.image_keys:
            values = rng.integers(0, 256, (batch, config.n_obs_steps, *shape), dtype=np.uint8)
            out[key] = torch.from_numpy(values)
        else:
            out[key] = torch.from_numpy(rng.normal(size=(batch, config.n_obs_steps, *shape)))
    out["action"] = torch.from_numpy(
        rng.normal(size=(batch, config.horizon, IO.action_dim)).astype(np.float32)
    )
    return out


def fit_data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"proprio.ee_pos": rng.normal(size=(50, 3)), "action": rng.normal(size=(50, 4)) * 3}


@pytest.fixture
def io() -> PolicyIO:
    return IO
