"""Mode enumeration against a fake kernel that answers the three V4L2 ioctls by
videodev2.h's layouts, and against the real kernel for a node that is not a camera."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from drivers.v4l2 import (
    CONTINUOUS,
    DISCRETE,
    STEPWISE,
    VIDIOC_ENUM_FMT,
    VIDIOC_ENUM_FRAMEINTERVALS,
    VIDIOC_ENUM_FRAMESIZES,
    Mode,
    NotV4L2Error,
    modes_of,
    read_modes,
)

# a GelSight Mini as `v4l2-ctl --list-formats-ext` shows it, plus a raw format
MINI = {
    "MJPG": {(3280, 2464): [(1, 25)], (1640, 1232): [(1, 25), (1, 15)]},
    "YUYV": {(640, 480): [(1, 30), (2, 15)]},
}


def fourcc(name: str) -> int:
    return int.from_bytes(name.encode(), "little")


class FakeKernel:
    """Fills the caller's struct for index i of each enumeration, EINVAL past the end, by
    videodev2.h's field offsets (written out here, apart from the driver's layouts)."""

    def __init__(self, table: dict[str, dict[tuple[int, int], list[tuple[int, int]]]]) -> None:
        self.table = table
        self.calls = 0

    def __call__(self, fd: int, request: int, buf: bytearray) -> None:
        self.calls += 1
        index = struct.unpack_from("<I", buf, 0)[0]
        formats = list(self.table)
        if request == VIDIOC_ENUM_FMT:
            assert len(buf) == 64 and struct.unpack_from("<I", buf, 4)[0] == 1  # capture
            self._check(index, formats)
            struct.pack_into("<32s", buf, 12, formats[index].encode())  # description
            struct.pack_into("<I", buf, 44, fourcc(formats[index]))  # pixelformat
        elif request == VIDIOC_ENUM_FRAMESIZES:
            assert len(buf) == 44
            sizes = list(self._format(buf)[1])
            self._check(index, sizes)
            struct.pack_into("<3I", buf, 8, DISCRETE, *sizes[index])
        elif request == VIDIOC_ENUM_FRAMEINTERVALS:
            assert len(buf) == 52
            width, height = struct.unpack_from("<2I", buf, 8)
            rates = self._format(buf)[1][(width, height)]
            self._check(index, rates)
            struct.pack_into("<3I", buf, 16, DISCRETE, *rates[index])
        else:
            raise OSError(errno.ENOTTY, "unknown request")

    def _format(self, buf: bytearray) -> tuple[str, dict[tuple[int, int], list]]:
        code = struct.unpack_from("<I", buf, 4)[0]
        name = code.to_bytes(4, "little").decode()
        return name, self.table[name]

    @staticmethod
    def _check(index: int, items: list) -> None:
        if index >= len(items):
            raise OSError(errno.EINVAL, "Invalid argument")


def test_request_numbers_are_videodev2s() -> None:
    # the struct size is part of each number: a wrong layout gives a wrong request
    assert VIDIOC_ENUM_FMT == 0xC0405602
    assert VIDIOC_ENUM_FRAMESIZES == 0xC02C564A
    assert VIDIOC_ENUM_FRAMEINTERVALS == 0xC034564B


def test_every_format_size_and_rate_is_listed_fastest_first() -> None:
    kernel = FakeKernel(MINI)
    assert modes_of(3, kernel) == [
        Mode("MJPG", 3280, 2464, (25.0,)),
        Mode("MJPG", 1640, 1232, (25.0, 15.0)),
        Mode("YUYV", 640, 480, (30.0, 7.5)),
    ]
    assert modes_of(3, FakeKernel({})) == []  # a metadata node: no capture format


def test_a_range_of_sizes_or_rates_is_listed_by_its_ends() -> None:
    def ranged(fd: int, request: int, buf: bytearray) -> None:
        index = struct.unpack_from("<I", buf, 0)[0]
        if request == VIDIOC_ENUM_FMT and index == 0:
            struct.pack_into("<I", buf, 44, fourcc("GREY"))
        elif request == VIDIOC_ENUM_FRAMESIZES and index == 0:  # 160x120 .. 1280x960 by 16
            struct.pack_into("<7I", buf, 8, STEPWISE, 160, 1280, 16, 120, 960, 16)
        elif request == VIDIOC_ENUM_FRAMEINTERVALS and index == 0:  # 1/60 s .. 1/5 s
            struct.pack_into("<7I", buf, 16, CONTINUOUS, 1, 60, 1, 5, 1, 1)
        else:
            raise OSError(errno.EINVAL, "Invalid argument")

    assert modes_of(3, ranged) == [
        Mode("GREY", 160, 120, (60.0, 5.0)),
        Mode("GREY", 1280, 960, (60.0, 5.0)),
    ]


def test_other_errors_pass_through() -> None:
    def busy(fd: int, request: int, buf: bytearray) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy")

    with pytest.raises(OSError, match="busy"):
        modes_of(3, busy)


def test_the_real_kernel_says_a_non_camera_is_not_v4l2(tmp_path: Path) -> None:
    with pytest.raises(NotV4L2Error):
        read_modes("/dev/null")  # a real ioctl: ENOTTY
    with pytest.raises(FileNotFoundError):
        read_modes(str(tmp_path / "video9"))
