from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from policies import BCConfig, PolicyIO, make_policy
from tests.policies.conftest import IO, fit_data, make_batch, tiny_config


def _tiny_policy(seed: int = 0, **overrides: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    policy = make_policy(tiny_config(**overrides), IO)
    policy.fit_normalizer(fit_data())
    return policy


def test_chunk_shapes_and_units() -> None:
    """Chunks come out in the data's units: the same network with its action statistics fitted
    on 10 * a + 5 predicts exactly 10 * chunk + 5."""
    policy = _tiny_policy().eval()
    batch = make_batch(5, policy.config)
    with torch.no_grad():
        chunk = policy.predict_action_chunk(batch)
    assert chunk.shape == (5, 6, 4)  # (B, T_p, D_a)
    assert torch.isfinite(chunk).all()
    data = fit_data()
    rescaled = _tiny_policy().eval()
    rescaled.fit_normalizer({**data, "action": 10.0 * data["action"] + 5.0})
    with torch.no_grad():
        torch.testing.assert_close(
            rescaled.predict_action_chunk(batch), 10.0 * chunk + 5.0, rtol=1e-5, atol=1e-4
        )


def test_config_rejects_chunk_that_does_not_fit_horizon() -> None:
    with pytest.raises(ValidationError, match="n_obs_steps - 1 \\+ n_action_steps"):
        BCConfig(n_obs_steps=3, horizon=4, n_action_steps=3)


def test_io_rejects_unknown_image_key() -> None:
    with pytest.raises(ValidationError, match="not in obs_shapes"):
        PolicyIO(obs_shapes={"a": (3,)}, image_keys=["rgb.x"], action_dim=2)


def test_training_fits_a_mapping_from_proprio_to_actions() -> None:
    """The loss must fall well below its start when the target is a function of the input."""
    policy = _tiny_policy(shift_pixels=0)
    batch = make_batch(32, policy.config, seed=1)
    proprio = batch["proprio.ee_pos"][:, -1].float()  # (B, 3)
    batch["action"] = torch.cat([proprio, proprio[:, :1]], dim=-1)[:, None].repeat(1, 6, 1)
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = policy.compute_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]


def test_select_action_replans_every_n_action_steps() -> None:
    policy = _tiny_policy().eval()
    calls: list[dict[str, torch.Tensor]] = []
    original = policy.predict_action_chunk

    def spy(obs, generator=None):  # type: ignore[no-untyped-def]
        calls.append(obs)
        return original(obs, generator)

    policy.predict_action_chunk = spy  # type: ignore[method-assign]
    batch = make_batch(1, policy.config)
    frame = {k: v[0, 0].numpy() for k, v in batch.items() if k != "action"}
    policy.reset()
    actions = [policy.select_action(frame) for _ in range(7)]
    assert len(calls) == 3  # steps 0, 3, 6 with n_action_steps = 3
    assert all(a.shape == (4,) and a.dtype == np.float32 for a in actions)
    # the first call pads the history with copies of the first frame: (1, T_o, ...)
    first = calls[0]["proprio.ee_pos"]
    assert first.shape == (1, 2, 3) and torch.equal(first[0, 0], first[0, 1])
    # executed actions are chunk[T_o - 1 : T_o - 1 + T_a]
    with torch.no_grad():
        expected = original(calls[0])[0, 1:4].numpy()
    np.testing.assert_allclose(np.stack(actions[:3]), expected, rtol=1e-6)
    policy.reset()
    policy.select_action(frame)
    assert len(calls) == 4  # reset dropped the queued actions


def test_augmentation_only_in_training_mode() -> None:
    policy = _tiny_policy()
    batch = make_batch(4, policy.config)
    policy.eval()
    assert policy.compute_loss(batch).item() == policy.compute_loss(batch).item()
    policy.train()
    torch.manual_seed(0)
    a = policy.compute_loss(batch).item()
    torch.manual_seed(1)
    assert a != policy.compute_loss(batch).item()


def test_the_resnet_encoder_option_trains_and_reloads(tmp_path: Path) -> None:
    from policies import load_policy, save_checkpoint

    policy = _tiny_policy(image_encoder="resnet18", image_features=8)
    assert type(policy.observations.encoders["rgb__scene"]).__name__ == "ResNetEncoder"
    batch = make_batch(4, policy.config)
    loss = policy.compute_loss(batch)
    loss.backward()
    assert policy.observations.encoders["rgb__scene"].trunk[0].weight.grad is not None
    path = save_checkpoint(tmp_path / "ckpt", policy)
    again = load_policy(path).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            again.predict_action_chunk(batch), policy.eval().predict_action_chunk(batch)
        )


def test_the_transformer_head_makes_one_action_per_query_from_the_frames() -> None:
    policy = _tiny_policy(head="transformer").eval()
    assert type(policy.head).__name__ == "ChunkTransformer"
    assert policy.head.queries.shape == (1, 6, 32)  # (1, T_p, hidden_dim)
    batch = make_batch(3, policy.config)
    later = {**batch, "proprio.ee_pos": batch["proprio.ee_pos"].clone()}
    later["proprio.ee_pos"][:, 1] += 5.0  # the last frame changes
    with torch.no_grad():
        chunk, moved = policy.predict_action_chunk(batch), policy.predict_action_chunk(later)
    assert chunk.shape == (3, 6, 4) and (chunk - moved).abs().max() > 1e-4


def test_bc_cannot_inpaint_a_committed_plan() -> None:
    policy = make_policy(tiny_config(), IO).eval()
    policy.fit_normalizer(fit_data())
    window = {k: v[0].numpy() for k, v in make_batch(1, policy.config).items() if k != "action"}
    assert not policy.can_inpaint
    with pytest.raises(ValueError, match="needs a diffusion policy"):
        policy.plan(window, committed=(np.zeros((2, 4), np.float32), np.ones(2, np.float32)))
