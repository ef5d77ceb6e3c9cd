"""robosuite tasks (Lift, Stack, NutAssemblySquare) behind vitac's observation spec and actions.

The same policies train and evaluate here as on the vitac rig: observations carry the arm-task
keys, actions are vitac's pose actions, and the env implements `TaskEnv`.

Needs the `robosuite` extra (robosuite 1.5.2, numpy<2, mujoco<3.10), which conflicts with the
main venv, so it lives in `.venv-robosuite` (`make robosuite-venv`). This module imports without
robosuite; the env constructor imports it and raises `RobosuiteNotInstalledError` naming the fix.

Frame: poses are in the robot base frame (the `<robot>_<arm>_center` site robosuite's OSC
controller calls "base": x forward, z up, origin at the arm's base; the table top is at
z = -0.112 m). That is vitac's world frame for this env, as the arm base is the world origin on
the vitac rig, and it keeps positions within the [-1, 1] action box.
Action (float32), `config.action_mode`:
    "abs_pose"   (10,) [x, y, z, rot6d (6), gripper_width]: absolute grip-site target.
    "delta_pose" (7,)  [dx, dy, dz, rx, ry, rz, gripper_width]: a step from the commanded pose,
                       the rotation as an axis-angle applied on the left (drivers.rotations).
    Both become an absolute target for robosuite's OSC_POSE controller, configured with
    `input_type="absolute"` (robosuite 1.5's composite controller config). The position is
    clipped to [-1, 1] m, the width to [0, 0.08] m (the Panda gripper's full opening).
Gripper: robosuite's Panda gripper moves its finger target by 0.2 (of its [-1, 1] range, i.e.
8 mm of opening) per step in the direction of the sign of its command (+1 closes). The width is
mapped to that range (0 m -> +1 closed, 0.08 m -> -1 open) and each step sends the sign that
moves the finger target towards it, or 0 within half a step: widths are reached at robosuite's
gripper speed, to within 4 mm (exactly at 0 and 0.08).
Observation: rgb.scene (agentview) and rgb.wrist (robot0_eye_in_hand), (S, S, 3) uint8 upright;
proprio.ee_pose (9,) [grip-site position (m), rot6d]; proprio.gripper (1,) finger opening (m);
proprio.joints (7,) rad. Reward 1.0 on robosuite's `_check_success()`, `terminated` then,
`truncated` after `horizon` steps; `info["is_success"]`.

Resets are soft (robosuite's `hard_reset=False`: the model is not rebuilt; 0.1 s instead of
3 s with cameras) and seeded from gymnasium's `np_random`, which seeds robosuite's own
generator and its placement samplers (robosuite 1.5 draws nothing else at reset; the global
`np.random` is only used for observation noise, which these tasks leave off). What robosuite
draws when it builds the model (object sizes) comes from `config.model_seed`.
Rendering: shadows and reflections off by default (`config.shadows`, `config.reflections`):
on Mesa's llvmpipe they dominate the frame time (Lift, two 84 px cameras, numba on: 9.5
steps/s with both, 9.9 without shadows, 23 without either).
robosuite's macros are set in-process, before its import, as its `macros_private` module
(unless the installation has its own file): numba off (no 8-16 s JIT compile in every fresh
venv, which CI builds each run; 18 vs 23 steps/s with two 84 px cameras; set
VITAC_ROBOSUITE_NUMBA=1 to turn it on), and its import-time log warnings silenced (the
private-macro hint, robosuite_models and the GR1 mink IK, neither used here).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.rotations import (
    axis_angle_from_matrix,
    matrix_from_axis_angle,
    matrix_from_rot6d,
    rot6d_from_matrix,
)
from drivers.spec import FieldSpec
from sim.tasks import check_render_mode, observation_space, validated_config

Obs = dict[str, NDArray[Any]]
F64 = NDArray[np.float64]
CAMERAS = {"rgb.scene": "agentview", "rgb.wrist": "robot0_eye_in_hand"}  # key -> robosuite name
ACTION_DIMS = {"abs_pose": 10, "delta_pose": 7}
PANDA_MAX_OPENING_M = 0.08  # finger joints 0..0.04 m each
POSITION_LIMIT_M = 1.0  # targets are clipped to this box around the arm base (the action box)
PHYSICS_HZ = 500  # robosuite's SIMULATION_TIMESTEP is 2 ms
INSTALL_HINT = (
    "The robosuite adapter needs robosuite>=1.5.2 with numpy<2 and mujoco<3.10, which conflict "
    "with the main venv, so it lives in its own venv: run `make robosuite-venv` and use "
    "`.venv-robosuite/bin/python` (or `pip install -e '.[robosuite]'` in a separate "
    "environment); `make test-robosuite` runs its tests."
)


class RobosuiteNotInstalledError(ImportError):
    """robosuite is missing (or unusable) in this Python; the message names the fix."""


def import_robosuite() -> Any:
    """Import robosuite with vitac's macros and quiet import; raise the install hint if absent."""
    if importlib.util.find_spec("robosuite") is None:
        raise RobosuiteNotInstalledError(
            f"robosuite is not installed in this Python ({sys.executable}). {INSTALL_HINT}"
        )
    import mujoco

    major_minor = tuple(int(p) for p in mujoco.__version__.split(".")[:2])
    if major_minor >= (3, 10):
        raise RobosuiteNotInstalledError(
            f"robosuite 1.5.2 does not run with mujoco {mujoco.__version__} (it needs <3.10). "
            f"{INSTALL_HINT}"
        )
    if "robosuite" not in sys.modules:
        _provide_private_macros()
    suite = importlib.import_module("robosuite")
    logger = suite.utils.log_utils.ROBOSUITE_DEFAULT_LOGGER
    if logger.level > logging.WARNING:  # quiet during import only: show runtime warnings
        logger.setLevel(logging.WARNING)
        for handler in logger.handlers:
            handler.setLevel(logging.WARNING)
    return suite


def _provide_private_macros() -> None:
    spec = importlib.util.find_spec("robosuite")  # the top-level spec: nothing is imported
    locations = spec.submodule_search_locations if spec is not None else None
    if locations and any((Path(p) / "macros_private.py").is_file() for p in locations):
        return  # the installation's own macros file wins
    macros = types.ModuleType("robosuite.macros_private")
    macros.ENABLE_NUMBA = os.environ.get("VITAC_ROBOSUITE_NUMBA", "0") == "1"  # type: ignore[attr-defined]
    macros.CONSOLE_LOGGING_LEVEL = "ERROR"  # type: ignore[attr-defined]
    sys.modules[macros.__name__] = macros


class RobosuiteConfig(BaseModel):
    """Which robosuite task and how it is observed and controlled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env_name: Literal["Lift", "Stack", "NutAssemblySquare"] = "Lift"
    robot: Literal["Panda"] = "Panda"
    image_size: int = Field(default=84, ge=16, le=512)  # camera image side, pixels
    render_height: int = Field(default=240, ge=16, le=960)  # render() frame
    render_width: int = Field(default=320, ge=16, le=1280)
    control_hz: float = Field(default=20.0, gt=0.0, le=100.0)  # robosuite's control_freq
    horizon: int = Field(default=400, ge=1, le=100_000)  # control steps before truncation
    action_mode: Literal["abs_pose", "delta_pose"] = "abs_pose"
    shadows: bool = False
    reflections: bool = False
    # robosuite draws some object sizes when it builds the model (Lift's cube side: 20-22 mm);
    # resets are soft and keep the model, so they come from this seed, the same every episode.
    model_seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _whole_substeps(self) -> RobosuiteConfig:
        ratio = PHYSICS_HZ / self.control_hz
        if abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(
                f"control_hz {self.control_hz:g} must divide the {PHYSICS_HZ} Hz physics rate"
            )
        return self


class RobosuiteLiftConfig(RobosuiteConfig):
    env_name: Literal["Lift"] = "Lift"


class RobosuiteStackConfig(RobosuiteConfig):
    env_name: Literal["Stack"] = "Stack"


class RobosuiteSquareConfig(RobosuiteConfig):
    env_name: Literal["NutAssemblySquare"] = "NutAssemblySquare"


def observation_spec(config: RobosuiteConfig) -> dict[str, FieldSpec]:
    s = config.image_size
    spec = {
        key: FieldSpec(shape=(s, s, 3), dtype="uint8", units="rgb", sensor=camera)
        for key, camera in CAMERAS.items()
    }
    spec["proprio.ee_pose"] = FieldSpec(shape=(9,), dtype="float32", units="m,rot6d", sensor="tcp")
    spec["proprio.gripper"] = FieldSpec(shape=(1,), dtype="float32", units="m", sensor="gripper")
    spec["proprio.joints"] = FieldSpec(shape=(7,), dtype="float32", units="rad", sensor="arm")
    return spec


def action_spec(config: RobosuiteConfig) -> dict[str, FieldSpec]:
    mode = config.action_mode
    units = "m,rot6d,m" if mode == "abs_pose" else "m,axis_angle,m"
    return {
        "action": FieldSpec(shape=(ACTION_DIMS[mode],), dtype="float32", units=units, sensor=mode)
    }


class RobosuiteEnv(gym.Env[Obs, NDArray[np.float32]]):
    """A robosuite task as a vitac task env; see the module docstring."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 20}  # noqa: RUF012
    config_cls: ClassVar[type[RobosuiteConfig]] = RobosuiteConfig

    def __init__(
        self,
        config: RobosuiteConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        check_render_mode(render_mode, self.metadata)
        config = validated_config(self.config_cls, config, type(self).__name__)
        self.config, self.render_mode = config, render_mode
        self.metadata = {**self.metadata, "render_fps": config.control_hz}
        suite = import_robosuite()
        self._opengl_images = suite.macros.IMAGE_CONVENTION == "opengl"  # rows bottom-up
        controller = suite.load_composite_controller_config(robot=config.robot)
        arm_name = "right"  # robosuite's name for a single arm
        controller["body_parts"][arm_name].update(input_type="absolute", input_ref_frame="base")
        self._suite: Any = suite.make(
            config.env_name,
            robots=config.robot,
            controller_configs=controller,
            has_renderer=False,
            has_offscreen_renderer=True,
            use_camera_obs=True,
            camera_names=list(CAMERAS.values()),
            camera_heights=config.image_size,
            camera_widths=config.image_size,
            control_freq=config.control_hz,
            horizon=config.horizon,
            ignore_done=True,  # this env truncates; robosuite would refuse to step after done
            hard_reset=False,
            reward_shaping=False,
            seed=config.model_seed,
        )
        self._robot: Any = self._suite.robots[0]
        self._arm = arm_name
        self._gripper: Any = self._robot.gripper[arm_name]
        controller_part = self._robot.part_controllers[arm_name]
        model = self._suite.sim.model
        self._eef_site = int(model.site_name2id(controller_part.ref_name))
        self._base_site = int(
            model.site_name2id(f"{controller_part.naming_prefix}{controller_part.part_name}_center")
        )
        self._joint_range = np.array(model.jnt_range[self._robot.joint_indexes], dtype=np.float64)
        self._base_pos, self._base_rot = np.zeros(3), np.eye(3)
        self._pos_cmd, self._rot_cmd, self._width_cmd = np.zeros(3), np.eye(3), 0.0
        self._steps = 0
        self._closed = False
        self.action_space = spaces.Box(
            -1.0, 1.0, shape=(ACTION_DIMS[config.action_mode],), dtype=np.float32
        )
        self.observation_space = cast("spaces.Space[Obs]", self._make_observation_space())

    # ------------------------------------------------------------------ specs
    def observation_spec(self) -> dict[str, FieldSpec]:
        return observation_spec(self.config)

    def action_spec(self) -> dict[str, FieldSpec]:
        return action_spec(self.config)

    def _make_observation_space(self) -> spaces.Dict:
        bounds = {
            "proprio.ee_pose": (np.full(9, -1.5), np.full(9, 1.5)),
            "proprio.gripper": (np.array([-0.01]), np.array([PANDA_MAX_OPENING_M + 0.02])),
            "proprio.joints": (self._joint_range[:, 0] - 0.3, self._joint_range[:, 1] + 0.3),
        }
        return observation_space(self.observation_spec(), bounds)

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; this env takes none")
        self._make_gl_current()
        rng = np.random.default_rng(self.np_random.integers(2**63))
        self._suite.rng = rng  # robot initial-joint noise, nut choice
        _seed_samplers(self._suite.placement_initializer, rng)  # object placement
        # A soft reset keeps the gripper's command; a fresh robosuite gripper starts at 0.
        self._gripper.current_action = np.zeros(self._gripper.dof)
        suite_obs = self._suite.reset()
        if self._set_render_flags():  # the reset's images were rendered with the old flags
            suite_obs = self._suite._get_observations(force_update=True)
        sim = self._suite.sim
        self._base_pos = np.array(sim.data.site_xpos[self._base_site], dtype=np.float64)
        self._base_rot = np.array(sim.data.site_xmat[self._base_site], dtype=np.float64)
        self._base_rot = self._base_rot.reshape(3, 3)
        self._pos_cmd, self._rot_cmd = self.tcp_pose()
        self._width_cmd = self._gripper_target_width()
        self._steps = 0
        return self._observe(suite_obs), {"is_success": self._is_success()}

    def step(self, action: NDArray[np.float32]) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        self._make_gl_current()
        pos, rot, width = self._target(np.asarray(action, dtype=np.float64))
        arm = np.concatenate([pos, axis_angle_from_matrix(rot)])  # OSC's absolute "base" input
        suite_action = self._robot.create_action_vector(
            {self._arm: arm, f"{self._arm}_gripper": [self._gripper_command(width)]}
        )
        suite_obs, _, _, _ = self._suite.step(suite_action)
        self._pos_cmd, self._rot_cmd, self._width_cmd = pos, rot, width
        self._steps += 1
        success = self._is_success()
        truncated = not success and self._steps >= self.config.horizon
        return self._observe(suite_obs), float(success), success, truncated, {"is_success": success}

    def render(self) -> NDArray[np.uint8] | None:
        if self.render_mode != "rgb_array":
            return None
        self._make_gl_current()
        frame = self._suite.sim.render(
            width=self.config.render_width,
            height=self.config.render_height,
            camera_name=CAMERAS["rgb.scene"],
        )
        return self._upright(frame)

    def close(self) -> None:
        if not self._closed:
            self._make_gl_current()  # robosuite frees its GL objects in the current context
            self._suite.close()
            self._closed = True

    # ------------------------------------------------------------------ for callers
    @property
    def control_hz(self) -> float:
        return float(self.config.control_hz)

    @property
    def suite_env(self) -> Any:
        """The wrapped robosuite env (for privileged state such as object poses)."""
        return self._suite

    def hold_action(self) -> NDArray[np.float32]:
        """The action that keeps the arm and gripper where they are commanded to be."""
        if self.config.action_mode == "delta_pose":
            return np.array([0.0] * 6 + [self._width_cmd], dtype=np.float32)
        pose = [*self._pos_cmd, *rot6d_from_matrix(self._rot_cmd), self._width_cmd]
        return np.array(pose, dtype=np.float32)

    def tcp_pose(self) -> tuple[F64, F64]:
        """Measured grip-site position (3,) and rotation (3, 3) in the base frame."""
        data = self._suite.sim.data
        pos = np.array(data.site_xpos[self._eef_site], dtype=np.float64)
        rot = np.array(data.site_xmat[self._eef_site], dtype=np.float64).reshape(3, 3)
        return self._base_rot.T @ (pos - self._base_pos), self._base_rot.T @ rot

    # ------------------------------------------------------------------ internals
    def _target(self, action: F64) -> tuple[F64, F64, float]:
        """Decode and clip an action into a base-frame target pose and a gripper width."""
        mode = self.config.action_mode
        if action.shape != (ACTION_DIMS[mode],):
            raise ValueError(
                f"{mode} actions have shape ({ACTION_DIMS[mode]},), got {action.shape}"
            )
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action must be finite, got {action}")
        if mode == "abs_pose":
            pos, rot, width = action[:3], matrix_from_rot6d(action[3:9]), action[9]
        else:
            pos = self._pos_cmd + action[:3]
            rot = matrix_from_axis_angle(action[3:6]) @ self._rot_cmd
            width = action[6]
        pos = np.clip(pos, -POSITION_LIMIT_M, POSITION_LIMIT_M)
        return pos, rot, float(np.clip(width, 0.0, PANDA_MAX_OPENING_M))

    def _gripper_command(self, width: float) -> float:
        """robosuite's command (+1 closes, -1 opens, 0 holds) moving its target towards `width`."""
        target = 1.0 - 2.0 * width / PANDA_MAX_OPENING_M  # in robosuite's units, +1 = closed
        now = -float(self._gripper.current_action[0])  # its finger-1 target: -1 closed .. +1 open
        error = target - now
        if abs(error) < self._gripper.speed / 2:
            return 0.0
        return float(np.sign(error))

    def _gripper_target_width(self) -> float:
        """The opening robosuite's gripper command currently asks for (m)."""
        return float((1.0 + self._gripper.current_action[0]) / 2 * PANDA_MAX_OPENING_M)

    def _set_render_flags(self) -> bool:
        """Shadows and reflections per the config; True if a flag had to change."""
        import mujoco

        flags = self._suite.sim._render_context_offscreen.scn.flags
        wanted = {
            mujoco.mjtRndFlag.mjRND_SHADOW: self.config.shadows,
            mujoco.mjtRndFlag.mjRND_REFLECTION: self.config.reflections,
        }
        changed = False
        for flag, on in wanted.items():
            if bool(flags[flag]) != on:
                flags[flag] = int(on)
                changed = True
        return changed

    def _is_success(self) -> bool:
        return bool(self._suite._check_success())

    def _upright(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return np.ascontiguousarray(image[::-1]) if self._opengl_images else image

    def _observe(self, suite_obs: Mapping[str, NDArray[Any]]) -> Obs:
        obs: Obs = {
            key: self._upright(suite_obs[f"{camera}_image"]) for key, camera in CAMERAS.items()
        }
        pos, rot = self.tcp_pose()
        fingers = suite_obs[f"{self._robot.robot_model.naming_prefix}gripper_qpos"]
        obs["proprio.ee_pose"] = np.concatenate([pos, rot6d_from_matrix(rot)]).astype(np.float32)
        obs["proprio.gripper"] = np.array([fingers[0] - fingers[1]], dtype=np.float32)
        joints = suite_obs[f"{self._robot.robot_model.naming_prefix}joint_pos"]
        obs["proprio.joints"] = np.asarray(joints, dtype=np.float32)
        return obs

    def _make_gl_current(self) -> None:
        """Make this env's GL context current before robosuite renders.

        robosuite renders into whichever context is current (it makes its own current only when
        created), so with a second env, a mujoco.Renderer or a closed env in the process, its
        images would come from the wrong context, or none.
        """
        if self._closed:
            raise RuntimeError("the env is closed")
        self._suite.sim._render_context_offscreen.gl_ctx.make_current()


class RobosuiteLiftEnv(RobosuiteEnv):
    config_cls = RobosuiteLiftConfig


class RobosuiteStackEnv(RobosuiteEnv):
    config_cls = RobosuiteStackConfig


class RobosuiteSquareEnv(RobosuiteEnv):
    config_cls = RobosuiteSquareConfig


def _seed_samplers(sampler: Any, rng: np.random.Generator) -> None:
    """Point a placement sampler (and those a composite sampler holds) at `rng`."""
    if sampler is None:
        return
    sampler.rng = rng
    for child in getattr(sampler, "samplers", {}).values():
        _seed_samplers(child, rng)
