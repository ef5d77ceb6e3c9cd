"""Episode videos: frames rendered by an env, written as mp4 files that play everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import gymnasium as gym
import numpy as np


def render_frame(env: gym.Env[Any, Any]) -> np.ndarray:
    """The env's current RGB frame (H, W, 3) uint8; the env needs render_mode='rgb_array'."""
    frame = env.render()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"video needs render_mode='rgb_array', the env rendered {type(frame)}")
    return frame


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """RGB frames (H, W, 3) uint8 -> mp4 (MPEG-4 part 2, plays everywhere)."""
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} (no mp4v encoder in this build)")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
