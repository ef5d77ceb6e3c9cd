"""What a camera-based tactile sensor delivers and how its raw camera frames become that: the
one description of each sensor model that the real driver (`drivers.tactile`) and the
simulated pads (`sim.tactile_profile`) share, so a policy sees the same size, orientation and
field of view from either.

Sources:
- GelSight Mini: the camera streams only MJPG 3280x2464 at 25 fps (gsrobotics#36; gs_sdk
  `gsmini.yaml`); the vendor's code crops 15% from every border, resizes to 320x240 and
  converts BGR to RGB, giving 0.0634 mm/px (gsrobotics FAQ): 15.2 x 20.3 mm in view. USB
  0c45:636d; two /dev/video nodes per sensor, the capture one is `...-video-index0`.
- DIGIT: QVGA 320x240 at 60 or 30 fps, VGA 640x480 at 30 or 15 fps; digit-interface turns
  frames portrait (transpose, then flip about the horizontal axis: a quarter turn
  anticlockwise), so QVGA arrives as 320 rows x 240 columns; the LEDs' intensity goes through
  CAP_PROP_ZOOM as R << 8 | G << 4 | B, each 0-15. USB 2833:0209. Field about 19 x 16 mm
  (Lambeta et al., RA-L 2020, from memory).
- `gelsight_uvc`: any other GelSight-style UVC sensor at 640x480; crop and field of view
  are placeholders to set per sensor in the launch file (`tactile.<side>.crop` etc.).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LED_MAX = 15  # DIGIT: each of R, G, B


class SensorModel(BaseModel):
    """A tactile sensor model: its output and the camera mode and steps that make it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    image_size: tuple[int, int]  # (H, W) of the delivered RGB image
    sensing_area_m: tuple[float, float]  # gel in view: (along rows, along columns), metres
    fps: float = Field(gt=0)  # the camera's rate in this mode
    fourcc: str | None  # the camera's format (None: leave the device's default)
    capture_size: tuple[int, int]  # (W, H) the camera streams, OpenCV's order
    crop: float = Field(ge=0.0, lt=0.5)  # share cut from every border before resizing
    rotate: Literal[0, 90, 180, 270] = 0  # quarter turns anticlockwise after the crop
    led: tuple[int, int, int] | None = None  # DIGIT's LED intensities (R, G, B), 0-15 each
    usb_id: str = ""  # VID:PID, for `vitac devices`

    @property
    def mm_per_pixel(self) -> tuple[float, float]:
        """Millimetres per output pixel (along rows, along columns)."""
        return (
            1000.0 * self.sensing_area_m[0] / self.image_size[0],
            1000.0 * self.sensing_area_m[1] / self.image_size[1],
        )


GELSIGHT_MINI_MM_PER_PX = 0.0634

SENSORS: dict[str, SensorModel] = {
    "gelsight_mini": SensorModel(
        name="gelsight_mini",
        image_size=(240, 320),
        sensing_area_m=(240 * GELSIGHT_MINI_MM_PER_PX / 1000, 320 * GELSIGHT_MINI_MM_PER_PX / 1000),
        fps=25.0,
        fourcc="MJPG",
        capture_size=(3280, 2464),
        crop=0.15,
        usb_id="0c45:636d",
    ),
    "digit": SensorModel(
        name="digit",
        image_size=(320, 240),
        sensing_area_m=(0.019, 0.016),
        fps=60.0,
        fourcc=None,
        capture_size=(320, 240),
        crop=0.0,
        rotate=90,
        led=(LED_MAX, LED_MAX, LED_MAX),
        usb_id="2833:0209",
    ),
    "gelsight_uvc": SensorModel(
        name="gelsight_uvc",
        image_size=(240, 320),
        sensing_area_m=(0.015, 0.020),
        fps=30.0,
        fourcc="MJPG",
        capture_size=(640, 480),
        crop=0.1,
    ),
}


def sensor_model(name: str) -> SensorModel:
    """The built-in model called `name`; ValueError naming the known ones otherwise."""
    try:
        return SENSORS[name]
    except KeyError:
        raise ValueError(f"unknown tactile sensor {name!r}; known: {sorted(SENSORS)}") from None


def led_code(rgb: tuple[int, int, int]) -> int:
    """DIGIT's LED setting as CAP_PROP_ZOOM takes it: R << 8 | G << 4 | B."""
    if any(not 0 <= c <= LED_MAX for c in rgb):
        raise ValueError(f"DIGIT LED intensities are 0-{LED_MAX} each, got {rgb}")
    r, g, b = rgb
    return r << 8 | g << 4 | b
