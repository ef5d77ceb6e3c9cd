from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.cli import main
from tests.training.test_trainer import POLICY, _config, _interrupt_at
from training.interrupt import Interrupted
from training.rollouts import RolloutConfig, Selection
from training.run_dir import resolve_checkpoint
from training.trainer import train

SCRIPTED = {2: 0.5, 4: 0.9, 6: 0.3}  # success by step: the best is not the last


def _scripted(calls: list[str]):  # type: ignore[no-untyped-def]
    def rollout(checkpoint: Path) -> float:
        assert (checkpoint / "model.safetensors").is_file()  # saved before it is rolled out
        calls.append(checkpoint.name)
        return SCRIPTED[int(checkpoint.name.removeprefix("step_"))]

    return rollout


def test_selection_prefers_success_then_lower_validation_loss_then_the_later_step(
    tmp_path: Path,
) -> None:
    selection = Selection(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    assert selection.consider(1, 0.5, 0.2) and selection.step == 1
    assert not selection.consider(2, 0.4, 0.01)  # lower success loses whatever its loss
    assert selection.consider(3, 0.5, 0.1)  # same success, lower loss wins
    assert not selection.consider(4, 0.5, 0.3)
    assert selection.consider(5, 0.5, 0.1)  # a full tie: the later step
    assert (tmp_path / "checkpoints/best").readlink() == Path("step_0000005")
    again = Selection(tmp_path)
    again.replay([{"step": 1, "success": 0.5, "val_loss": 0.2}, {"step": 2, "success": None}])
    assert again.step == 1


def test_the_best_checkpoint_by_success_is_kept_and_deployed_not_the_last(
    demo_store: Path, tmp_path: Path
) -> None:
    calls: list[str] = []
    config = _config(rollout=RolloutConfig(every=2))
    result = train(POLICY, config, demo_store, tmp_path, progress=False, rollout=_scripted(calls))
    assert calls == ["step_0000002", "step_0000004", "step_0000006"]
    assert result.best == tmp_path / "checkpoints/step_0000004" != result.checkpoint
    assert resolve_checkpoint(tmp_path) == result.best  # what `vitac eval RUN` evaluates
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    rolled = {r["step"]: r["success"] for r in records if r["success"] is not None}
    assert rolled == SCRIPTED
    assert all(r["val_loss"] is not None for r in records if r["success"] is not None)


def test_a_resumed_run_remembers_the_best_before_the_interruption(
    demo_store: Path, tmp_path: Path
) -> None:
    calls: list[str] = []
    config = _config(rollout=RolloutConfig(every=2))
    with pytest.raises(Interrupted):
        train(
            POLICY,
            config,
            demo_store,
            tmp_path,
            progress=False,
            rollout=_scripted(calls),
            on_step=_interrupt_at(5),
        )
    result = train(
        POLICY, config, demo_store, tmp_path, resume=True, progress=False, rollout=_scripted(calls)
    )
    assert calls == ["step_0000002", "step_0000004", "step_0000006"]
    assert result.best == tmp_path / "checkpoints/step_0000004"


def test_rollouts_need_something_to_run_them(demo_store: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a rollout function"):
        train(POLICY, _config(rollout=RolloutConfig(every=2)), demo_store, tmp_path)


def test_vitac_train_rolls_out_in_the_simulator_and_links_the_best(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's rollout runs real episodes of the dataset's task on the deployed weights."""
    out = tmp_path / "run"
    argv = ["train", "--dataset", str(demo_store), "--out", str(out), "--no-progress"]
    argv += ["--set=train.steps=4", "--set=train.batch_size=8", "--set=train.threads=1"]
    argv += ["--set=train.rollout.every=2", "--set=train.rollout.episodes=2"]
    argv += ["--set=train.val_ratio=0.25", "--set=task.params.image_size=32"]
    argv += ["--set=task.params.tactile_size=16"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    rolled = [r for r in records if r["success"] is not None]
    assert [r["step"] for r in rolled] == [2, 4]
    assert all(r["success"] in (0.0, 0.5, 1.0) for r in rolled)
    best = (out / "checkpoints/best").readlink().name
    assert best in ("step_0000002", "step_0000004") and f"best by rollouts: {best}" in printed
