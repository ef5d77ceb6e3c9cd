"""`vitac devices`: what discovery finds, as text and as JSON, exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers import discovery
from drivers.discovery import video_nodes
from drivers.v4l2 import Mode
from launch.cli import main
from tests.drivers.test_discovery import fake_tree


def test_the_cli_lists_what_is_plugged_in_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sys_video, dev = fake_tree(tmp_path)
    modes = [Mode("MJPG", 3280, 2464, (25.0,)), Mode("YUYV", 640, 480, (30.0, 7.5))]
    monkeypatch.setattr(
        discovery, "video_nodes", lambda: video_nodes(sys_video, dev, lambda path: modes)
    )
    assert main(["devices", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert {"video", "realsense", "serial", "spacemouse"} <= set(found)
    assert [v["sensor"] for v in found["video"]] == ["gelsight_mini", "gelsight_mini", None]
    assert found["video"][0]["modes"][1] == {
        "fourcc": "YUYV", "width": 640, "height": 480, "fps": [30.0, 7.5]
    }  # fmt: skip
    assert found["video"][1]["modes"] == []  # the metadata node
    assert main(["devices"]) == 0
    text = capsys.readouterr().out
    assert "video nodes: 3" in text and "(gelsight_mini)  [streams]  usb 0c45:636d" in text
    assert "[index 1, no frames]" in text and "realsense cameras: 0" in text
    assert "spacemice: " in text
    assert "    MJPG 3280x2464 at 25 fps\n    YUYV 640x480 at 30, 7.5 fps\n" in text
