"""Where a chunk's positions are expressed: absolute, or relative to an observed TCP position.

An arm task's action starts with the TCP's target position (metres, world frame). Absolute
targets spread over the whole workspace: on the insertion task the sockets lie anywhere in a
100 mm square, so a policy whose output is good to 1% of that range still misses a 0.4 mm
clearance (`vitac dataset action-error` measures it). With `policy.relative_to = KEY` the
network predicts every position of the chunk minus the position `KEY` held at the chunk's
current frame, the last observed one (UMI's relative trajectories). KEY's first three numbers
are a TCP position: proprio.ee_pose's the measured one, proprio.ee_command's the commanded one,
which the touch expert's moves start from. The absolute targets are restored before the chunk
leaves the policy, so executing it is unchanged and nothing drifts within a chunk.

Relative moves still span scales: an insertion approaches at 10 mm a step and searches in
steps under 1 mm, and a normaliser fitted on both gives the search a few hundredths of the
network's range. With a `scale` s (metres) each relative position p is predicted as
s asinh(p / s): unchanged below s, logarithmic above (the smooth form of DreamerV3's symlog),
so small moves keep their resolution and large ones their sign and rough size. Going back,
sinh grows exponentially: an output a few s past the training range would decode to metres,
so `to_absolute` saturates each decoded coordinate at `MAX_RELATIVE_M`, more than any move
within the rig's workspace.

The same holds for the inputs: whether the part sits on the rim is the measured TCP 0.5 mm
above its command, and where to press is the TCP's offset from the socket estimate, both a
few thousandths of the 100 mm ranges a normaliser maps absolute positions from. With
`policy.relative_inputs = {KEY: n}` the policy also reads KEY's first n numbers, at every
observed frame, minus the reference's at the current frame (`relative_inputs`, compressed with
the same scale), as an input of its own named `relative.KEY`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

POSITION_DIMS = 3  # the action's and the reference key's first numbers: x, y, z
RELATIVE_PREFIX = "relative."  # an input's offset from the reference: "relative.<input key>"
MAX_RELATIVE_M = 0.25  # with a scale: the largest decoded relative coordinate, metres


def reference(obs: Mapping[str, Tensor], key: str) -> Tensor:
    """(B, 1, 3): the position `key` measured at the current (last observed) frame."""
    return obs[key][:, -1, None, :POSITION_DIMS]


def to_relative(
    actions: Tensor, obs: Mapping[str, Tensor], key: str, scale: float | None = None
) -> Tensor:
    """actions (B, T_p, D_a) absolute -> positions relative to the current frame's (with
    `scale`: s asinh(relative / s))."""
    out = actions.clone()
    relative = out[..., :POSITION_DIMS] - reference(obs, key).to(actions.dtype)
    out[..., :POSITION_DIMS] = compress(relative, scale)
    return out


def to_absolute(
    actions: Tensor, obs: Mapping[str, Tensor], key: str, scale: float | None = None
) -> Tensor:
    """Inverse of `to_relative`."""
    out = actions.clone()
    relative = out[..., :POSITION_DIMS]
    if scale is not None:
        bound = scale * math.asinh(MAX_RELATIVE_M / scale)
        relative = scale * torch.sinh(relative.clamp(-bound, bound) / scale)
    out[..., :POSITION_DIMS] = relative + reference(obs, key).to(actions.dtype)
    return out


def compress(relative: Tensor, scale: float | None) -> Tensor:
    """s asinh(relative / s); unchanged without a scale."""
    return relative if scale is None else scale * torch.asinh(relative / scale)


def relative_inputs(
    obs: Mapping[str, Tensor],
    key: str | None,
    inputs: Mapping[str, int],
    scale: float | None = None,
) -> dict[str, Tensor]:
    """For each input k with n position numbers, "relative.k" (B, T_o, n): k's first n numbers
    at every frame minus `key`'s at the current frame (compressed with `scale`); none without
    a `key` (a policy's relative_to) or inputs."""
    if key is None or not inputs:
        return {}
    ref = reference(obs, key).float()  # (B, 1, 3)
    return {
        RELATIVE_PREFIX + k: compress(obs[k][..., :n].float() - ref[..., :n], scale)
        for k, n in inputs.items()
    }
