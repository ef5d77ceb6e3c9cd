"""The capture modes a V4L2 node offers (pixel format, frame size, frame rates), read with the
kernel's enumeration ioctls. Opening a node to ask does not start a stream, so a camera that
another process is streaming from can be asked too.

Layouts and request numbers are videodev2.h's (`_IOWR('V', nr, struct)`; the struct's size is
part of the number, so a wrong layout is a wrong request, which tests check against the
header's published values):

    VIDIOC_ENUM_FMT             nr 2,  struct v4l2_fmtdesc      (64 bytes)
    VIDIOC_ENUM_FRAMESIZES      nr 74, struct v4l2_frmsizeenum  (44 bytes)
    VIDIOC_ENUM_FRAMEINTERVALS  nr 75, struct v4l2_frmivalenum  (52 bytes)

Each enumeration asks for index 0, 1, ... until the kernel answers EINVAL. Frame sizes and
intervals are either a list of discrete values (what UVC cameras report) or a stepwise or
continuous range; of a range, its ends are listed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Ioctl = Callable[[int, int, bytearray], object]  # fcntl.ioctl(fd, request, buffer) in place

BUF_TYPE_VIDEO_CAPTURE = 1
DISCRETE, CONTINUOUS, STEPWISE = 1, 2, 3  # v4l2_frmsizetypes and v4l2_frmivaltypes
FMTDESC = struct.Struct("<3I32sII12x")  # index, type, flags, description, pixelformat, mbus_code
FRMSIZE = struct.Struct("<3I6I8x")  # index, pixel_format, type; discrete w, h | 6 stepwise
FRMIVAL = struct.Struct("<5I6I8x")  # index, format, width, height, type; fract | min/max/step


def request(nr: int, size: int) -> int:
    """_IOWR('V', nr, size): direction read|write (3) in bits 30-31, size in 16-29."""
    return (3 << 30) | (size << 16) | (ord("V") << 8) | nr


VIDIOC_ENUM_FMT = request(2, FMTDESC.size)
VIDIOC_ENUM_FRAMESIZES = request(74, FRMSIZE.size)
VIDIOC_ENUM_FRAMEINTERVALS = request(75, FRMIVAL.size)


@dataclass(frozen=True)
class Mode:
    fourcc: str  # e.g. MJPG, YUYV
    width: int
    height: int
    fps: tuple[float, ...]  # fastest first


class NotV4L2Error(OSError):
    """The node answers no V4L2 capture enumeration (not a camera, or a metadata node)."""


def read_modes(path: str, ioctl: Ioctl = fcntl.ioctl) -> list[Mode]:
    """Every capture mode of the V4L2 node at `path`. OSError when it cannot be opened
    (missing, no permission); NotV4L2Error when it is not a video capture node."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        return modes_of(fd, ioctl)
    finally:
        os.close(fd)


def modes_of(fd: int, ioctl: Ioctl = fcntl.ioctl) -> list[Mode]:
    modes = []
    for fourcc, code in _formats(fd, ioctl):
        for width, height in _sizes(fd, ioctl, code):
            rates = sorted(set(_rates(fd, ioctl, code, width, height)), reverse=True)
            modes.append(Mode(fourcc, width, height, tuple(rates)))
    return modes


def _formats(fd: int, ioctl: Ioctl) -> Iterator[tuple[str, int]]:
    for buf in _enumerate(fd, ioctl, VIDIOC_ENUM_FMT, FMTDESC, BUF_TYPE_VIDEO_CAPTURE):
        code = FMTDESC.unpack(buf)[4]
        yield code.to_bytes(4, "little").decode("ascii", "replace").strip(), code


def _sizes(fd: int, ioctl: Ioctl, code: int) -> Iterator[tuple[int, int]]:
    for buf in _enumerate(fd, ioctl, VIDIOC_ENUM_FRAMESIZES, FRMSIZE, code):
        kind, values = FRMSIZE.unpack(buf)[2], FRMSIZE.unpack(buf)[3:]
        if kind == DISCRETE:
            yield values[0], values[1]
            continue
        min_w, max_w, _, min_h, max_h, _ = values  # a range: its two ends, then no more
        yield min_w, min_h
        yield max_w, max_h
        return


def _rates(fd: int, ioctl: Ioctl, code: int, width: int, height: int) -> Iterator[float]:
    for buf in _enumerate(fd, ioctl, VIDIOC_ENUM_FRAMEINTERVALS, FRMIVAL, code, width, height):
        kind, values = FRMIVAL.unpack(buf)[4], FRMIVAL.unpack(buf)[5:]
        fractions = [values[0:2]] if kind == DISCRETE else [values[0:2], values[2:4]]
        yield from (den / num for num, den in fractions if num and den)
        if kind != DISCRETE:
            return


def _enumerate(
    fd: int, ioctl: Ioctl, req: int, layout: struct.Struct, *fields: int
) -> Iterator[bytes]:
    """The filled struct for index 0, 1, ... until EINVAL; `fields` follow the index."""
    index = 0
    while True:
        buf = bytearray(layout.size)
        struct.pack_into(f"<{1 + len(fields)}I", buf, 0, index, *fields)
        try:
            ioctl(fd, req, buf)
        except OSError as err:
            if err.errno == errno.EINVAL:
                return
            if err.errno == errno.ENOTTY:
                raise NotV4L2Error(err.errno, "not a V4L2 device") from err
            raise
        yield bytes(buf)
        index += 1
