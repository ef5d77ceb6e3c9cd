"""Rotation conventions shared by every env, controller, expert and adapter.

- Rotation matrices act on column vectors; `R[:, k]` is the k-th axis of the rotated frame
  expressed in the parent (world) frame.
- Quaternions are (w, x, y, z), MuJoCo's order.
- The 6D rotation of an action or observation (Zhou et al., CVPR 2019) is the first two columns
  of the matrix, concatenated: `[R[0,0], R[1,0], R[2,0], R[0,1], R[1,1], R[2,1]]`. Decoding
  applies Gram-Schmidt, so any 6-vector whose two halves are not parallel maps to a rotation.
- Axis-angle (rotation vector) `r` is a rotation of |r| radians about r / |r|; delta actions
  apply it in the world frame: `R_new = exp(r) @ R`.

All functions take batches: leading dimensions are kept, e.g. (..., 3, 3) <-> (..., 6).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
_EPS = 1e-12


def rot6d_from_matrix(matrix: ArrayLike) -> F64:
    """(..., 3, 3) rotation matrices -> (..., 6) first two columns."""
    m = np.asarray(matrix, dtype=np.float64)
    out: F64 = np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)
    return out


def matrix_from_rot6d(rot6d: ArrayLike) -> F64:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; ValueError for degenerate (parallel) halves."""
    r = np.asarray(rot6d, dtype=np.float64)
    if r.shape[-1] != 6:
        raise ValueError(f"a 6D rotation has 6 components, got shape {r.shape}")
    a, b = r[..., :3], r[..., 3:]
    a_norm = np.linalg.norm(a, axis=-1, keepdims=True)
    x = a / np.maximum(a_norm, _EPS)
    b = b - np.sum(x * b, axis=-1, keepdims=True) * x
    b_norm = np.linalg.norm(b, axis=-1, keepdims=True)
    if np.any(a_norm < 1e-6) or np.any(b_norm < 1e-6):
        raise ValueError("6D rotation is degenerate: its two columns are zero or parallel")
    y = b / b_norm
    z = np.cross(x, y)
    out: F64 = np.stack([x, y, z], axis=-1)
    return out


def matrix_from_axis_angle(rotvec: ArrayLike) -> F64:
    """(..., 3) rotation vectors -> (..., 3, 3) by Rodrigues' formula."""
    r = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(r, axis=-1)[..., None, None]
    k = _skew(r / np.maximum(angle[..., 0], _EPS))
    eye = np.broadcast_to(np.eye(3), k.shape)
    out: F64 = eye + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)
    return out


def axis_angle_from_matrix(matrix: ArrayLike) -> F64:
    """(..., 3, 3) -> (..., 3) rotation vectors with angle in [0, pi]."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (3, 3):  # fast path for the controllers' single matrices (~10x quicker)
        cos = min(1.0, max(-1.0, (m[0, 0] + m[1, 1] + m[2, 2] - 1.0) / 2.0))
        angle = float(np.arccos(cos))
        if angle < np.pi - 1e-3:  # away from a half turn the skew part is well conditioned
            vee = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]])
            scale = 0.5 if angle < 1e-6 else angle / (2.0 * np.sin(angle))
            out: F64 = vee * scale
            return out
    return axis_angle_from_quat(quat_from_matrix(m))


def quat_from_matrix(matrix: ArrayLike) -> F64:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0."""
    m = np.asarray(matrix, dtype=np.float64)
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # Four candidate formulas; pick per matrix the one with the largest (stable) denominator.
    cands = np.stack(
        [
            np.stack(
                [
                    1 + trace,
                    m[..., 2, 1] - m[..., 1, 2],
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] - m[..., 0, 1],
                ],
                -1,
            ),
            np.stack(
                [
                    m[..., 2, 1] - m[..., 1, 2],
                    1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                    m[..., 0, 1] + m[..., 1, 0],
                    m[..., 0, 2] + m[..., 2, 0],
                ],
                -1,
            ),
            np.stack(
                [
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 0, 1] + m[..., 1, 0],
                    1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
                    m[..., 1, 2] + m[..., 2, 1],
                ],
                -1,
            ),
            np.stack(
                [
                    m[..., 1, 0] - m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 1, 2] + m[..., 2, 1],
                    1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
                ],
                -1,
            ),
        ],
        axis=-2,
    )  # (..., 4 candidates, 4)
    diag = np.stack(
        [
            1 + trace,
            1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
        ],
        -1,
    )
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    out: F64 = np.where(q[..., :1] < 0, -q, q)
    return out


def matrix_from_quat(quat: ArrayLike) -> F64:
    """(..., 4) quaternions (w, x, y, z), normalised first -> (..., 3, 3)."""
    q = np.asarray(quat, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    out: F64 = np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )
    return out


def quat_from_yaw(yaw: float) -> F64:
    """(4,) quaternion (w, x, y, z) of a rotation by `yaw` radians about +z."""
    out: F64 = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    return out


def axis_angle_from_quat(quat: ArrayLike) -> F64:
    """(..., 4) quaternions -> (..., 3) rotation vectors with angle in [0, pi]."""
    q = np.asarray(quat, dtype=np.float64)
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    out: F64 = q[..., 1:] * np.where(s > _EPS, angle / np.maximum(s, _EPS), 2.0)
    return out


def slerp(start: ArrayLike, end: ArrayLike, fraction: float) -> F64:
    """The rotation `fraction` of the way from `start` to `end` (3, 3) along the shortest
    arc, at constant angular speed (spherical linear interpolation)."""
    r0, r1 = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    step = axis_angle_from_matrix(r0.T @ r1)  # in start's frame
    out: F64 = r0 @ matrix_from_axis_angle(fraction * step)
    return out


def rotation_error(target: ArrayLike, current: ArrayLike) -> F64:
    """World-frame rotation vector taking `current` to `target` (both (..., 3, 3))."""
    t, c = np.asarray(target, dtype=np.float64), np.asarray(current, dtype=np.float64)
    return axis_angle_from_matrix(t @ np.swapaxes(c, -1, -2))


def _skew(v: F64) -> F64:
    zero = np.zeros(v.shape[:-1])
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    out: F64 = np.stack(
        [
            np.stack([zero, -z, y], -1),
            np.stack([z, zero, -x], -1),
            np.stack([-y, x, zero], -1),
        ],
        axis=-2,
    )
    return out
