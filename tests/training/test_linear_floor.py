"""The linear floor: a ridge reader of the images scores what the images show, and nothing
of what they do not; the trunk's scores come from the run the settings describe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from policies.encoders.encoder_checkpoint import FORMAT
from policies.errors import CheckpointError
from training.fota import FotaWriter
from training.linear_floor import add_trunk, floor_table, linear_floor, trunk_scores
from training.pretrain_plan import PretrainConfig

MODEL = dict(width=16, heads=2, tokenizer_depth=1, trunk_depth=1, image_size=16, patch_size=8)
CONFIG = PretrainConfig(
    model=MODEL,
    datasets=["sim_mini"],
    tasks=["shape", "location", "force"],
    exclude=["sim_mini/force"],
    mae_steps=0,
    supervised_steps=4,
)


def _data(root: Path, n_train: int = 240, n_val: int = 60) -> Path:
    """Images whose brightest quadrant is the class, whose left-right difference in red is
    x_mm; y_mm and the force are noise the images do not show."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("val", n_val)):
        with FotaWriter(root / "sim_mini" / split, shard_size=100) as writer:
            for i in range(n):
                image = rng.integers(40, 60, (32, 32, 3)).astype(np.float64)
                quadrant, x_mm = int(rng.integers(4)), float(rng.uniform(-2, 2))
                r, c = divmod(quadrant, 2)
                image[r * 16 : r * 16 + 16, c * 16 : c * 16 + 16] += 80
                image[:, :16, 0] += 20 * x_mm  # red only: apart from the quadrant's
                image[:, 16:, 0] -= 20 * x_mm
                labels = {
                    "contact_class": quadrant,
                    "x_mm": x_mm,
                    "y_mm": float(rng.normal()),
                    "normal_force_n": float(rng.uniform(1, 5)),
                }
                writer.add(f"{split}{i}", image.clip(0, 255).astype(np.uint8), labels)
    return root


def test_the_reader_scores_what_the_images_show_and_nothing_else(tmp_path: Path) -> None:
    rows = linear_floor(CONFIG, _data(tmp_path), grid=4, train_samples=240)
    assert set(rows) == {"sim_mini/shape", "sim_mini/location", "sim_mini/force"}
    shape, location, force = (rows[f"sim_mini/{t}"] for t in ("shape", "location", "force"))
    assert shape["metric"] == "accuracy" and shape["features"] == 3 * 4 * 4
    assert shape["mean"] < 0.4 and shape["linear"] > 0.95  # majority class vs the quadrant
    assert (shape["train"], shape["val"]) == (240, 60)
    # location: x is shown (its RMSE falls to about 0), y is not: the pair's RMSE over both
    # falls to about y's spread over sqrt(2)
    y_only = np.sqrt((location["mean"] ** 2 * 2 - 4 / 3) / 2)  # uniform(-2, 2): var 4/3
    assert location["linear"] == pytest.approx(y_only, rel=0.2)
    assert location["linear"] < 0.85 * location["mean"]
    assert force["linear"] > 0.95 * force["mean"]  # noise: nothing to read, nothing fitted
    assert force["unit"] == "N" and not force["trained"] and location["trained"]


def test_too_few_samples_is_refused_naming_the_split(tmp_path: Path) -> None:
    from training.fota import FotaError

    with pytest.raises(FotaError, match=r"sim_mini/val: 5 samples"):
        linear_floor(CONFIG, _data(tmp_path, n_val=5), grid=2, train_samples=240)


def _run(run: Path, config: PretrainConfig) -> None:
    """A pretraining run as trunk_scores reads it: its latest checkpoint's config and metrics."""
    checkpoint = run / "checkpoints" / "step_0000004"
    checkpoint.mkdir(parents=True)
    metadata = {"step": 4, "pretrain": config.model_dump(mode="json")}
    (checkpoint / "config.json").write_text(json.dumps({"format": FORMAT, "metadata": metadata}))
    scores = [{"sim_mini/location": {"rmse": 2.0 - step / 4}} for step in range(6)]
    lines = [{"step": step, "val": val} for step, val in zip([0, 2, 4, 6], scores, strict=False)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_the_trunk_columns_are_the_runs_first_and_latest_validation(tmp_path: Path) -> None:
    config = CONFIG.model_copy(update={"tasks": ["location"], "exclude": []})
    rows = {"sim_mini/location": {"metric": "rmse", "unit": "mm", "mean": 1.2, "linear": 0.9,
                                  "trained": True}}  # fmt: skip
    _run(tmp_path / "run", config)
    add_trunk(rows, trunk_scores(config, tmp_path / "run"))
    # step 6 was logged after the latest checkpoint (an interrupted run): not its score
    assert (rows["sim_mini/location"]["trunk_before"], rows["sim_mini/location"]["trunk"]) == (
        2.0,
        1.5,
    )
    assert (
        floor_table(rows).splitlines()[-1]
        == "| sim_mini/location | rmse (mm) | 1.2 | 0.9 | 2 | 1.5 |"
    )
    other = config.model_copy(update={"lr": 0.01})
    with pytest.raises(CheckpointError, match=r"other settings: pretrain.lr"):
        trunk_scores(other, tmp_path / "run")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        trunk_scores(config, tmp_path)
    with pytest.raises(CheckpointError, match="its validation has no sim_mini/shape"):
        add_trunk(
            {"sim_mini/shape": {"metric": "accuracy"}}, trunk_scores(config, tmp_path / "run")
        )
    with (tmp_path / "run" / "metrics.jsonl").open("a") as metrics:
        metrics.write('{"step": 8, "va')  # cut short by a crash
    with pytest.raises(CheckpointError, match=r"metrics.jsonl:5: not JSON"):
        trunk_scores(config, tmp_path / "run")


def test_the_command_writes_its_record_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from launch.cli import main

    data = _data(tmp_path / "data", n_train=60, n_val=20)
    sets = [f"--set=pretrain.model.{k}={v}" for k, v in MODEL.items()]
    sets += ["--set=pretrain.datasets=['sim_mini']", "--set=pretrain.tasks=['shape']"]
    out = tmp_path / "floor.json"
    argv = ["encoders", "floor", "--data", str(data), "--out", str(out), "--grid", "2", *sets]
    assert main(argv) == 0
    assert "| sim_mini/shape | accuracy |" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["command"].startswith("vitac encoders floor --set pretrain.model.width=16")
    assert record["command"].endswith("--grid 2 --train-samples 3000")
    assert record["pairs"]["sim_mini/shape"]["train"] == 60
    assert main(argv) == 2
    assert "exists; choose a new file" in capsys.readouterr().err
    assert main([*argv[:5], str(tmp_path / "new.json"), "--run", str(out)]) == 2
    assert "is not a directory" in capsys.readouterr().err
    _run(tmp_path / "run", CONFIG)  # three tasks; these settings have one
    assert main([*argv[:5], str(tmp_path / "new.json"), "--run", str(tmp_path / "run")]) == 2
    assert "pretrained with other settings: pretrain.datasets" in capsys.readouterr().err
    assert not (tmp_path / "new.json").exists()
