"""Every registered policy kind through the contract: a train step, prediction, save and
load, closed-loop stepping, and the normaliser's refusal of a missing key."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from policies import POLICIES, load_policy, make_policy, save_checkpoint
from tests.policies.conftest import IO, VARIANTS, fit_data, make_batch, tiny_policy_config

KINDS = list(VARIANTS)


def test_every_registered_kind_is_tested() -> None:
    assert set(POLICIES) <= set(VARIANTS)


def _policy(name: str, seed: int = 0):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    policy = make_policy(tiny_policy_config(name), IO)
    policy.fit_normalizer(fit_data())
    return policy


@pytest.mark.parametrize("name", KINDS)
def test_a_train_step_reaches_every_parameter(name: str) -> None:
    policy = _policy(name).train()
    loss = policy.compute_loss(make_batch(4, policy.config))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    untouched = [n for n, p in policy.named_parameters() if p.grad is None or not p.grad.any()]
    assert not untouched, f"parameters without a gradient: {untouched}"


@pytest.mark.parametrize("name", KINDS)
def test_prediction_shape_and_save_load_round_trip(name: str, tmp_path: Path) -> None:
    policy = _policy(name).eval()
    batch = make_batch(3, policy.config)
    torch.manual_seed(7)
    with torch.no_grad():
        chunk = policy.predict_action_chunk(batch)
    assert chunk.shape == (3, policy.config.horizon, IO.action_dim) and torch.isfinite(chunk).all()
    loaded = load_policy(save_checkpoint(tmp_path / "ckpt", policy))
    assert type(loaded) is type(policy) and loaded.config == policy.config
    torch.manual_seed(7)
    with torch.no_grad():
        assert torch.equal(loaded.predict_action_chunk(batch), chunk)


@pytest.mark.parametrize("name", KINDS)
def test_select_action_executes_n_action_steps_per_chunk(name: str) -> None:
    policy = _policy(name).eval()
    calls = []
    original = policy.predict_action_chunk
    policy.predict_action_chunk = lambda obs, g=None: calls.append(obs) or original(obs, g)  # type: ignore[method-assign]
    frame = {k: v[0, 0].numpy() for k, v in make_batch(1, policy.config).items() if k != "action"}
    policy.reset()
    actions = [policy.select_action(frame) for _ in range(2 * policy.config.n_action_steps + 1)]
    assert len(calls) == 3
    assert all(a.shape == (IO.action_dim,) and a.dtype == np.float32 for a in actions)


@pytest.mark.parametrize("name", KINDS)
def test_fitting_without_a_key_is_an_error(name: str) -> None:
    policy = make_policy(tiny_policy_config(name), IO)
    with pytest.raises(KeyError, match=r"proprio\.ee_pos"):
        policy.fit_normalizer({"action": np.zeros((5, IO.action_dim))})


@pytest.mark.parametrize("name", KINDS)
def test_an_action_dimension_the_demonstrations_never_changed_comes_out_unchanged(
    name: str,
) -> None:
    """The gripper closed in every demonstration stays closed, whatever an untrained (or
    out-of-distribution) network outputs there; an observation's constant keeps scale 1."""
    data = fit_data()
    data["action"][:, -1] = 0.02  # e.g. a gripper command that never varies
    data["proprio.ee_pos"][:, 0] = 0.5
    torch.manual_seed(0)
    policy = make_policy(tiny_policy_config(name), IO)
    policy.fit_normalizer(data)
    torch.manual_seed(7)
    with torch.no_grad():
        chunk = policy.eval().predict_action_chunk(make_batch(4, policy.config))
    assert torch.all((chunk[..., -1] - 0.02).abs() <= 0.51e-4)
    assert chunk[..., 0].std() > 0.01  # the varying dimensions are not pinned
    scale = policy.normalizer.normalize("proprio.ee_pos", torch.tensor([[1.5, 0.0, 0.0]]))
    assert scale[0, 0].item() == pytest.approx(1.0)  # 1 unit from the constant -> 1


@pytest.mark.parametrize("scale", [None, 2.0])
@pytest.mark.parametrize("name", KINDS)
def test_relative_chunks_are_fitted_on_the_current_pose_and_returned_absolute(
    name: str, scale: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """relative_to: the network's targets are positions minus the current frame's measured
    one (asinh-compressed with relative_scale; the normaliser is fitted on those), and a
    predicted chunk comes back absolute."""
    extra = {"clip_sample": False} if name.startswith("diffusion") else {}
    config = tiny_policy_config(
        name,
        relative_to="proprio.ee_pos",
        relative_scale=scale,
        action_norm="gaussian",
        **extra,
    )
    policy = make_policy(config, IO)
    windows = make_batch(64, config, seed=1)
    here = windows["proprio.ee_pos"][:, -1:, :].float()  # (64, 1, 3) the current frame
    windows["action"][..., :3] += here + 100.0  # absolute: 100 m off; relative: about 100
    policy.fit_normalizer(fit_data(), windows)
    relative = policy.training_actions(windows)
    expected = windows["action"][..., :3] - here
    if scale is not None:
        expected = scale * torch.asinh(expected / scale)
    torch.testing.assert_close(relative[..., :3], expected)
    normalised = policy.normalizer.normalize("action", relative).reshape(-1, IO.action_dim)
    torch.testing.assert_close(normalised.mean(0), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(normalised.std(0, correction=0), torch.ones(4), atol=1e-4, rtol=0)
    # whatever the network says (here: 0.1 in every dimension), positions come back absolute
    monkeypatch.setattr(policy.normalizer, "unnormalize", lambda key, y: torch.full_like(y, 0.1))
    batch = make_batch(3, config, seed=2)
    with torch.no_grad():
        chunk = policy.eval().predict_action_chunk(batch)
    current = batch["proprio.ee_pos"][:, -1, None, :].float().expand(-1, config.horizon, -1)
    move = 0.1 if scale is None else scale * math.sinh(0.1 / scale)
    torch.testing.assert_close(chunk[..., :3], current + move)
    assert torch.allclose(chunk[..., 3], torch.tensor(0.1))


def test_relative_chunks_need_the_windows_to_fit() -> None:
    policy = make_policy(tiny_policy_config("bc", relative_to="proprio.ee_pos"), IO)
    with pytest.raises(ValueError, match="needs the windows"):
        policy.fit_normalizer(fit_data())


@pytest.mark.parametrize("name", KINDS)
def test_a_base_frame_stream_feeds_its_episodes_first_frame(name: str) -> None:
    torch.manual_seed(0)
    policy = make_policy(tiny_policy_config(name, base_frame_keys=["tactile.left"]), IO).eval()
    policy.fit_normalizer(fit_data())
    batch = make_batch(2, policy.config)
    batch["base.tactile.left"] = batch["tactile.left"][:, :1].clone()  # (B, 1, H, W, 3)
    other = {**batch, "base.tactile.left": 255 - batch["base.tactile.left"]}
    with torch.no_grad():
        chunks = [policy.predict_action_chunk(b, torch.Generator().manual_seed(1)) for b in (
            batch, other)]  # fmt: skip
    assert not torch.allclose(chunks[0], chunks[1])  # the base frame is read

    seen = []
    original = policy.predict_action_chunk
    policy.predict_action_chunk = lambda obs, g=None: seen.append(obs) or original(obs, g)  # type: ignore[method-assign]
    for episode in range(2):
        frames = make_batch(1, policy.config.model_copy(update={"n_obs_steps": 7}), episode)
        policy.reset()
        for t in range(7):  # re-plans at steps 0, 3 and 6
            policy.select_action({k: v[0, t].numpy() for k, v in frames.items() if k != "action"})
        first = frames["tactile.left"][0, 0]
        assert len(seen) == 3 * (episode + 1)
        for obs in seen[-3:]:
            assert torch.equal(obs["base.tactile.left"], first[None, None])


def test_base_frame_keys_must_be_image_inputs() -> None:
    with pytest.raises(ValueError, match=r"base_frame_keys \['proprio.ee_pos'\]: not image"):
        make_policy(tiny_policy_config("bc", base_frame_keys=["proprio.ee_pos"]), IO)
