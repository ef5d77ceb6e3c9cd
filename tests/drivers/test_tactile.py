"""Tactile sensors on the replayed UVC camera: raw frames become the sensor's image (crop,
size, turn, RGB) as the simulated pads render it, the reference is a mean of no-contact
frames, differences are signed and contact ignores single noisy pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.base import DeviceError
from drivers.tactile import TactileConfig, TactileSensor, sensor_image
from drivers.tactile_profiles import SENSORS, led_code, sensor_model
from drivers.uvc_replay import ReplayDevices, ReplaySource
from sim.tactile_profile import PROFILES

BGR_GREEN, BGR_BLUE, BGR_RED = (0, 255, 0), (255, 0, 0), (0, 0, 255)


@pytest.fixture
def devices(monkeypatch: pytest.MonkeyPatch) -> ReplayDevices:
    replay = ReplayDevices({})
    monkeypatch.setattr(cv2, "VideoCapture", replay.video_capture)
    return replay


def test_the_simulated_pads_deliver_what_the_real_sensors_do() -> None:
    for name, simulated in PROFILES.items():
        real = sensor_model(name)
        assert simulated.image_size == real.image_size
        assert simulated.sensing_area_m == real.sensing_area_m and simulated.fps == real.fps
    assert sensor_model("gelsight_mini").mm_per_pixel == pytest.approx((0.0634, 0.0634))
    with pytest.raises(ValueError, match=r"unknown tactile sensor 'gelsite'; known: \["):
        sensor_model("gelsite")


def test_a_gelsight_mini_frame_loses_its_border_and_becomes_rgb() -> None:
    model = SENSORS["gelsight_mini"]
    w, h = model.capture_size
    raw = np.full((h, w, 3), BGR_GREEN, np.uint8)  # the border the vendor crops away
    dy, dx = round(0.15 * h), round(0.15 * w)
    raw[dy : h - dy, dx : w - dx] = BGR_BLUE
    raw[h // 2 - 100 : h // 2 + 100, w // 2 - 100 : w // 2 + 100] = BGR_RED
    image = sensor_image(raw, model)
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    edges = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    np.testing.assert_array_equal(np.unique(edges, axis=0), [[0, 0, 255]])  # blue, as RGB
    np.testing.assert_array_equal(image[120, 160], [255, 0, 0])  # red, as RGB


def test_a_digit_frame_turns_portrait_as_digit_interface_does() -> None:
    model = SENSORS["digit"]
    raw = np.zeros((240, 320, 3), np.uint8)  # QVGA as the camera streams it
    raw[:10, :10] = 255  # top left
    image = sensor_image(raw, model)
    assert image.shape == (320, 240, 3)
    # digit-interface: transpose, then flip about the horizontal axis -> top left to bottom left
    expected = cv2.flip(cv2.transpose(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)), 0)
    np.testing.assert_array_equal(image, expected)
    assert image[-5, 5].all() and not image[5, 5].any()


def test_led_codes_pack_three_nibbles() -> None:
    assert led_code((15, 15, 15)) == 0xFFF and led_code((1, 2, 3)) == 0x123
    with pytest.raises(ValueError, match="0-15 each"):
        led_code((16, 0, 0))


def test_a_digit_streams_turned_images_with_its_leds_set(devices: ReplayDevices) -> None:
    raw = [np.full((240, 320, 3), v, np.uint8) for v in (100, 110)]
    devices.sources[2] = ReplaySource(raw, fps=60.0)
    config = TactileConfig(name="left", sensor="digit", device=2, reference_frames=10)
    with TactileSensor(config) as sensor:
        frame = sensor.async_read()
        capture = devices.opened[2]
        assert frame.image.shape == (320, 240, 3)
        assert capture.get(cv2.CAP_PROP_ZOOM) == 0xFFF  # LEDs at full
        assert cv2.CAP_PROP_FOURCC not in capture.calls  # DIGIT: the device's own format
        with pytest.raises(DeviceError, match="left: no reference frame yet; call capture_"):
            sensor.difference(frame.image)
        reference = sensor.capture_reference()
    assert reference.shape == (320, 240, 3) and abs(float(reference.mean()) - 105) <= 1


def test_differences_are_signed_and_contact_ignores_lone_pixels(devices: ReplayDevices) -> None:
    devices.sources[0] = ReplaySource([np.full((240, 320, 3), 100, np.uint8)], fps=60.0)
    sensor = TactileSensor(TactileConfig(name="right", sensor="digit", device=0))
    with sensor:
        sensor.capture_reference(4)
    darker = np.full((320, 240, 3), 90, np.uint8)
    assert (sensor.difference(darker) == -10).all()  # uint8 would wrap to 246
    pressed = np.full((320, 240, 3), 100, np.uint8)
    pressed[50:70, 30:50, 1] = 140  # a 20 x 20 px press in one channel
    pressed[200, 200] = 255  # a lone noisy pixel
    mask, area = sensor.contact(pressed)
    assert mask.sum() == 400 and mask[60, 40] and not mask[200, 200]
    rows, cols = sensor.model.mm_per_pixel
    assert area == pytest.approx(400 * rows * cols)
    with pytest.raises(DeviceError, match=r"right: an image of shape \(2, 2, 3\)"):
        sensor.difference(np.zeros((2, 2, 3), np.uint8))
