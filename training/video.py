"""Episode videos that browsers play: H.264 (yuv420p, `faststart`) in mp4, through PyAV.

A frame is a tiled view of what the policy saw: the env's render on top (when there is
one), below it every image observation (cameras, both tactile images) at a common height,
each labelled, and for stored episodes a strip plotting the low-dim streams over the episode
with the current step marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import gymnasium as gym
import numpy as np

TILE_HEIGHT = 120  # pixels, each observation image in the tiled view
STRIP_HEIGHT = 110  # pixels, the plot of low-dim streams under a stored episode
BAND_HEIGHT = 16  # pixels, the label band above each row of a contact sheet
_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def render_frame(env: gym.Env[Any, Any]) -> np.ndarray:
    """The env's current RGB frame (H, W, 3) uint8; the env needs render_mode='rgb_array'."""
    frame = env.render()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"video needs render_mode='rgb_array', the env rendered {type(frame)}")
    return frame


def image_keys(obs: Mapping[str, np.ndarray]) -> list[str]:
    """Observation keys holding RGB images (H, W, 3) uint8, cameras before tactile."""
    keys = [k for k, v in obs.items() if v.dtype == np.uint8 and v.ndim == 3 and v.shape[2] == 3]
    return sorted(keys, key=lambda k: (not k.startswith("rgb."), k))


def tiled_frame(render: np.ndarray | None, obs: Mapping[str, np.ndarray]) -> np.ndarray:
    """(H, W, 3) uint8: `render` above a row of the labelled image observations."""
    row = [_labelled(_to_height(obs[k], TILE_HEIGHT), k) for k in image_keys(obs)]
    rows = [render] if render is not None else []
    if row:
        rows.append(np.concatenate(row, axis=1))
    if not rows:
        raise ValueError("nothing to show: no render and no image observations")
    return stack_rows(rows)


def stored_episode_frames(episode: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Frames of a recorded episode (key -> (T, ...) arrays): its image streams tiled, and
    under them one strip per low-dim stream (actions, proprioception) with the step marked."""
    t = len(episode["timestamp"])
    first = {k: v[0] for k, v in episode.items()}
    images = image_keys(first)
    lowdim = [k for k, v in episode.items() if v.ndim == 2 and k != "timestamp"]
    frames = []
    for step in range(t):
        top = tiled_frame(None, {k: episode[k][step] for k in images}) if images else None
        width = top.shape[1] if top is not None else 480
        strips = [plot_strip(episode[k], step, width, k) for k in lowdim]
        frames.append(stack_rows([r for r in (top, *strips) if r is not None]))
    return frames


def plot_strip(series: np.ndarray, step: int, width: int, label: str) -> np.ndarray:
    """(STRIP_HEIGHT, width, 3): each column of `series` (T, D) over the episode, scaled to
    its own range, with a cursor at `step`."""
    strip = np.full((STRIP_HEIGHT, width, 3), 255, np.uint8)
    t = len(series)
    xs = np.linspace(4, width - 5, t) if t > 1 else np.full(1, width / 2)
    for d in range(series.shape[1]):
        values = series[:, d].astype(np.float64)
        lo, hi = values.min(), values.max()
        ys = (STRIP_HEIGHT - 8) - (values - lo) / max(hi - lo, 1e-9) * (STRIP_HEIGHT - 24)
        points = np.stack([xs, ys], axis=1).round().astype(np.int32)
        cv2.polylines(strip, [points], False, _COLOURS[d % len(_COLOURS)], 1, cv2.LINE_AA)
    x = int(np.rint(xs[min(step, t - 1)]))
    cv2.line(strip, (x, 14), (x, STRIP_HEIGHT - 1), (0, 0, 0), 1)
    cv2.putText(strip, label, (4, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def stack_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of different widths, left-aligned on a black canvas."""
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.concatenate(padded, axis=0)


def write_video(path: Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """RGB frames (H, W, 3) uint8 -> H.264 mp4 (sizes padded to even, as yuv420p needs)."""
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    h2, w2 = h + h % 2, w + w % 2
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for frame in frames:
            even = np.pad(frame, ((0, h2 - h), (0, w2 - w), (0, 0)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(even, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder
            container.mux(packet)
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video file as RGB (H, W, 3) uint8."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def contact_sheet(
    rows: Sequence[tuple[str, Sequence[np.ndarray]]], columns: int, height: int
) -> np.ndarray:
    """(H, W, 3) uint8: a row per (label, frames) of `columns` frames spaced evenly from the
    first to the last, each scaled to `height` and captioned with its step, under a band with
    the row's label. An episode shorter than `columns` shows every frame it has."""
    if columns < 1 or height < 1 or not rows:
        raise ValueError(f"need rows, columns >= 1 and height >= 1; got {len(rows)} rows, "
                         f"columns={columns}, height={height}")  # fmt: skip
    out = []
    for label, frames in rows:
        if not frames:
            raise ValueError(f"{label}: no frames")
        steps = sorted({round(i) for i in np.linspace(0, len(frames) - 1, columns)})
        tiles = [_labelled(_to_height(frames[t], height), f"step {t}") for t in steps]
        row = np.concatenate(tiles, axis=1)
        out += [_labelled(np.zeros((BAND_HEIGHT, row.shape[1], 3), np.uint8), label), row]
    return stack_rows(out)


def _to_height(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    width = max(1, round(w * height / h))
    interpolation = cv2.INTER_AREA if height < h else cv2.INTER_NEAREST
    return np.asarray(cv2.resize(image, (width, height), interpolation=interpolation))


def _labelled(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(out, text, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return out
