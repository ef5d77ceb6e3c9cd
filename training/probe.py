"""Information probe: which observation carries the information behind an expert's decisions?

An expert that makes discrete corrections exposes `decision()`: the correction it decided at
its last `act()` (a vector, e.g. the xy goal change in the TCP frame), or None. The probe runs
the task's expert for N seeded episodes and keeps two samples per episode, each labelled with
the episode's k-th decision (`decision`, default 1: the first):

- `at_contact`: the observation the expert acted on when it made that decision;
- `before_contact`: the observation at the first step of the descent that led there: walking
  back from the decision step, the last step before it at which the measured TCP height
  (`proprio.ee_pose` z) was not more than `DESCENT_TOL_M` below the previous step's, i.e. the
  last local maximum of the TCP height (the episode's first step if the TCP descended all the
  way from there). For `TactileInsertionExpert` this is the step after its approach ends,
  hovering over the estimate with the pin tips 3 mm above the rim.

Episodes without a k-th decision (or whose decision comes at their first step) are counted
and skipped. A later decision (k > 1) asks what a policy seeing a few frames can know of a
search that is already under way: the expert may also use what it felt at earlier presses.
For each input group (`GROUPS`) a ridge regression predicts the decision from the observation
(`probe_ridge`: standardised features, strength by inner CV, 5-fold CV split by episode), and
`score` reports R^2, cosine and quadrant accuracy on held-out episodes. The
`CHANGES` inputs are a group's change between the two frames (at minus before contact), what
a reader of a sensor compares; they are scored at contact. The `SINCE_FIRST` inputs are a
group less the episode's first frame (on the arm tasks, after the grasp: what a policy with
`base_frame_keys` reads the pads against), in both phases.

Same capacity per input: images are area-resized to a grid chosen so that each image group
has about `FEATURE_BUDGET` features (RGB in [0, 1]); proprio is what it is (16 numbers on the
arm tasks). Numpy only (no torch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from sim import make_env
from sim.experts import expert_for
from training.probe_ridge import Scores, cross_validated_predictions, score
from training.progress import Progress

F64 = NDArray[np.float64]
Obs = Mapping[str, NDArray[Any]]

PHASES = ("before_contact", "at_contact")
GROUPS: dict[str, tuple[str, ...]] = {
    "tactile": ("tactile.left", "tactile.right"),
    "wrist": ("rgb.wrist",),
    "scene": ("rgb.scene",),
    "cameras": ("rgb.wrist", "rgb.scene"),
    "proprio": ("proprio.*",),
    # what a policy without cameras sees: both pads, the arm and the vision system's estimate
    "tactile_pose": ("tactile.left", "tactile.right", "proprio.*", "task.*"),
}
# Inputs made of two frames: a group's change from the before-contact to the at-contact frame
# (what a reader of the sensor compares), scored at contact only.
CHANGES: dict[str, str] = {"tactile_change": "tactile", "cameras_change": "cameras"}
# Inputs read against the episode's first frame: a group's features less that frame's.
SINCE_FIRST: dict[str, str] = {"tactile_since_first": "tactile"}
FEATURE_BUDGET = 768  # features per image group (about; the grid is rounded)
DESCENT_TOL_M = 1e-5  # a step lower than the previous by more than this is descending
HEIGHT_KEY = "proprio.ee_pose"  # (x, y, z, rot6d): the TCP height is element 2


# (observation, the episode's first observation) -> a feature vector (an extra input)
Extractor = Callable[[Obs, Obs], NDArray[Any]]


class ProbeError(ValueError):
    """The probe cannot run as asked (no expert, no decisions, too few episodes)."""


@runtime_checkable
class DecidingExpert(Protocol):
    """An expert whose discrete corrections the probe can read."""

    def reset(self, seed: int | None = None) -> None: ...

    def act(self, obs: Obs | None = None) -> NDArray[np.float32]: ...

    def decision(self) -> NDArray[np.float64] | None: ...


def check_task(task: str, variant: str | None = None) -> None:
    """ProbeError unless `task` has a scripted expert (or `variant`) that exposes `decision()`."""
    try:
        expert_cls, _ = expert_for(task, variant)
    except ValueError as err:
        raise ProbeError(str(err)) from None
    if not callable(getattr(expert_cls, "decision", None)):
        name = getattr(expert_cls, "__name__", str(expert_cls))
        raise ProbeError(
            f"the expert of {task!r} ({name}) has no decision(): it does not say which "
            "corrections it makes, so there is nothing to probe"
        )


# ---------------------------------------------------------------------------- features
def area_weights(n_in: int, n_out: int) -> F64:
    """(n_out, n_in) matrix averaging the input cells each output cell covers (area resize)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    cells = np.arange(n_in)[None, :]
    overlap = np.minimum(edges[1:, None], cells + 1) - np.maximum(edges[:-1, None], cells)
    overlap = np.clip(overlap, 0.0, None)
    weights: F64 = overlap / overlap.sum(axis=1, keepdims=True)
    return weights


def area_resize(image: NDArray[Any], height: int, width: int) -> F64:
    """`image` (H, W[, C]) resized by area averaging to (height, width, C); uint8 -> [0, 1]."""
    img = image.astype(np.float64)
    if image.dtype == np.uint8:
        img /= 255.0
    if img.ndim == 2:
        img = img[:, :, None]
    rows, cols = area_weights(img.shape[0], height), area_weights(img.shape[1], width)
    out: F64 = np.einsum("ai,ijc,bj->abc", rows, img, cols)
    return out


def grid_for(shape: tuple[int, ...], pixels: int) -> tuple[int, int]:
    """A (height, width) grid of about `pixels` cells with the aspect ratio of `shape`."""
    h_in, w_in = shape[0], shape[1]
    height = max(1, min(h_in, round(float(np.sqrt(pixels * h_in / w_in)))))
    width = max(1, min(w_in, round(pixels / height)))
    return height, width


def group_keys(group: str, keys: Sequence[str]) -> list[str]:
    """The observation keys of `group` (patterns ending in `*` match by prefix), sorted."""
    out: list[str] = []
    for pattern in GROUPS[group]:
        if pattern.endswith("*"):
            out += sorted(k for k in keys if k.startswith(pattern[:-1]))
        elif pattern in keys:
            out.append(pattern)
        else:
            raise ProbeError(f"input {group!r} needs observation {pattern!r}; got {sorted(keys)}")
    if not out:
        raise ProbeError(f"input {group!r}: no observation matches {GROUPS[group]}")
    return out


def group_features(obs: Obs, group: str, budget: int = FEATURE_BUDGET) -> F64:
    """One flat feature vector of `group`: images area-resized to share `budget`, other keys raw.

    Each image of the group gets `budget / (channels x images)` pixels of its own aspect ratio.
    """
    keys = group_keys(group, list(obs))
    images = [k for k in keys if obs[k].dtype == np.uint8 and obs[k].ndim in (2, 3)]
    parts: list[F64] = []
    for key in keys:
        value = obs[key]
        if key in images:
            channels = value.shape[2] if value.ndim == 3 else 1
            grid = grid_for(value.shape, budget // (channels * len(images)))
            parts.append(area_resize(value, *grid).ravel())
        else:
            parts.append(np.asarray(value, dtype=np.float64).ravel())
    return np.concatenate(parts)


def feature_layout(obs: Obs, group: str, budget: int = FEATURE_BUDGET) -> str:
    """What `group_features` makes of each key, e.g. 'rgb.wrist 84x84x3 -> 16x16x3 (768)'."""
    keys = group_keys(group, list(obs))
    images = [k for k in keys if obs[k].dtype == np.uint8 and obs[k].ndim in (2, 3)]
    parts = []
    for key in keys:
        shape = obs[key].shape
        if key in images:
            channels = shape[2] if len(shape) == 3 else 1
            h, w = grid_for(shape, budget // (channels * len(images)))
            parts.append(f"{key} {'x'.join(map(str, shape))} -> {h}x{w}x{channels}")
        else:
            parts.append(f"{key} ({int(np.prod(shape))})")
    return ", ".join(parts)


# ---------------------------------------------------------------------------- collection
@dataclass(frozen=True)
class ProbeData:
    """Features of the kept samples, their targets and episodes, and what was skipped."""

    features: dict[str, dict[str, F64]]  # phase -> group -> (n, d)
    targets: F64  # (n, d_y): each episode's k-th decision (the same for both phases)
    episodes: NDArray[np.int64]  # (n,): the episode's seed
    attempted: int
    skipped: int  # episodes without a decision before their last step
    layouts: dict[str, str]  # group -> feature layout
    changes: dict[str, str] = field(default_factory=lambda: dict(CHANGES))  # name -> group


def collect_probe_data(
    task: str,
    episodes: int,
    seed: int = 0,
    groups: Sequence[str] = tuple(GROUPS),
    progress: bool = True,
    variant: str | None = None,
    extra: Mapping[str, Extractor] | None = None,
    decision: int = 1,
    params: Mapping[str, Any] | BaseModel | None = None,
) -> ProbeData:
    """Run the task's expert (or `variant`) for seeds `seed`..`seed + episodes - 1`; the
    target is each episode's `decision`-th decision (1: the first).

    `extra`: more inputs, each a function of the observation and the episode's first one
    (e.g. a tactile encoder's features, read against the first frame if it takes
    differences); each is also scored as its change between the two frames
    (`<name>_change`). `params`: the task's settings (default: its defaults)."""
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(GROUPS))
    if clash:
        raise ProbeError(f"extra inputs {clash} have the names of built-in ones; rename them")
    check_task(task, variant)
    factory, kwargs = expert_for(task, variant)  # known to exist now
    env = make_env(task, params)
    try:
        expert = factory(env, **kwargs)
        if not isinstance(expert, DecidingExpert):
            raise ProbeError(f"the expert of {task!r} has no decision()")
        since = {n: g for n, g in SINCE_FIRST.items() if g in groups}
        names = [*groups, *since, *extra]
        rows: dict[str, dict[str, list[F64]]] = {p: {g: [] for g in names} for p in PHASES}
        targets: list[F64] = []
        kept: list[int] = []
        layouts: dict[str, str] = {}
        shown = Progress("probe", episodes, "ep", bar=progress)
        for i in range(episodes):
            found = _kth_decision(env, expert, seed + i, decision)
            shown.update(1, kept=len(kept) + (found is not None))
            if found is None:
                continue
            first, before, at, target = found
            for phase, obs in zip(PHASES, (before, at), strict=True):
                for g in groups:
                    rows[phase][g].append(group_features(obs, g))
                for name, g in since.items():
                    rows[phase][name].append(group_features(obs, g) - group_features(first, g))
                for name, extract in extra.items():
                    features = extract(obs, first)
                    rows[phase][name].append(np.asarray(features, dtype=np.float64).ravel())
            layouts = layouts or {g: feature_layout(at, g) for g in groups} | {
                name: f"{feature_layout(at, g)}, less the first frame" for name, g in since.items()
            } | {
                name: f"{getattr(extract, 'layout', name)} ({rows['at_contact'][name][0].size})"
                for name, extract in extra.items()
            }
            targets.append(np.asarray(target, dtype=np.float64))
            kept.append(seed + i)
        shown.close()
    finally:
        env.close()
    if not kept:
        raise ProbeError(f"no decision in {episodes} episode(s) of {task!r}")
    return ProbeData(
        {p: {g: np.stack(rows[p][g]) for g in names} for p in PHASES},
        np.stack(targets),
        np.array(kept, dtype=np.int64),
        episodes,
        episodes - len(kept),
        layouts,
        dict(CHANGES) | {f"{name}_change": name for name in extra},
    )


def _kth_decision(
    env: Any, expert: DecidingExpert, seed: int, k: int
) -> tuple[Obs, Obs, Obs, F64] | None:
    """(first obs, before-contact obs, at-contact obs, decision) of one episode's `k`-th
    decision, or None without one."""
    if k < 1:
        raise ProbeError(f"decisions count from 1, got {k}")
    made = 0
    obs, _ = env.reset(seed=seed)
    first = {key: np.array(v, copy=True) for key, v in obs.items()}
    expert.reset(seed)
    start: Obs | None = None  # the last step before now at which the TCP was not descending
    previous_z: float | None = None
    done = False
    while not done:
        if HEIGHT_KEY not in obs:
            raise ProbeError(f"the probe needs {HEIGHT_KEY!r} (the TCP height) in the observation")
        z = float(obs[HEIGHT_KEY][2])
        action = expert.act(obs)
        decision = expert.decision()
        made += decision is not None
        if decision is not None and made == k:
            return None if start is None else (first, start, obs, decision)
        if previous_z is None or previous_z <= z + DESCENT_TOL_M:
            start = {k: np.array(v, copy=True) for k, v in obs.items()}
        previous_z = z
        obs, _, terminated, truncated, _ = env.step(action)
        done = bool(terminated or truncated)
    return None


# ---------------------------------------------------------------------------- fit and score
@dataclass(frozen=True)
class ProbeResult:
    input: str
    phase: str
    scores: Scores

    def to_json(self) -> dict[str, Any]:
        s = self.scores
        return {
            "input": self.input,
            "phase": self.phase,
            "r2": s.r2,
            "cosine": s.cosine,
            "quadrant_acc": s.quadrant_acc,
            "n": s.n,
        }


def fit_and_score(data: ProbeData, folds: int = 5) -> list[ProbeResult]:
    """Cross-validated ridge from each group's features to the decision, per phase."""
    if len(np.unique(data.episodes)) < 3:
        raise ProbeError(
            f"only {len(data.episodes)} of {data.attempted} episode(s) had a decision; the "
            "probe needs at least 3: run more episodes"
        )
    results = []
    for group in next(iter(data.features.values())):
        for phase in PHASES:
            x = data.features[phase][group]
            cv = cross_validated_predictions(x, data.targets, data.episodes, folds, folds)
            results.append(ProbeResult(group, phase, score(data.targets, cv.predictions)))
    for name, group in data.changes.items():
        if group in data.features["at_contact"]:
            x = data.features["at_contact"][group] - data.features["before_contact"][group]
            cv = cross_validated_predictions(x, data.targets, data.episodes, folds, folds)
            results.append(ProbeResult(name, "at_contact", score(data.targets, cv.predictions)))
    return results


def format_table(results: Sequence[ProbeResult]) -> str:
    """The results as a fixed-width text table."""
    lines = [f"{'input':<22} {'phase':<15} {'R^2':>7} {'cosine':>7} {'quadrant':>8} {'n':>5}"]
    for r in results:
        s = r.scores
        lines.append(
            f"{r.input:<22} {r.phase:<15} {s.r2:>7.3f} {s.cosine:>7.3f} "
            f"{s.quadrant_acc:>8.1%} {s.n:>5d}"
        )
    return "\n".join(lines)
