"""Camera-based tactile sensors (GelSight Mini, DIGIT, other GelSight-style UVC sensors):
a UVC camera in the sensor model's mode whose frames are cropped, resized, turned and made
RGB in the capture thread, so every reader gets what the simulated pads render; and the
no-contact reference with what is measured against it.

The reference is the mean of N frames taken with nothing touching the gel. Differences are
signed (int16): a uint8 subtraction wraps a darker pixel round to a bright one, which
digit-interface's `get_diff` does. Contact is where some colour channel moved more than a
threshold from the reference (gs_sdk uses 15 grey levels), opened by a small kernel so that
single noisy pixels do not count; its area comes from the sensor's millimetres per pixel.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from drivers.base import DeviceError, Frame, StreamStats
from drivers.tactile_profiles import SensorModel, led_code, sensor_model
from drivers.uvc import BY_ID, UVCCamera, UVCConfig

_TURNS = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


class TactileConfig(BaseModel):
    """One tactile sensor on the rig."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sensor: str  # a model in drivers.tactile_profiles.SENSORS
    device: str | int  # as UVCConfig.device: serial:<text>, a by-id path, /dev/videoN, index
    exposure: float | None = None
    white_balance_k: int | None = None
    reference_frames: int = Field(default=30, ge=1)  # no-contact frames averaged
    contact_threshold: float = Field(default=15.0, gt=0)  # grey levels, any channel
    first_frame_s: float = Field(default=3.0, gt=0)


def sensor_image(raw: np.ndarray, model: SensorModel) -> np.ndarray:
    """A camera frame (BGR, capture size) -> the sensor's RGB image (model.image_size):
    `crop` cut from every border, resized (area averaging), turned, BGR to RGB."""
    h, w = raw.shape[:2]
    dy, dx = round(h * model.crop), round(w * model.crop)
    image = raw[dy : h - dy, dx : w - dx]
    out_h, out_w = model.image_size
    if model.rotate in (90, 270):
        out_h, out_w = out_w, out_h  # resized before the quarter turn
    image = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
    if model.rotate:
        image = cv2.rotate(image, _TURNS[model.rotate])
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


class TactileSensor:
    """A tactile sensor: `read_latest` / `async_read` give sensor images; `capture_reference`
    takes the no-contact frame that `difference` and `contact` measure against."""

    def __init__(self, config: TactileConfig, by_id: Path = BY_ID) -> None:
        self.config = config
        self.name = config.name
        self.model = sensor_model(config.sensor)
        m = self.model
        camera = UVCConfig(
            name=config.name,
            device=config.device,
            width=m.capture_size[0],
            height=m.capture_size[1],
            fps=m.fps,
            fourcc=m.fourcc,
            exposure=config.exposure,
            white_balance_k=config.white_balance_k,
            first_frame_s=config.first_frame_s,
            controls={"zoom": led_code(m.led)} if m.led is not None else {},
        )
        self.camera = UVCCamera(camera, by_id, transform=lambda raw: sensor_image(raw, m))
        self.reference: np.ndarray | None = None  # (H, W, 3) float32, mean no-contact image

    def connect(self) -> None:
        self.camera.connect()

    def async_read(self, timeout_s: float = 1.0) -> Frame:
        return self.camera.async_read(timeout_s)

    def read_latest(self, max_age_ms: float) -> Frame:
        return self.camera.read_latest(max_age_ms)

    def stats(self) -> StreamStats:
        return self.camera.stats()

    def close(self) -> None:
        self.camera.close()

    def __enter__(self) -> TactileSensor:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def capture_reference(self, frames: int | None = None) -> np.ndarray:
        """Average the next `frames` (config.reference_frames) frames: nothing may touch the
        gel meanwhile. Returns and keeps the reference (H, W, 3) float32."""
        n = frames or self.config.reference_frames
        timeout = 2.0 + 4.0 / self.model.fps
        total = np.zeros((*self.model.image_size, 3), np.float64)
        for _ in range(n):
            total += self.async_read(timeout).image
        self.reference = (total / n).astype(np.float32)
        return self.reference

    def difference(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) int16: `image` minus the reference, signed (no uint8 wrap-around)."""
        reference = self._reference()
        if image.shape != reference.shape:
            raise DeviceError(
                f"{self.name}: an image of shape {image.shape}, the reference is {reference.shape}"
            )
        signed: np.ndarray = image.astype(np.int16) - np.rint(reference).astype(np.int16)
        return signed

    def contact(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """(mask (H, W) bool, area mm^2): where any channel moved over the threshold."""
        moved = np.abs(self.difference(image)).max(axis=2) > self.config.contact_threshold
        kernel = np.ones((3, 3), np.uint8)
        mask = cv2.morphologyEx(moved.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)
        mm_rows, mm_cols = self.model.mm_per_pixel
        return mask, float(mask.sum()) * mm_rows * mm_cols

    def _reference(self) -> np.ndarray:
        if self.reference is None:
            raise DeviceError(
                f"{self.name}: no reference frame yet; call capture_reference() with nothing "
                "touching the gel"
            )
        return self.reference
