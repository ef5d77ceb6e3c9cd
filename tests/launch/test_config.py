from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from launch.config import DEFAULT_LAUNCH_FILE, ConfigError, apply_overrides, load


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int = Field(10, ge=1)
    mode: str = "a"


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"
    train: Inner = Inner()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(text)
    return path


def test_valid_file_and_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "demo"\n[train]\nsteps = 5\n')
    cfg = load(Outer, path, ["train.steps=7", "train.mode=b c"])
    assert cfg.name == "demo" and cfg.train.steps == 7 and cfg.train.mode == "b c"


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "[train]\nstep = 5\n")
    with pytest.raises(ConfigError) as err:
        load(Outer, path)
    # one problem: one line, the file then the key path
    assert str(err.value) == f"{path}: train.step: unknown key; allowed keys here: mode, steps"


def test_out_of_range_names_key_path_and_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, "[train]\nsteps = 0\n")
    with pytest.raises(ConfigError, match=r"train\.steps: .*greater than or equal to 1 \(got 0\)"):
        load(Outer, path)


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, 'color = 1\n[train]\nsteps = "many"\n')
    with pytest.raises(ConfigError) as err:
        load(Outer, path)
    message = str(err.value)
    assert message.startswith(f"{path}: 2 problems:\n  ") and "\n  color: unknown key" in message
    assert "train.steps" in message


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(Outer, _write(tmp_path, "[train\n"))
    with pytest.raises(ConfigError, match="no such launch file"):
        load(Outer, tmp_path / "missing.toml")


def test_malformed_overrides() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["train.steps"])
    with pytest.raises(ConfigError, match="'name' is a value, not a table"):
        apply_overrides({"name": "x"}, ["name.first=1"])


def test_the_readme_shows_the_default_launch_file() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Launch files", 1)[1]
    shown = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert tomllib.loads(shown) == tomllib.loads(DEFAULT_LAUNCH_FILE.read_text())


def test_the_policy_section_takes_every_registered_kind_by_name(tmp_path: Path) -> None:
    from launch.launch_file import LaunchConfig
    from policies import POLICIES

    for name, kind in POLICIES.items():
        config = load(LaunchConfig, _write(tmp_path, f'[policy]\nname = "{name}"\n'))
        assert type(config.policy) is kind.config_cls
    unnamed = load(LaunchConfig, _write(tmp_path, "[policy]\nhorizon = 6\nn_action_steps = 3\n"))
    assert config.policy.name != "bc" and unnamed.policy.name == "bc"


def test_errors_in_a_policy_section_name_launch_file_keys(tmp_path: Path) -> None:
    """pydantic locates them under the union's tag (policy.diffusion.horizon); the operator
    wrote policy.horizon, and the allowed keys are the chosen policy's."""
    from launch.launch_file import LaunchConfig

    path = _write(tmp_path, '[policy]\nname = "diffusion"\nhorizon = 0\ncolour = 1\n')
    with pytest.raises(ConfigError) as err:
        load(LaunchConfig, path)
    message = str(err.value)
    assert "\n  policy.horizon: Input should be greater than or equal to 1 (got 0)" in message
    assert "\n  policy.colour: unknown key; allowed keys here: action_norm, backbone, " in message
    assert "down_widths" in message and "hidden_dim" not in message


@pytest.mark.parametrize("path", sorted(DEFAULT_LAUNCH_FILE.parent.glob("*.toml")), ids=str)
def test_every_shipped_launch_file_is_valid(path: Path) -> None:
    from launch.launch_file import load_launch

    launch = load_launch(path)
    assert launch.config.task.name in path.read_text()


def test_a_demonstrator_variant_must_exist_for_the_task() -> None:
    from launch.launch_file import launch_from_data

    data = {"task": {"name": "tactile_insertion"}, "collect": {"expert": "memoryless"}}
    assert launch_from_data(data, "x.toml").config.collect.expert == "memoryless"
    with pytest.raises(ConfigError) as err:
        launch_from_data(data | {"collect": {"expert": "psychic"}}, "x.toml")
    assert str(err.value).startswith("x.toml: collect.expert: no expert variant 'psychic'")
    assert "memoryless" in str(err.value)  # names what exists
    lift = {"task": {"name": "lift"}, "collect": {"expert": "memoryless"}}
    with pytest.raises(ConfigError, match=r"collect\.expert: no expert variant 'memoryless'"):
        launch_from_data(lift, "x.toml")  # a variant of another task's expert


def test_a_baseline_may_be_a_variant_of_the_tasks_expert() -> None:
    from launch.launch_file import launch_from_data

    data = {"task": {"name": "tactile_insertion"}, "eval": {"baselines": ["expert:memoryless"]}}
    assert launch_from_data(data, "x.toml").config.eval.baselines == ["expert:memoryless"]
    lift = {"task": {"name": "lift"}, "eval": {"baselines": ["hold", "expert:memoryless"]}}
    with pytest.raises(ConfigError) as err:
        launch_from_data(lift, "x.toml")
    assert str(err.value).startswith("x.toml: eval.baselines: no expert variant 'memoryless'")
    with pytest.raises(ConfigError, match="only 'expert' has variants"):
        launch_from_data({"eval": {"baselines": ["hold:memoryless"]}}, "x.toml")


def test_a_launch_file_whose_demonstrator_is_a_variant_can_ask_for_the_default_back() -> None:
    """`collect.expert = "default"` undoes a variant (None cannot be written in TOML)."""
    from launch.launch_file import launch_from_data

    for task in ("tactile_insertion", "lift"):  # with variants and without
        data = {"task": {"name": task}, "collect": {"expert": "default"}}
        assert launch_from_data(data, "x.toml").config.collect.expert is None
    data = {"task": {"name": "tactile_insertion"}, "collect": {"expert": "psychic"}}
    with pytest.raises(ConfigError, match=r"available: \['blind', 'default', 'memoryless'"):
        launch_from_data(data, "x.toml")
