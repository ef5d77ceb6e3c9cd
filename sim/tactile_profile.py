"""Sensor profiles for the simulated GelSight-style tactile pads: geometry, optics, markers, noise.

A `TactileProfile` holds everything `sim.tactile.TactileSensor` needs to imitate one sensor
model: the native image size and the area of gel it sees, the gel thickness, the three coloured
lights, the no-contact (reference) frame, the shading gains, sensor noise and the marker grid.
`PROFILES` lists the built-in ones; `profile(name)` looks one up with a clear error.

Image frame: x runs along the image columns (left to right), y down the rows, z out of the gel
towards the object (the pad site's frame, see `sim.scene`). Light azimuths are measured in the
image plane from +x towards +y (0 deg = right edge, 90 deg = bottom edge).

Image size, field of view and frame rate come from the real sensors' description in
`drivers.tactile_profiles`, which the real driver uses too. Sources for the numbers
(everything not listed is a hand-tuned visual estimate, not a measurement):
- GelSight Mini: 320x240 at 25 fps and 0.0634 mm/px at that size (gelsightinc/gsrobotics FAQ,
  gs_sdk `gsmini.yaml`), so the 240x320 (H x W)
  image covers 15.2 x 20.3 mm. Marker gels carry a 7 x 9 dot grid (the grid size GelSight
  marker-tracking code assumes); markers are on by default because the robotics gels have them.
- DIGIT: QVGA 320x240 at 60 fps, delivered portrait as 320 rows x 240 columns
  (facebookresearch/digit-interface). Sensing field about 19 x 16 mm (the figure quoted for DIGIT
  by Lambeta et al., RA-L 2020, from memory, not re-checked here); the gel has no markers, but a
  grid is defined so markers can be switched on. Sensor noise sigma 7 grey levels follows
  TACTO's DIGIT config, lowered here to 3 because the raw DIGIT frames are smoother.
- Gel thickness: both sensors use elastomers a few millimetres thick; 2 mm here bounds the
  indentation depth and sets the layer's shear stiffness.
- Gel mechanics: Young's modulus 0.3 MPa and Poisson's ratio 0.49 for both: a soft, nearly
  incompressible silicone, inside the few-tenths-of-a-MPa range given for GelSight-class
  elastomers (not measured on a real gel here); `sim.gel` states the model and calibration.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.tactile_profiles import sensor_model
from sim.gel import GelLayer

RGB = tuple[float, float, float]


class TactileProfile(BaseModel):
    """Parameters of one tactile sensor model. Lengths in metres, intensities in grey levels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    # geometry and timing
    image_size: tuple[int, int]  # native (H, W) in pixels
    sensing_area_m: tuple[float, float]  # gel area in view: (height along rows, width along cols)
    gel_thickness_m: float = Field(gt=0.0, le=0.01)  # indentation is clipped to this
    fps: float = Field(gt=0.0, le=1000.0)  # native frame rate (the frame budget is 1 / fps)
    # lights: three LEDs around the gel, each lighting the membrane in its own colour
    light_azimuth_deg: tuple[float, float, float]  # in the image plane, 0 = +x (right), 90 = +y
    light_elevation_deg: float = Field(gt=0.0, lt=90.0)  # angle above the gel plane
    light_rgb: tuple[RGB, RGB, RGB]  # colour of each light as seen by the camera, 0..1 per channel
    light_gain: float = Field(ge=0.0)  # grey levels per unit change of cos(normal, light)
    depth_darkening: float = Field(ge=0.0)  # grey levels lost at full gel_thickness indentation
    # reference (no-contact) frame
    background_rgb: RGB  # membrane colour at the image centre, grey levels
    led_glow: float = Field(ge=0.0)  # extra grey levels of each LED's colour at its own edge
    led_glow_width: float = Field(gt=0.0)  # glow fall-off, in units of the half diagonal
    vignette: float = Field(ge=0.0, le=1.0)  # relative darkening in the corners
    # gel and camera
    gel_blur_m: float = Field(ge=0.0)  # Gaussian sigma of the membrane's low-pass (metres)
    noise_std: float = Field(ge=0.0)  # per-pixel Gaussian sensor noise, grey levels
    # markers: dark dots printed on the membrane, dragged by shear
    markers: bool  # whether the gel has markers by default
    marker_grid: tuple[int, int] = Field(default=(7, 9))  # (rows, cols) of dots
    marker_radius_m: float = Field(default=0.0003, gt=0.0)
    marker_darkness: float = Field(default=0.85, ge=0.0, le=1.0)  # fraction of light a dot blocks
    shear_spread_m: float = Field(default=1.0e-3, gt=0.0)  # how far beyond the contact dots move
    # gel mechanics (sim.gel.GelLayer, thickness gel_thickness_m)
    gel_modulus_pa: float = Field(default=3.0e5, gt=0.0)  # Young's modulus of the elastomer
    gel_poisson: float = Field(default=0.49, ge=0.0, lt=0.5)  # nearly incompressible silicone
    bulge: float = Field(default=0.5, ge=0.0)  # outward dot shift around an indentation (ratio)

    @model_validator(mode="after")
    def _consistent(self) -> TactileProfile:
        if min(self.image_size) <= 0:
            raise ValueError(f"image_size must be positive (H, W), got {self.image_size}")
        if min(self.sensing_area_m) <= 0:
            raise ValueError(f"sensing_area_m must be positive, got {self.sensing_area_m}")
        if min(self.marker_grid) <= 0:
            raise ValueError(f"marker_grid must be positive (rows, cols), got {self.marker_grid}")
        for colour in (*self.light_rgb, self.background_rgb):
            if min(colour) < 0:
                raise ValueError(f"colours must be non-negative, got {colour}")
        return self

    @property
    def gel(self) -> GelLayer:
        """The elastomer layer's mechanics (indentation from force, shear field)."""
        return GelLayer(self.gel_modulus_pa, self.gel_poisson, self.gel_thickness_m)

    @property
    def frame_budget_ms(self) -> float:
        """Time between two frames of the real sensor, milliseconds."""
        return 1000.0 / self.fps


def _as_delivered(name: str) -> dict[str, Any]:
    """Size, field of view and rate of the real sensor's frames, from its one description
    (`drivers.tactile_profiles`), so simulated and real pads deliver the same images."""
    model = sensor_model(name)
    return {"image_size": model.image_size, "sensing_area_m": model.sensing_area_m,
            "fps": model.fps}  # fmt: skip


PROFILES: dict[str, TactileProfile] = {
    "gelsight_mini": TactileProfile(
        name="gelsight_mini",
        **_as_delivered("gelsight_mini"),  # 240 x 320 px, 15.2 x 20.3 mm, 25 fps
        gel_thickness_m=0.002,
        light_azimuth_deg=(180.0, 300.0, 60.0),  # red from the left, green top right, blue
        light_elevation_deg=30.0,
        light_rgb=((1.0, 0.18, 0.22), (0.15, 1.0, 0.3), (0.2, 0.35, 1.0)),
        light_gain=135.0,
        depth_darkening=18.0,
        background_rgb=(150.0, 158.0, 172.0),
        led_glow=28.0,
        led_glow_width=0.55,
        vignette=0.22,
        gel_blur_m=0.12e-3,
        noise_std=2.0,
        markers=True,
        marker_grid=(7, 9),
        marker_radius_m=0.3e-3,
    ),
    "digit": TactileProfile(
        name="digit",
        **_as_delivered("digit"),  # 320 x 240 px (portrait), 19 x 16 mm, 60 fps
        gel_thickness_m=0.002,
        light_azimuth_deg=(90.0, 210.0, 330.0),  # TACTO's DIGIT light layout
        light_elevation_deg=25.0,
        light_rgb=((1.0, 0.15, 0.15), (0.12, 1.0, 0.2), (0.15, 0.25, 1.0)),
        light_gain=140.0,
        depth_darkening=22.0,
        background_rgb=(128.0, 136.0, 140.0),
        led_glow=55.0,
        led_glow_width=0.7,
        vignette=0.3,
        gel_blur_m=0.15e-3,
        noise_std=3.0,
        markers=False,
        marker_grid=(9, 7),
        marker_radius_m=0.3e-3,
    ),
}


def profile(name: str) -> TactileProfile:
    """The built-in profile called `name`; ValueError naming the available ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown tactile profile {name!r}; available: {sorted(PROFILES)}"
        ) from None
