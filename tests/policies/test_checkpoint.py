from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from policies import CheckpointError, load_policy, make_policy, save_checkpoint
from tests.policies.conftest import IO, fit_data, make_batch, tiny_config


def _saved(tmp_path: Path, **overrides: object) -> Path:
    torch.manual_seed(0)
    policy = make_policy(tiny_config(**overrides), IO)
    policy.fit_normalizer(fit_data())
    return save_checkpoint(tmp_path / "ckpt", policy, metadata={"step": 3})


def test_round_trip_reproduces_actions(tmp_path: Path) -> None:
    torch.manual_seed(0)
    policy = make_policy(tiny_config(), IO)
    policy.fit_normalizer(fit_data())
    policy.eval()
    save_checkpoint(tmp_path / "ckpt", policy, metadata={"task": "x"})
    loaded = load_policy(tmp_path / "ckpt")
    batch = make_batch(3, policy.config)
    with torch.no_grad():
        assert torch.equal(policy.predict_action_chunk(batch), loaded.predict_action_chunk(batch))
    assert loaded.config == policy.config and loaded.io == policy.io
    assert not loaded.training
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]


def test_overwrite_is_atomic_and_leaves_no_temporaries(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    torch.manual_seed(5)
    other = make_policy(tiny_config(), IO)
    other.fit_normalizer(fit_data())
    save_checkpoint(path, other, extra_files={"notes.txt": b"hi"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    assert (path / "notes.txt").read_bytes() == b"hi"
    loaded = load_policy(path)
    for a, b in zip(loaded.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b)


def test_every_file_gets_the_same_permissions(tmp_path: Path) -> None:
    """The weights are as readable as the config next to them (safetensors alone writes 0600)."""
    policy = make_policy(tiny_config(), IO)
    path = save_checkpoint(tmp_path / "ckpt", policy, extra_files={"extra.bin": b"x"})
    modes = {p.name: p.stat().st_mode & 0o777 for p in path.iterdir()}
    assert len(set(modes.values())) == 1, modes


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint directory"):
        load_policy(tmp_path / "nope")


def test_directory_without_config(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(CheckpointError, match="not a vitac checkpoint"):
        load_policy(tmp_path / "d")


def test_config_not_json(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_policy(path)


def test_foreign_format(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    (path / "config.json").write_text(json.dumps({"format": "lerobot/2", "policy": {}}))
    with pytest.raises(CheckpointError, match=r"format is 'lerobot/2'; this vitac reads"):
        load_policy(path)


def test_unknown_policy_name(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["policy"]["name"] = "gpt"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="unknown policy name 'gpt'"):
        load_policy(path)


def test_invalid_policy_value(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["policy"]["horizon"] = -1
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"invalid policy config.*horizon"):
        load_policy(path)


def test_missing_weights(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    (path / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"missing model\.safetensors"):
        load_policy(path)


def test_truncated_weights(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    blob = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="unreadable safetensors"):
        load_policy(path)


def test_weights_of_another_architecture(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    other = _saved(tmp_path / "other", hidden_dim=16)
    (path / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match=r"weights do not fit 'bc'.*shape"):
        load_policy(path)
