"""The one config loader: TOML launch files -> typed, validated models.

Errors name the file, the key path (`train.batch_size`) and what is allowed; unknown keys
are errors that list the keys that are known. Command-line overrides (`--set a.b=value`)
are applied to the parsed TOML before validation, so they are checked the same way.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

DEFAULT_LAUNCH_FILE = Path(__file__).with_name("demo.toml")  # what --config defaults to


class ConfigError(Exception):
    """A launch file or override is malformed, has unknown keys or out-of-range values."""


def read_toml(path: Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; give a launch file (TOML)")
    if not path.is_file():
        raise ConfigError(f"{path}: no such launch file")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides; the value is parsed as TOML, else taken as a string."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. train.steps=500")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is a value, not a table")
            node = child
        node[parts[-1]] = value
    return data


def validate(model: type[M], data: Mapping[str, Any], source: str, prefix: str = "") -> M:
    """Validate `data` as `model`; ConfigError lists every problem with its key path."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(err, model, source, prefix)) from None


def load(model: type[M], path: Path, overrides: Sequence[str] = ()) -> M:
    return validate(model, apply_overrides(read_toml(path), overrides), str(path))


def format_errors(err: ValidationError, model: type[BaseModel], source: str, prefix: str) -> str:
    """One line for one problem; otherwise a header and one indented line per problem."""
    problems = []
    for e in err.errors():
        loc, at = _key_path(model, [str(p) for p in e["loc"]])
        path = ".".join([prefix, *loc] if prefix else loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            allowed = sorted(at.model_fields) if at is not None else []
            hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
            problems.append(f"{path}: unknown key{hint}")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            problems.append(f"{path}: {e['msg']}{shown}")
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    return "\n".join([f"{source}: {len(problems)} problems:", *(f"  {p}" for p in problems)])


def _key_path(model: type[BaseModel], loc: list[str]) -> tuple[list[str], type[BaseModel] | None]:
    """The launch-file key path of an error location, and the model holding its last key
    (for 'allowed keys' hints). Pydantic puts the chosen member's tag into the location of a
    discriminated union (policy.diffusion.horizon); the tag is not a key, so it is dropped."""
    path: list[str] = []
    current: Any = model
    rest = list(loc)
    while rest:
        part = rest.pop(0)
        path.append(part)
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return path + rest, None
        holder, field = current, current.model_fields.get(part)
        if field is None or not rest:
            return path + rest, holder
        current = field.annotation
        if field.discriminator and rest:
            tag = rest.pop(0)
            members = [m for m in get_args(current) if _tag(m, str(field.discriminator)) == tag]
            current = members[0] if members else None
    return path, None


def _tag(member: Any, discriminator: str) -> Any:
    """The default of a union member's discriminator field (its tag)."""
    if isinstance(member, type) and issubclass(member, BaseModel):
        field = member.model_fields.get(discriminator)
        return field.default if field is not None else None
    return None


def check_output_path(path: Path, flag: str = "--out") -> None:
    """ConfigError when `path` cannot become a directory: it, or a folder above it, is a file.

    Checked before any work starts, so that a mistyped output ends in one line, not in a
    traceback after minutes of collecting or training.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file; give a directory path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{flag} {path}: {parent} is a file, not a directory")
            return


def check_new_path(path: Path, flag: str) -> None:
    """ConfigError unless `path` does not exist yet and can be created (nothing overwritten)."""
    check_output_path(path, flag)
    if path.exists() or path.is_symlink():
        raise ConfigError(f"{flag} {path} exists; choose a new path (nothing is overwritten)")


def check_output_file(path: Path, flag: str) -> None:
    """ConfigError when `path` cannot become a file: it is a directory, or above it is a file."""
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a directory; give a file path")
    check_output_path(path.parent, flag=f"{flag} {path}:")


DEVICES = "auto, cpu, cuda or cuda:N"


def resolve_device(spec: str) -> str:
    """`--device`: auto (CUDA when present, else CPU), cpu, cuda or cuda:N -> a torch device
    name; ConfigError when CUDA is asked for and absent or N is out of range."""
    import torch  # only commands that compute resolve a device

    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if spec == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return "cpu"
    if match is None:
        raise ConfigError(f"--device {spec}: expected {DEVICES}")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"--device {spec}: torch {torch.__version__} sees no CUDA device here; use --device cpu"
        )
    index, count = int(match.group(1) or 0), torch.cuda.device_count()
    if index >= count:
        raise ConfigError(
            f"--device {spec}: this machine has {count} CUDA device(s), 0..{count - 1}"
        )
    return f"cuda:{index}"
