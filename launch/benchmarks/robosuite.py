"""robosuite Lift steps/s with two 84x84 cameras: the peer figure for the arm tasks' speed.

`measure_robosuite_lift` times, in one fresh process:
- raw robosuite 1.5 Lift (Panda, its default OSC_POSE delta controller) with the `agentview`
  and `robot0_eye_in_hand` cameras at `image_size`, shadows AND reflections off (scene flags of
  the offscreen context), hold actions (zero delta, gripper 0);
- vitac's adapter (`sim.robosuite_adapter.RobosuiteLiftEnv`, abs_pose, the same cameras and
  flags) with its hold action, so the adapter's overhead over raw robosuite is measured too.
Both run `warmup` untimed steps first (numba's JIT compile, the first GL frames); resets are not
timed. numba is on (robosuite's default, `VITAC_ROBOSUITE_NUMBA=1`): the peer runs as robosuite
ships it, at its best after the warm-up.

robosuite needs numpy<2 and mujoco<3.10, so it usually lives in `.venv-robosuite`, not in the
interpreter calling this: the measurement runs in a subprocess of this interpreter when it has
robosuite, else of `.venv-robosuite/bin/python`. The subprocess loads this file by path (not
through `launch.benchmarks`, whose other benchmarks need the main venv) and prints one JSON
line that the caller parses.
With neither, the result is None and `unavailable_reason()` says why.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
ROBOSUITE_VENV_PYTHON = REPO_ROOT / ".venv-robosuite" / "bin" / "python"
CAMERAS = ("agentview", "robot0_eye_in_hand")
WARMUP_STEPS = 10
# Run `main` of this file in a fresh interpreter without importing the `launch` package.
_WORKER = (
    "import importlib.util, sys; "
    "spec = importlib.util.spec_from_file_location('vitac_robosuite_bench', sys.argv[1]); "
    "module = importlib.util.module_from_spec(spec); sys.modules[spec.name] = module; "
    "spec.loader.exec_module(module); raise SystemExit(module.main(sys.argv[2:]))"
)


@dataclass(frozen=True)
class RobosuiteLiftSpeed:
    """Steps per second of robosuite Lift, raw and through vitac's adapter, in one process."""

    raw_steps_per_s: float  # robosuite's env.step, two cameras
    adapter_steps_per_s: float  # RobosuiteLiftEnv.step, the same cameras
    steps: int  # timed steps of each
    image_size: int  # camera image side, pixels
    shadows: bool  # always False: shadows off
    reflections: bool  # always False: reflections off
    numba: bool  # robosuite's ENABLE_NUMBA in the measuring process
    robosuite_version: str
    mujoco_version: str
    python: str  # the interpreter that measured

    @property
    def adapter_overhead(self) -> float:
        """Adapter time per step over raw robosuite's, minus 1 (0.1 = 10% slower)."""
        return self.raw_steps_per_s / self.adapter_steps_per_s - 1.0


def robosuite_python() -> Path | None:
    """The interpreter to measure with: this one if it has robosuite, else the robosuite venv's."""
    if _has_robosuite():
        return Path(sys.executable)
    return ROBOSUITE_VENV_PYTHON if ROBOSUITE_VENV_PYTHON.is_file() else None


def _has_robosuite() -> bool:
    return importlib.util.find_spec("robosuite") is not None


def unavailable_reason(python: Path | None = None) -> str | None:
    """Why robosuite Lift cannot be measured (None when it can)."""
    if python is None and robosuite_python() is None:
        return (
            f"robosuite is not installed in {sys.executable} and {ROBOSUITE_VENV_PYTHON} does not "
            "exist: run `make robosuite-venv`"
        )
    if python is not None and not python.is_file():
        return f"no Python interpreter at {python}"
    return None


def measure_robosuite_lift(
    steps: int, image_size: int = 84, *, python: Path | None = None, timeout_s: float = 900.0
) -> RobosuiteLiftSpeed | None:
    """Raw and adapter steps/s of robosuite Lift (see the module docstring); None without robosuite.

    Raises RuntimeError when the measuring process fails (its stderr's end in the message).
    """
    if steps < 1 or image_size < 16:
        raise ValueError(f"need steps >= 1 and image_size >= 16, got {steps}, {image_size}")
    reason = unavailable_reason(python)
    if reason is not None:
        _LOG.warning("robosuite Lift not measured: %s", reason)
        return None
    interpreter = python or robosuite_python()
    assert interpreter is not None  # unavailable_reason() said so
    command = [str(interpreter), "-c", _WORKER, __file__, "--steps", str(steps)]
    command += ["--image-size", str(image_size)]
    env = {
        **os.environ,
        "VITAC_ROBOSUITE_NUMBA": "1",
        "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
    }
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"measuring robosuite Lift with {interpreter} failed (exit {done.returncode}):\n"
            f"{done.stderr[-2000:]}"
        )
    return parse_result(done.stdout)


def parse_result(stdout: str) -> RobosuiteLiftSpeed:
    """The result from the measuring process's output: its last line that is a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            fields: dict[str, Any] = json.loads(line)
            return RobosuiteLiftSpeed(**fields)
    raise RuntimeError(f"no JSON result in the robosuite measurement's output: {stdout[-500:]!r}")


# ---------------------------------------------------------------------- the measuring process
def measure_here(steps: int, image_size: int) -> RobosuiteLiftSpeed:
    """Measure in this process (it must have robosuite); see the module docstring."""
    import mujoco
    import numpy as np

    from sim.robosuite_adapter import RobosuiteLiftEnv, import_robosuite

    suite = import_robosuite()
    raw = suite.make(
        "Lift",
        robots="Panda",
        has_renderer=False,
        has_offscreen_renderer=True,
        use_camera_obs=True,
        camera_names=list(CAMERAS),
        camera_heights=image_size,
        camera_widths=image_size,
        control_freq=20,
        ignore_done=True,
        hard_reset=False,
    )
    try:
        raw.reset()
        flags = raw.sim._render_context_offscreen.scn.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        hold = np.zeros(raw.action_dim)
        raw_rate = _steps_per_s(lambda: raw.step(hold), steps)
    finally:
        raw.close()
    adapter = RobosuiteLiftEnv({"image_size": image_size, "horizon": steps + WARMUP_STEPS + 1})
    try:
        adapter.reset(seed=0)
        adapter_rate = _steps_per_s(lambda: adapter.step(adapter.hold_action()), steps)
    finally:
        adapter.close()
    return RobosuiteLiftSpeed(
        raw_steps_per_s=raw_rate,
        adapter_steps_per_s=adapter_rate,
        steps=steps,
        image_size=image_size,
        shadows=False,
        reflections=False,
        numba=bool(suite.macros.ENABLE_NUMBA),
        robosuite_version=str(suite.__version__),
        mujoco_version=str(mujoco.__version__),
        python=sys.executable,
    )


def _steps_per_s(step: Any, steps: int) -> float:
    for _ in range(WARMUP_STEPS):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=84)
    args = parser.parse_args(argv)
    result = measure_here(args.steps, args.image_size)
    print(json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
