from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from training.video import (
    BAND_HEIGHT,
    STRIP_HEIGHT,
    TILE_HEIGHT,
    contact_sheet,
    read_frames,
    stored_episode_frames,
    tiled_frame,
    write_video,
)


def _decode(path: Path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context.name
        return codec, [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_videos_are_h264_with_every_frame_and_odd_sizes_padded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [np.full((45, 61, 3), 20 * i, np.uint8) for i in range(7)]  # odd H and W
    frames[3][10:30, 10:40] = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = write_video(tmp_path / "sub" / "v.mp4", frames, fps=10)
    codec, decoded = _decode(path)
    assert codec == "h264" and len(decoded) == 7  # what browsers play; no frame dropped
    assert decoded[0].shape == (46, 62, 3)  # yuv420p needs even sizes
    for original, back in zip(frames, decoded, strict=True):
        flat = slice(0, 8)  # away from the noise patch: lossy coding stays close
        assert np.abs(back[flat, flat].astype(int) - original[flat, flat]).mean() < 4
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "e.mp4", [], fps=10)


def test_the_tiled_view_puts_the_render_above_cameras_then_tactile() -> None:
    render = np.full((100, 200, 3), 7, np.uint8)
    obs = {
        "tactile.left": np.full((60, 80, 3), 200, np.uint8),
        "rgb.wrist": np.full((84, 84, 3), 100, np.uint8),
        "proprio.ee_pos": np.zeros(3, np.float32),  # not an image: not shown
    }
    frame = tiled_frame(render, obs)
    assert frame.shape[0] == 100 + TILE_HEIGHT
    np.testing.assert_array_equal(frame[50, 150], [7, 7, 7])  # the render, top left
    row = frame[100 + TILE_HEIGHT // 2]
    assert row[60, 0] == 100 and row[120 + 80, 0] == 200  # wrist camera first, then tactile
    assert frame.shape[1] == max(200, TILE_HEIGHT + TILE_HEIGHT * 80 // 60)


def test_a_stored_episode_becomes_one_frame_per_step_with_a_strip_per_stream() -> None:
    t = 5
    episode = {
        "rgb.scene": np.zeros((t, 32, 32, 3), np.uint8),
        "proprio.ee_pos": np.cumsum(np.ones((t, 3)), axis=0),
        "action": np.ones((t, 4)),
        "timestamp": np.arange(t) / 10.0,
    }
    frames = stored_episode_frames(episode)
    assert len(frames) == t
    assert frames[0].shape[0] == TILE_HEIGHT + 2 * STRIP_HEIGHT
    assert not np.array_equal(frames[0], frames[-1])  # the step cursor moves


def test_a_contact_sheet_shows_evenly_spaced_frames_from_first_to_last(tmp_path: Path) -> None:
    # frame t is uniformly grey 10 t: a tile's colour says which frame it shows
    frames = [np.full((40, 60, 3), 10 * t, np.uint8) for t in range(21)]
    back = read_frames(write_video(tmp_path / "v.mp4", frames, fps=10))
    assert len(back) == 21 and abs(int(back[20][20, 30, 0]) - 200) < 4
    short = frames[:2]
    sheet = contact_sheet([("long", frames), ("short", short)], columns=5, height=20)
    tile = 30  # 60 x 40 scaled to height 20
    assert sheet.shape == (2 * (BAND_HEIGHT + 20), 5 * tile, 3)
    top = BAND_HEIGHT + 15  # under each tile's caption
    shown = [int(sheet[top, i * tile + tile // 2, 0]) for i in range(5)]
    assert shown == [0, 50, 100, 150, 200]  # steps 0, 5, 10, 15, 20
    second = 2 * BAND_HEIGHT + 20 + 15
    assert [int(sheet[second, i * tile + tile // 2, 0]) for i in range(2)] == [0, 10]
    assert not sheet[second, 2 * tile + tile // 2].any()  # a short episode: black after it
    assert sheet[:BAND_HEIGHT].any()  # the label is written in its band
    with pytest.raises(ValueError, match="empty: no frames"):
        contact_sheet([("empty", [])], columns=3, height=20)
    with pytest.raises(ValueError, match="columns"):
        contact_sheet([("long", frames)], columns=0, height=20)
