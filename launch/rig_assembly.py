"""The rig a launch file asks for: the sim twin in wall-clock time, or, with a [rig] section,
the real devices (launch/real_rig.py); and the supervisor's plan for its task's actions.

Everything a real rig can refuse is refused before a device is opened: camera streams the
task's twin does not have or cannot take, a policy input no device gives, sim-only
settings ([run.streams] delay models, an injected stopping device), an action the arm cannot
take. Opening a device that is missing or fails is a DeviceError naming it.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pydantic import BaseModel

from drivers.pushed import StreamModel
from drivers.spec import FieldSpec
from launch.action_safety import SafetyPlan, plan_safety
from launch.config import ConfigError
from launch.jobs import TaskSchema, check_policy_fits_schema, check_policy_fits_task, task_schema
from launch.launch_file import Launch
from launch.real_rig import ARM_KEYS, RealRig
from launch.rig_plan import RealSenseSection, RigSection
from launch.rig_streams import Rig
from launch.run_plan import RunConfig
from policies.base import ACTION_KEY, PolicyIO
from sim import make_env
from sim.rig import ExpertBuilder, SimRig

MODELLED = ("rate_hz", "latency_ms", "jitter_ms")  # [run.streams] keys of the sim's devices


def sim_rig(launch: Launch, config: RunConfig, expert: ExpertBuilder | None = None) -> SimRig:
    """The launch file's task as a wall-clock rig with [run.streams]' devices."""
    models = {
        key: StreamModel(s.rate_hz, s.latency_ms / 1000.0, s.jitter_ms / 1000.0)
        for key, s in config.streams.items()
    }
    name, task_cfg = launch.config.task.name, launch.task_config
    try:
        return SimRig(lambda: make_env(name, task_cfg), models, config.stale_command_ms / 1000.0,
                      config.seed, expert)  # fmt: skip
    except ValueError as err:
        raise ConfigError(f"{launch.source}: run.streams: {err}") from None


def make_rig(
    launch: Launch, config: RunConfig, checkpoint: Path | None = None, io: PolicyIO | None = None
) -> Rig:
    """The sim twin, or the [rig]'s devices connected; with a policy reading `io`'s inputs
    (`checkpoint`: named in errors), refused unless the rig gives them."""
    section, name = launch.config.rig, launch.config.task.name
    if section is None:
        if checkpoint is not None and io is not None:
            check_policy_fits_task(checkpoint, io, name, launch.task_config)
        rig = sim_rig(launch, config)
        try:
            check_streams(config, set(rig.streams), launch.source)
        except ConfigError:
            rig.close()
            raise
        return rig
    twin = task_schema(name, launch.task_config)
    observations = check_real_rig(section, config, twin, launch.source)
    if checkpoint is not None and io is not None:
        schema = observations | twin.actions
        check_policy_fits_schema(checkpoint, io, schema, f"the [rig] of {launch.source}")
    plan = safety_plan(observations, twin.actions, launch.task_config, config, launch.source)
    limits = plan.limits(1.0 / twin.control_hz)
    return RealRig(section, twin.observations, twin.actions, twin.control_hz, limits)


def check_real_rig(
    section: RigSection, config: RunConfig, twin: TaskSchema, source: str
) -> dict[str, FieldSpec]:
    """The observations the rig gives (the twin's layout); ConfigError for what it cannot."""
    action = twin.actions[ACTION_KEY]
    if action.sensor != "abs_pose":
        raise ConfigError(
            f"{source}: rig.arm: the arm takes a tool pose per action (the twin's 'abs_pose' "
            f"actions); this task's are {action.sensor!r} {action.shape}"
        )
    for name, camera in section.cameras.items():
        for key in camera.observations():
            if key not in twin.observations:
                raise ConfigError(
                    f"{source}: rig.cameras.{name}: the task's twin has no observation {key!r} "
                    f"(it has {sorted(twin.observations)})"
                )
            spec, depth = twin.observations[key], getattr(camera, "depth", None) == key
            want = "a depth image (H, W) uint16" if depth else "a colour image (H, W, 3) uint8"
            fits = (len(spec.shape) == 2 and spec.dtype == "uint16") if depth else (
                len(spec.shape) == 3 and spec.shape[2] == 3 and spec.dtype == "uint8")  # fmt: skip
            if not fits:
                kind = "realsense" if isinstance(camera, RealSenseSection) else "tactile"
                raise ConfigError(
                    f"{source}: rig.cameras.{name}: {key!r} is {spec.shape} {spec.dtype} in the "
                    f"twin; a {kind} stream gives {want}"
                )
    keys = [*section.camera_keys(), *(k for k in ARM_KEYS if k in twin.observations)]
    for key, stream in config.streams.items():
        if key not in keys:
            raise ConfigError(f"{source}: run.streams: no device gives {key!r} (the rig gives "
                              f"{sorted(keys)})")  # fmt: skip
        modelled = [
            f for f in ("rate_hz", "latency_ms", "jitter_ms") if f in stream.model_fields_set
        ]
        if modelled:
            raise ConfigError(
                f"{source}: run.streams.{key}: {', '.join(modelled)} model the sim twin's "
                "devices; a real rig's are measured (only max_age_ms applies)"
            )
    if config.inject.stop_stream is not None:
        raise ConfigError(f"{source}: run.inject.stop_stream: a stopping device is a fault of "
                          "the sim twin; unplug the real one")  # fmt: skip
    return {k: twin.observations[k] for k in keys}


def check_streams(config: RunConfig, keys: Collection[str], source: object) -> None:
    stop = config.inject.stop_stream
    if stop is not None and stop not in keys:
        raise ConfigError(
            f"{source}: run.inject.stop_stream: no observation {stop!r}; the task has "
            f"{sorted(keys)}"
        )


def safety_plan(
    observations: dict[str, FieldSpec],
    actions: dict[str, FieldSpec],
    task_cfg: BaseModel,
    config: RunConfig,
    source: object,
) -> SafetyPlan:
    """The supervisor's plan for the rig's task; ConfigError naming `source` if it cannot."""
    try:
        return plan_safety(actions[ACTION_KEY], observations, task_cfg, config.safety)
    except ValueError as err:
        raise ConfigError(f"{source}: run.safety: {err}") from None


def rig_safety(rig: Rig, task_cfg: BaseModel, config: RunConfig, source: object) -> SafetyPlan:
    return safety_plan(dict(rig.observation_spec), dict(rig.action_spec), task_cfg, config, source)


def episode_seconds(config: RunConfig, task_cfg: BaseModel, period: float) -> float:
    """run.max_seconds, or the task's step limit at its rate plus a second."""
    return config.max_seconds or getattr(task_cfg, "max_steps", 100) * period + 1.0
