"""Action error on recorded data: how far a checkpoint's commanded positions land from the
demonstrator's, in millimetres.

Closed-loop success hides why a policy fails. This replays the policy on a store's own windows
(those it trained on, or others) and measures the distance between the TCP positions it
commands and those the demonstrator commanded, over the executed part of each chunk (its
`n_action_steps` actions from the current frame on), beside the same distance for commanding
the position the current frame measured (standing still) and for repeating the
demonstrator's previous command (its last action, which the policy does not observe). A
policy whose error is larger than standing still's cannot put a part within a clearance
smaller than that error, whatever its inputs carry; where repeating the last command is far
closer than standing still, the demonstrator moves relative to a command the policy cannot
see.

Windows: a seeded sample of all of them, and the decision frames: where the recorded action
lifts the TCP (z up by more than `LIFT_M`), i.e. where the touch expert decided to correct
(on other tasks, where any demonstrator lifts); all of them, then each episode's first apart
from its later ones (where the expert's belief holds earlier presses, which a policy seeing
a few frames does not). Actions' first three numbers are the TCP
position in metres (the arm tasks' absolute-pose actions), as is `POSITION_KEY`'s.

The move columns compare displacements instead of positions: where the executed chunk's last
action lies from its first, the policy's against the demonstrator's, beside making no move.
A demonstrator recorded with DART noise labels the position it meant, while the observed
command carries that step's noise; the positions then differ by the noise (unobservable, so
no policy can do better), and the move is what remains to learn: at a decision, the correction.
Where the recorded move is a search step (at least `MOVE_MIN_M`), its size ratio (the policy's
move length over the recorded one) and the cosine between the two say whether a policy that
misses the correction steps too short (a regression averaging corrections of several
directions shrinks them), too long, or the wrong way. The gain is the factor that would
bring the policy's moves closest to the recorded ones in least squares (1 for a policy
that predicts the mean of what follows what it sees; 2 where its moves are half as long as
that); the first-step shares say how much of each move its first executed step makes (the
touch expert makes a correction in one step: 1), so a policy that spreads the step over its
chunk, unsure at which frame it comes, shows a share near 1 / (n_action_steps - 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from policies.base import ACTION_KEY, PolicyConfig, PolicyIO
from sensing.store import WindowSampler
from training.dataset import base_frames

POSITION_KEY = "proprio.ee_pose"  # (x, y, z, rot6d): the TCP position the frame measured
LIFT_M = 0.0003  # a recorded action this much above the previous one lifts the TCP
MOVE_MIN_M = 0.0002  # an xy move above this is a search step (DART noise is 0.3 mm labels)
F64 = NDArray[np.float64]


class ChunkPolicy(Protocol):
    config: PolicyConfig
    io: PolicyIO

    def predict_action_chunk(
        self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor: ...


@dataclass(frozen=True)
class ErrorRow:
    """Median (and 90th percentile) xy distance in mm over `n` windows."""

    windows: str  # "all (sampled)", "decisions", "first decisions" or "later decisions"
    n: int
    policy_first_mm: float  # the chunk's first executed action
    policy_first_p90_mm: float
    policy_chunk_mm: float  # every executed action of the chunk
    hold_first_mm: float  # commanding the measured position instead
    hold_chunk_mm: float
    last_first_mm: float  # repeating the demonstrator's previous command instead
    last_chunk_mm: float
    policy_move_mm: float  # (last - first executed action): the policy's against the recorded
    still_move_mm: float  # making no move instead
    moved: int  # windows whose recorded move is a search step (>= MOVE_MIN_M); of those:
    move_ratio: float  # the policy's move length / the recorded one (1: the same size)
    move_cosine: float  # the cosine between the two moves (1: the same direction)
    move_gain: float  # g minimising sum |recorded - g policy|^2 (1: no scaling would help)
    policy_first_share: float  # the first executed step's part of the policy's move
    recorded_first_share: float  # ... of the recorded move (1: all of it in one step)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def decision_frames(action: F64, episode_ends: NDArray[np.int64]) -> NDArray[np.bool_]:
    """(N,) True where the frame's recorded action lifts the TCP above the previous action."""
    lifts = np.zeros(len(action), dtype=bool)
    starts = np.concatenate([[0], episode_ends[:-1]])
    for s, e in zip(starts, episode_ends, strict=True):
        lifts[s + 1 : e] = np.diff(action[s:e, 2]) > LIFT_M
    return lifts


def decision_numbers(
    lifts: NDArray[np.bool_], episode_ends: NDArray[np.int64]
) -> NDArray[np.int64]:
    """(N,) k at the k-th decision frame of its episode (1, 2, ...), 0 at other frames."""
    number = np.zeros(len(lifts), dtype=np.int64)
    starts = np.concatenate([[0], episode_ends[:-1]])
    for s, e in zip(starts, episode_ends, strict=True):
        number[s:e] = np.cumsum(lifts[s:e]) * lifts[s:e]
    return number


def action_error(
    policy: ChunkPolicy,
    data: Mapping[str, NDArray[Any]],
    episode_ends: NDArray[np.int64],
    samples: int = 512,
    seed: int = 0,
    batch: int = 64,
) -> list[ErrorRow]:
    """Rows for a seeded sample of `samples` windows and for every decision window (a
    sampling policy's noise drawn from a generator seeded with `seed`; the policy runs once
    on the sample and once on the decisions, which the first / later rows split).

    `data`: key -> (N, ...) frames of the concatenated episodes, with the policy's inputs,
    `POSITION_KEY` and the action."""
    cfg = policy.config
    keys = list(policy.io.obs_shapes)
    t_o, n_act = cfg.n_obs_steps, cfg.n_action_steps
    sampler = WindowSampler(episode_ends, cfg.horizon, t_o - 1, n_act - 1)
    table = sampler.indices  # (W, 4): episode, start, first, last frame
    current = table[:, 1] + t_o - 1  # the frame the policy acts on
    # no padding used, and a previous command exists
    whole = (current > table[:, 2]) & (current + n_act - 1 <= table[:, 3])
    chosen = np.zeros(len(table), dtype=bool)
    candidates = np.flatnonzero(whole)
    rng = np.random.default_rng(seed)
    chosen[rng.choice(candidates, min(samples, len(candidates)), replace=False)] = True
    lifts = decision_frames(np.asarray(data[ACTION_KEY], np.float64), episode_ends)
    at = decision_numbers(lifts, episode_ends)[current]  # (W,) the window's decision, or 0
    decisions = np.flatnonzero(whole & (at > 0))
    sampled_errors = _errors(policy, data, sampler, np.flatnonzero(chosen), keys, batch, seed)
    decision_errors = _errors(policy, data, sampler, decisions, keys, batch, seed)
    first = at[decisions] == 1  # the policy ran once per window; the splits select from it
    return [
        _row("all (sampled)", *sampled_errors),
        _row("decisions", *decision_errors),
        _row("first decisions", *(e[first] for e in decision_errors)),
        _row("later decisions", *(e[~first] for e in decision_errors)),
    ]


def _row(
    name: str, policy_mm: F64, hold_mm: F64, last_mm: F64, mine_xy: F64, true_xy: F64
) -> ErrorRow:
    """One row from `_errors`' arrays over its windows."""
    mine, true = mine_xy[:, -1] - mine_xy[:, 0], true_xy[:, -1] - true_xy[:, 0]  # (n, 2) moves
    size = np.linalg.norm(true, axis=-1)  # (n,) the recorded moves' lengths, m
    step = size >= MOVE_MIN_M
    own = np.linalg.norm(mine[step], axis=-1)  # (m,) the policy's, at those windows
    cosine = np.einsum("nd,nd->n", mine[step], true[step]) / np.maximum(own, 1e-12) / size[step]
    power = float(np.sum(mine[step] ** 2))
    gain = float(np.sum(mine[step] * true[step])) / power if power > 0 else float("nan")
    return ErrorRow(
        name,
        len(policy_mm),
        _median(policy_mm[:, 0]),
        float(np.percentile(policy_mm[:, 0], 90)) if len(policy_mm) else float("nan"),
        _median(policy_mm),
        _median(hold_mm[:, 0]),
        _median(hold_mm),
        _median(last_mm[:, 0]),
        _median(last_mm),
        _median(1000 * np.linalg.norm(mine - true, axis=-1)),
        _median(1000 * size),
        int(step.sum()),
        _median(own / size[step]),
        _median(cosine),
        gain,
        _median(_first_share(mine_xy[step])),
        _median(_first_share(true_xy[step])),
    )


def _first_share(xy: F64) -> F64:
    """(n, n_act, 2) executed positions -> (m,) the first step's projection on the whole
    move, over its length squared, for the m trajectories that move at all (with more than
    one executed action)."""
    if xy.shape[1] < 2:
        return np.zeros(0)
    move, first = xy[:, -1] - xy[:, 0], xy[:, 1] - xy[:, 0]  # (n, 2)
    power = np.sum(move**2, axis=-1)
    some = power > 1e-12  # moves of more than a micrometre
    return np.asarray(np.sum(first[some] * move[some], axis=-1) / power[some])


def _errors(
    policy: ChunkPolicy,
    data: Mapping[str, NDArray[Any]],
    sampler: WindowSampler,
    windows: NDArray[np.intp],
    keys: Sequence[str],
    batch: int,
    seed: int,
) -> tuple[F64, F64, F64, F64, F64]:
    """(n, n_action_steps) xy distances in mm: the policy's, standing still's and repeating
    the previous command's; (n, n_action_steps, 2) executed xy positions in m: the policy's
    and the recorded ones. A sampling policy's noise comes from a generator seeded
    with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    t_o, n_act = policy.config.n_obs_steps, policy.config.n_action_steps
    executed = slice(t_o - 1, t_o - 1 + n_act)
    first = {k: t_o for k in keys}
    policy_mm, hold_mm, last_mm = ([np.zeros((0, n_act))] for _ in range(3))
    mine_xy: list[F64] = [np.zeros((0, n_act, 2))]
    true_xy: list[F64] = [np.zeros((0, n_act, 2))]
    for i in range(0, len(windows), batch):
        arrays = sampler.sample_batch(data, windows[i : i + batch], [*keys, ACTION_KEY], first)
        obs = {k: torch.from_numpy(np.ascontiguousarray(arrays[k])) for k in keys}
        bases = base_frames(data, sampler, windows[i : i + batch], policy.config.base_frame_keys)
        obs |= {k: torch.from_numpy(v) for k, v in bases.items()}
        with torch.no_grad():
            chunk = policy.predict_action_chunk(obs, generator).double().numpy()  # (B, T_p, D_a)
        true = arrays[ACTION_KEY][:, executed, :2].astype(np.float64)  # (B, n_act, 2)
        now = sampler.frame_indices(windows[i : i + batch])[:, t_o - 1]  # (B,) current frames
        here = np.asarray(data[POSITION_KEY][now], np.float64)[:, None, :2]  # (B, 1, 2)
        last = np.asarray(data[ACTION_KEY][now - 1], np.float64)[:, None, :2]  # (B, 1, 2)
        mine = chunk[:, executed, :2]  # (B, n_act, 2)
        policy_mm.append(1000 * np.linalg.norm(mine - true, axis=-1))
        hold_mm.append(1000 * np.linalg.norm(here - true, axis=-1))
        last_mm.append(1000 * np.linalg.norm(last - true, axis=-1))
        mine_xy.append(mine)
        true_xy.append(true)
    return (
        np.concatenate(policy_mm),
        np.concatenate(hold_mm),
        np.concatenate(last_mm),
        np.concatenate(mine_xy),
        np.concatenate(true_xy),
    )


def _median(values: F64) -> float:
    return float(np.median(values)) if values.size else float("nan")


def format_table(rows: Sequence[ErrorRow]) -> str:
    lines = [
        "xy error, mm (median)    policy: first action (p90)  chunk | standing still: first  "
        "chunk | last command: first  chunk | move: policy  none | steps  size  cosine  gain"
        " | 1st step share: policy  recorded"
    ]
    for r in rows:
        lines.append(
            f"{r.windows:<15} {r.n:>5}   {r.policy_first_mm:>12.2f} ({r.policy_first_p90_mm:5.2f})"
            f"  {r.policy_chunk_mm:>5.2f} | {r.hold_first_mm:>21.2f}  {r.hold_chunk_mm:>5.2f} |"
            f" {r.last_first_mm:>19.2f}  {r.last_chunk_mm:>5.2f} |"
            f" {r.policy_move_mm:>12.2f}  {r.still_move_mm:>4.2f} |"
            f" {r.moved:>5}  {r.move_ratio:>4.2f}  {r.move_cosine:>6.2f}  {r.move_gain:>4.2f} |"
            f" {r.policy_first_share:>22.2f}  {r.recorded_first_share:>8.2f}"
        )
    return "\n".join(lines)
