from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from drivers.spec import FieldSpec
from policies import CheckpointError, make_policy
from policies.encoders import Preprocessing, TactileTransformer, TransformerConfig, save_encoder
from policies.files import read_tensors
from policies.tactile import T3Options, complete_t3
from sensing.errors import DatasetError
from sensing.store import EpisodeStore, EpisodeWriter
from tests.policies.conftest import IO, fit_data, make_batch, tiny_config, tiny_policy_config
from training.dataset import load_datasets
from training.interrupt import Interrupted
from training.run_dir import latest_checkpoint
from training.trainer import TrainConfig, param_groups, set_lr, train

POLICY = tiny_config(shift_pixels=2)


def _config(**overrides: object) -> TrainConfig:
    base: dict[str, object] = dict(
        steps=6,
        batch_size=8,
        warmup_steps=2,
        val_ratio=0.25,
        val_every=3,
        val_batches=1,
        checkpoint_every=3,
        log_every=1,
        threads=1,
    )
    return TrainConfig.model_validate(base | overrides)


def test_batches_have_policy_window_shapes(demo_store: Path) -> None:
    train_set, val_set, io, store = load_datasets(demo_store, POLICY, None, 0.25, seed=0)
    assert val_set is not None and len(train_set) > len(val_set) > 0
    assert set(io.obs_shapes) == set(store.keys) - {"action"}
    batch = train_set.batch(np.array([0, 5, 7]))
    assert batch["rgb.scene"].shape == (3, 2, 32, 32, 3)  # (B, T_o, H, W, C)
    assert batch["rgb.scene"].dtype == torch.uint8
    assert batch["proprio.ee_pos"].shape == (3, 2, 3)
    assert batch["action"].shape == (3, 6, 4)  # (B, T_p, D_a)


def test_a_subset_of_episodes_is_drawn_per_seed_before_the_split(demo_store: Path) -> None:
    """train.episodes: the same subset for every run of one seed, another for another seed;
    its windows are those of its episodes only."""
    store = EpisodeStore.open(demo_store)
    lengths = np.diff(np.concatenate([[0], store.episode_ends]))

    def episodes(seed: int) -> set[int]:
        train, val, _, _ = load_datasets(demo_store, POLICY, None, 0.5, seed, episodes=2)
        assert val is not None  # one of the two
        ids = {int(e) for d in (train, val) for e in d.sampler.episodes}
        c = POLICY  # windows per episode: its steps less the horizon, plus the padding
        per = [lengths[i] - c.horizon + 1 + c.n_obs_steps - 1 + c.n_action_steps - 1 for i in ids]
        assert len(train) + len(val) == sum(per)
        return ids

    draws = [episodes(seed) for seed in range(6)]
    assert all(len(d) == 2 for d in draws) and draws[0] == episodes(0)
    assert len({frozenset(d) for d in draws}) > 1  # seeds draw different subsets
    with pytest.raises(DatasetError, match=r"train\.episodes = 9; it holds 4 episodes"):
        load_datasets(demo_store, POLICY, None, 0.0, 0, episodes=9)


def test_unknown_obs_key_is_a_dataset_error(demo_store: Path) -> None:
    with pytest.raises(DatasetError, match=r"obs keys \['rgb.wrist'\] not in the dataset"):
        load_datasets(demo_store, POLICY, ["rgb.wrist"], 0.0, seed=0)


def _same_weights(a: Path, b: Path) -> bool:
    """Both the deployed (EMA) weights and the online weights are equal."""
    same = True
    for name in ("model.safetensors", "online.safetensors"):
        x, y = read_tensors(a / name), read_tensors(b / name)
        same &= x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    return same


def _interrupt_at(step: int) -> Callable[[int], None]:
    def hook(done: int) -> None:
        if done == step:
            signal.raise_signal(signal.SIGINT)  # the real signal, caught by the trainer

    return hook


def test_an_interrupted_run_saves_and_resumes_bit_exactly(demo_store: Path, tmp_path: Path) -> None:
    straight = train(POLICY, _config(), demo_store, tmp_path / "a", progress=False)
    before = signal.getsignal(signal.SIGINT)  # default, or SIG_IGN in a background job
    with pytest.raises(Interrupted, match=r"stopped at step 4 of 6") as caught:
        train(
            POLICY, _config(), demo_store, tmp_path / "b", progress=False, on_step=_interrupt_at(4)
        )
    assert caught.value.exit_code == 130 and caught.value.signal_name == "SIGINT"
    # step 4 is not a periodic checkpoint (every 3): the interruption saved it
    assert latest_checkpoint(tmp_path / "b") == tmp_path / "b/checkpoints/step_0000004"
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored
    resumed = train(POLICY, _config(), demo_store, tmp_path / "b", resume=True, progress=False)
    assert resumed.checkpoint.name == straight.checkpoint.name == "step_0000006"
    assert _same_weights(straight.checkpoint, resumed.checkpoint)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b/metrics.jsonl").open()]
    assert steps == [1, 2, 3, 4, 5, 6]  # no duplicated lines from the first attempt
    assert resumed.train_loss == pytest.approx(straight.train_loss)


def test_raising_train_steps_on_resume_warns_that_the_run_is_not_the_longer_one(
    demo_store: Path, tmp_path: Path
) -> None:
    # warmup 1: the 3-step cosine and the 6-step cosine differ from step 2 on
    straight = train(POLICY, _config(warmup_steps=1), demo_store, tmp_path / "a", progress=False)
    train(POLICY, _config(steps=3, warmup_steps=1), demo_store, tmp_path / "b", progress=False)
    said: list[str] = []
    resumed = train(
        POLICY,
        _config(warmup_steps=1),
        demo_store,
        tmp_path / "b",
        resume=True,
        progress=False,
        log=said.append,
    )
    assert len(said) == 1 and "train.steps changed (3 -> 6)" in said[0]
    assert "will not match an uninterrupted run" in said[0]
    assert not _same_weights(straight.checkpoint, resumed.checkpoint)


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"lr": 2e-3}, "train.lr: 0.001 -> 0.002"),
        ({"batch_size": 4}, "train.batch_size: 8 -> 4"),
        ({"seed": 1}, "train.seed: 0 -> 1"),
        ({"ema": {"enabled": False}}, "train.ema.enabled: True -> False"),
        ({"ema": {"power": 0.5}}, "train.ema.power: 0.75 -> 0.5"),
    ],
)
def test_resume_with_other_optimisation_keys_is_refused_naming_only_those(
    demo_store: Path, tmp_path: Path, change: dict[str, object], shown: str
) -> None:
    train(POLICY, _config(steps=3), demo_store, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="cannot resume exactly") as caught:
        train(POLICY, _config(**change), demo_store, tmp_path, resume=True, progress=False)
    message = str(caught.value)
    assert shown in message
    assert message.count(" -> ") == 1  # only the key that differs, not a dump of the config
    # cadence keys do not change the result: resuming with them changed is fine
    train(
        POLICY, _config(log_every=2, val_every=2), demo_store, tmp_path, resume=True, progress=False
    )


def _copy_store(src: Path, dst: Path, episodes: int, action_dims: int | None = None) -> Path:
    """The first `episodes` episodes of `src`; actions cut to `action_dims` when given."""
    store = EpisodeStore.open(src)
    schema = store.schema
    if action_dims is not None:
        schema["action"] = FieldSpec(shape=(action_dims,), dtype=schema["action"].dtype)
    with EpisodeWriter.create(dst, schema, attrs=store.attrs) as writer:
        for i in range(episodes):
            data = store.episode(i)
            for t in range(len(data["timestamp"])):
                frame = {k: data[k][t] for k in schema}
                frame["action"] = frame["action"][: schema["action"].shape[0]]
                writer.add(frame, timestamp=float(data["timestamp"][t]))
            writer.commit(success=True, seed=i)
    return dst


def test_resume_on_another_dataset_is_refused_naming_what_differs(
    demo_store: Path, tmp_path: Path
) -> None:
    train(POLICY, _config(steps=3), demo_store, tmp_path / "run", progress=False)
    fewer = _copy_store(demo_store, tmp_path / "fewer.zarr", episodes=3)
    with pytest.raises(CheckpointError, match=r"dataset\.episodes: 4 -> 3; dataset\.frames"):
        train(POLICY, _config(), fewer, tmp_path / "run", resume=True, progress=False)
    # another action size used to fail inside the first step (a tensor size RuntimeError)
    narrow = _copy_store(demo_store, tmp_path / "narrow.zarr", episodes=4, action_dims=3)
    with pytest.raises(CheckpointError, match=r"io\.action_dim: 4 -> 3"):
        train(POLICY, _config(), narrow, tmp_path / "run", resume=True, progress=False)


def test_checkpoints_carry_trainer_state_and_task_metadata(
    demo_store: Path, tmp_path: Path
) -> None:
    result = train(POLICY, _config(), demo_store, tmp_path, progress=False)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["last", "step_0000003", "step_0000006"]
    files = sorted(p.name for p in result.checkpoint.iterdir())
    assert files == [
        "config.json",
        "model.safetensors",
        "online.safetensors",
        "trainer.json",
        "trainer.safetensors",
    ]
    metadata = json.loads((result.checkpoint / "config.json").read_text())["metadata"]
    assert metadata["step"] == 6 and metadata["dataset_attrs"]["task"] == "peg_insertion"
    assert result.val_loss is not None and np.isfinite(result.train_loss)


def test_refuses_to_train_over_an_existing_run(demo_store: Path, tmp_path: Path) -> None:
    train(POLICY, _config(steps=3), demo_store, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"already holds checkpoints.*resume"):
        train(POLICY, _config(), demo_store, tmp_path, progress=False)
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_0000003"


def test_resume_without_a_checkpoint_or_past_the_last_step_is_refused(
    demo_store: Path, tmp_path: Path
) -> None:
    with pytest.raises(CheckpointError, match="holds no checkpoint; start a new run"):
        train(POLICY, _config(steps=3), demo_store, tmp_path, resume=True, progress=False)
    assert latest_checkpoint(tmp_path) is None
    train(POLICY, _config(steps=3), demo_store, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"has done 3 steps and train\.steps is 2"):
        train(POLICY, _config(steps=2), demo_store, tmp_path, resume=True, progress=False)
    with pytest.raises(CheckpointError, match=r"has done 3 steps and train\.steps is 3"):
        train(POLICY, _config(steps=3), demo_store, tmp_path, resume=True, progress=False)


def test_resume_with_another_policy_config_is_refused(demo_store: Path, tmp_path: Path) -> None:
    train(POLICY, _config(steps=3), demo_store, tmp_path, progress=False)
    other = POLICY.model_copy(update={"hidden_dim": 16})
    with pytest.raises(CheckpointError, match="original launch file") as caught:
        train(other, _config(), demo_store, tmp_path, resume=True, progress=False)
    assert "policy.hidden_dim: 32 -> 16" in str(caught.value)
    assert str(caught.value).count(" -> ") == 1


def test_a_checkpoint_from_before_a_new_policy_option_resumes(
    demo_store: Path, tmp_path: Path
) -> None:
    train(POLICY, _config(steps=3), demo_store, tmp_path, progress=False)
    saved = tmp_path / "checkpoints" / "step_0000003" / "config.json"
    config = json.loads(saved.read_text())
    del config["policy"]["image_encoder"]  # as written before the option existed
    saved.write_text(json.dumps(config))
    resumed = train(POLICY, _config(steps=4), demo_store, tmp_path, resume=True, progress=False)
    assert resumed.checkpoint.name == "step_0000004"


def test_loss_falls_on_real_demonstrations(demo_store: Path, tmp_path: Path) -> None:
    config = _config(steps=80, val_ratio=0.0, checkpoint_every=80, log_every=1, lr=3e-3)
    train(POLICY, config, demo_store, tmp_path, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").open()]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:3])


def test_bf16_autocast_trains_close_to_float32(demo_store: Path, tmp_path: Path) -> None:
    """train.precision = "bf16" (auto picks it on CUDA): same run within bf16's precision."""
    plain = train(POLICY, _config(), demo_store, tmp_path / "fp32", progress=False)
    half = train(POLICY, _config(precision="bf16"), demo_store, tmp_path / "bf16", progress=False)
    assert half.train_loss != plain.train_loss  # the forward really ran in bf16
    assert abs(half.train_loss - plain.train_loss) < 0.05 * plain.train_loss


@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_a_t3_encoders_lr_scale_slows_only_the_encoder(tmp_path: Path, scale: float) -> None:
    arch = TransformerConfig(
        width=16, heads=2, tokenizer_depth=1, trunk_depth=1, patch_size=4, image_size=16
    )
    contract = Preprocessing(resize=16, crop=16)
    encoder = save_encoder(TactileTransformer(arch, {"mini": contract}), tmp_path / "encoder")
    options = complete_t3(T3Options(checkpoint=str(encoder), mode="finetune", lr_scale=scale))
    config = tiny_policy_config("bc", tactile_encoder="t3", t3=options.model_dump())
    policy = make_policy(config, IO)
    policy.fit_normalizer(fit_data())
    policy.load_pretrained()
    groups = param_groups(policy)
    assert len(groups) == (1 if scale == 1.0 else 2)
    optimizer = torch.optim.AdamW(groups, lr=1.0, weight_decay=0.0)
    set_lr(optimizer, 1e-2)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    policy.compute_loss(make_batch(2, policy.config)).backward()
    optimizer.step()
    moved = {n: (p.detach() - before[n]).abs().max().item() for n, p in policy.named_parameters()}
    trunk = max(v for n, v in moved.items() if ".t3.encoder." in n)
    head = max(v for n, v in moved.items() if ".t3.encoder." not in n)
    assert 0.9e-2 <= head <= 1.1e-2  # Adam's first step moves a weight by about the lr
    assert 0.9e-2 * scale <= trunk <= 1.1e-2 * scale
