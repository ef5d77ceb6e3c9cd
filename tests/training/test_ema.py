from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from policies import load_policy, make_policy
from policies.files import read_tensors
from tests.policies.conftest import IO, fit_data, tiny_config
from tests.training.test_trainer import POLICY, _config
from training.ema import Ema, EmaConfig
from training.trainer import train


def test_decay_warms_up_like_diffusion_policys_and_stops_at_its_maximum() -> None:
    ema = Ema(make_policy(tiny_config(), IO), EmaConfig())
    assert ema.decay(0) == 0.0  # the first update copies
    assert ema.decay(1) == pytest.approx(1 - 2**-0.75)
    assert ema.decay(999) == pytest.approx(1 - 1000**-0.75)
    assert ema.decay(10**9) == 0.9999
    assert Ema(ema.model, EmaConfig(min_decay=0.5)).decay(0) == 0.5


def test_update_is_the_weighted_average_and_copies_buffers() -> None:
    torch.manual_seed(0)
    policy = make_policy(tiny_config(), IO)
    ema = Ema(policy, EmaConfig())
    start = [p.detach().clone() for p in policy.parameters()]
    ema.update(policy, 0)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(1.0)
    policy.fit_normalizer(fit_data())  # buffers change too
    ema.update(policy, 1)
    d = ema.decay(1)
    pairs = zip(ema.model.parameters(), start, policy.parameters(), strict=True)
    for averaged, before, now in pairs:
        torch.testing.assert_close(averaged, d * before + (1 - d) * now.detach())
        assert not averaged.requires_grad
    for mine, theirs in zip(ema.model.buffers(), policy.buffers(), strict=True):
        assert torch.equal(mine, theirs)


def test_the_checkpoint_deploys_the_average_and_keeps_training_the_online_weights(
    demo_store: Path, tmp_path: Path
) -> None:
    """With EMA on, the optimiser's trajectory is the same as without it (the online weights
    are bit-equal); the checkpoint's weights, which eval loads, are the average, and the
    validation loss is the average's."""
    with_ema = train(POLICY, _config(), demo_store, tmp_path / "ema", progress=False)
    off = _config(ema=EmaConfig(enabled=False))
    plain = train(POLICY, off, demo_store, tmp_path / "plain", progress=False)
    online = read_tensors(with_ema.checkpoint / "online.safetensors")
    trained = read_tensors(plain.checkpoint / "model.safetensors")
    assert all(torch.equal(online[k], trained[k]) for k in trained)
    assert not (plain.checkpoint / "online.safetensors").exists()
    deployed = load_policy(with_ema.checkpoint).state_dict()
    assert any(not torch.equal(deployed[k], online[k]) for k in online)
    assert with_ema.val_loss != plain.val_loss
    saved = json.loads((with_ema.checkpoint / "config.json").read_text())["metadata"]
    assert saved["train"]["ema"]["enabled"] is True


def test_the_average_lags_the_online_weights_by_its_decay(demo_store: Path, tmp_path: Path) -> None:
    """min_decay 0.5 from the first step on: the average after each step is half the previous
    average and half the new weights, checked against the online weights saved each step."""
    config = _config(steps=3, checkpoint_every=1, ema=EmaConfig(min_decay=0.5, max_decay=0.5))
    result = train(POLICY, config, demo_store, tmp_path, progress=False)
    run = result.checkpoint.parent
    onlines = [read_tensors(run / f"step_000000{i}/online.safetensors") for i in (1, 2, 3)]
    deployed = [read_tensors(run / f"step_000000{i}/model.safetensors") for i in (1, 2, 3)]
    for key, first in deployed[0].items():
        if key.endswith(("__scale", "__offset")):
            continue  # normaliser buffers are copied, not averaged
        second = 0.5 * first + 0.5 * onlines[1][key]
        torch.testing.assert_close(deployed[1][key], second)
        torch.testing.assert_close(deployed[2][key], 0.5 * second + 0.5 * onlines[2][key])
