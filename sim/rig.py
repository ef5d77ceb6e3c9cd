"""The sim twin as a rig in wall-clock time: what `vitac run` drives instead of real devices.

A thread owns the task env (built there, so its GL contexts live in the thread that renders)
and steps it at the task's control rate on absolute deadlines, beside the control loop and
not in lockstep with it: each step applies the newest command the loop sent, or, when there
is none or it is older than `stale_after_s`, the env's hold action (the arm stays where it
is commanded). After each step every observation key is pushed to its device, a
`drivers.pushed.PushedStream` with the key's modelled rate, latency and jitter, so the
capture workers, ring buffers and aligner of a real rig run unchanged. Streams cannot be
faster than the sim's steps.

With a scripted expert (`vitac record` in sim) the expert drives every step from the env's
own observation instead of the loop's commands, and its actions are one more stream.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from drivers.base import DeviceError
from drivers.clock import next_deadline, sleep_until
from drivers.pushed import PushedStream, StreamModel
from drivers.spec import FieldSpec
from sim.expert_base import Expert
from sim.tasks import task_env

ACTION_KEY = "action"  # the key of an expert's actions (the episode store's)
ExpertBuilder = Callable[[gym.Env[Any, Any]], Expert]  # the env -> its scripted expert


@dataclass
class StepRecord:
    """The sim thread's account of an episode."""

    steps: int = 0
    holds: int = 0  # steps with no fresh command: the env's hold action
    last_command_t: float = float("-inf")  # when the last step that applied a command read it
    overruns: int = 0  # steps that took longer than the period (the sim fell behind)
    success: bool = False
    done: bool = False  # terminated or truncated
    unstable: bool = False


class SimRig:
    """See the module docstring. `make_env` builds the task env in the sim thread;
    `models`: per observation key (keys left out stream every step, without latency)."""

    kind = "sim"

    def __init__(
        self,
        make_env: Callable[[], gym.Env[Any, Any]],
        models: dict[str, StreamModel],
        stale_after_s: float,
        seed: int = 0,
        expert: ExpertBuilder | None = None,
    ) -> None:
        """`expert`: builds a scripted expert over the env (in the sim thread); it then
        drives every step from the env's own observation, and its actions are a stream
        too (ACTION_KEY, exposed with the observation they answer): a demonstration."""
        self._make_env, self.stale_after_s = make_env, stale_after_s
        self._expert_factory = expert
        self._commands: tuple[NDArray[np.float32], float] | None = None
        self._lock = threading.Lock()
        self._stop_stream: tuple[str, float] | None = None  # the episode's injected fault
        self._episode: tuple[int, int] | None = None  # (generation, seed) of the episode asked
        self._generation = 0
        self._wake = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._ready = threading.Event()  # the env exists: specs and streams known
        self._started = threading.Event()  # the asked episode has been reset
        self.error: BaseException | None = None
        self.record = StepRecord()
        self._thread = threading.Thread(target=self._main, name="sim-rig", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=120.0) or self.error is not None:
            self.close()
            raise DeviceError(f"sim rig: the task env could not be built: {self.error!r}")
        keys = [*self.observation_spec, *([ACTION_KEY] if expert is not None else [])]
        self.streams = {k: PushedStream(k, models.get(k, StreamModel()), seed + i)
                        for i, k in enumerate(keys)}  # fmt: skip
        unknown = sorted(set(models) - set(self.streams))
        if unknown:
            self.close()
            raise ValueError(f"no observation {unknown}; the task has {sorted(self.streams)}")

    # --- the loop's side -----------------------------------------------------------------------

    def begin(
        self, seed: int, stop: tuple[str, float] | None = None, timeout_s: float = 60.0
    ) -> None:
        """Reset the env for a new episode (in the sim thread) and start stepping it; `stop`:
        (stream, seconds after the reset) the fault of that device stopping mid-episode."""
        if stop is not None and stop[0] not in self.streams:
            raise ValueError(f"no stream {stop[0]!r} to stop; the rig has {sorted(self.streams)}")
        self._stop_stream = stop
        self._started.clear()
        for stream in self.streams.values():
            stream.restart()
        with self._lock:
            self._commands, self._episode = None, (self._generation + 1, seed)
            self._generation += 1
            self.record = StepRecord()
            self._wake.notify_all()
        if not self._started.wait(timeout_s):
            raise DeviceError(f"sim rig: the episode did not start within {timeout_s:.0f} s")
        self.check()

    def command(self, action: NDArray[np.float32], t: float) -> None:
        """The action for the step at or after monotonic time t (newest wins)."""
        with self._lock:
            self._commands = (np.asarray(action, np.float32), t)

    def hold(self) -> None:
        """Hold from the next step on: the env's hold action."""
        with self._lock:
            self._commands = None

    def end(self) -> StepRecord:
        """Stop stepping this episode; its record."""
        with self._lock:
            self._episode, self._commands = None, None
        return self.record

    def check(self) -> None:
        if self.error is not None:
            raise DeviceError(f"sim rig: {self.error!r}")

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._wake.notify_all()
        self._thread.join(timeout=10.0)

    # --- the sim thread --------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            env = self._make_env()
        except Exception as err:
            self.error = err
            self._ready.set()
            return
        try:
            api = task_env(env)
            self.observation_spec: dict[str, FieldSpec] = api.observation_spec()
            self.action_spec: dict[str, FieldSpec] = api.action_spec()
            self.period = 1.0 / api.control_hz
            self._expert = None if self._expert_factory is None else self._expert_factory(env)
            self._ready.set()
            while not self._stop.is_set():
                with self._lock:
                    while self._episode is None and not self._stop.is_set():
                        self._wake.wait()
                    episode = self._episode
                if episode is not None:
                    self._run_episode(env, episode)
        except Exception as err:
            self.error = err
        finally:
            env.close()

    def _run_episode(self, env: gym.Env[Any, Any], episode: tuple[int, int]) -> None:
        obs, _ = env.reset(seed=episode[1])
        if self._expert is not None:
            self._expert.reset(episode[1])
        answer = self._answer(obs)
        self._expose(obs, time.monotonic(), answer)
        self._started.set()
        stop, t_reset = self._stop_stream, time.monotonic()
        deadline = t_reset + self.period
        api, record = task_env(env), self.record
        while not self._stop.is_set():
            sleep_until(deadline)
            with self._lock:
                if self._episode != episode:  # ended, or another one asked for
                    return
                commanded, now = self._commands, time.monotonic()  # read together
            if answer is not None:
                action = answer
            elif commanded is None or now - commanded[1] > self.stale_after_s:
                action, record.holds = api.hold_action(), record.holds + 1
            else:
                action, record.last_command_t = commanded[0], now
            if not record.done:  # after the end the world stands still; the sensors go on
                obs, _, terminated, truncated, info = env.step(action)
                record.steps += 1
                record.success = record.success or bool(info.get("is_success", False))
                record.unstable = record.unstable or bool(info.get("sim_unstable", False))
                record.done = bool(terminated or truncated)
                answer = self._answer(obs)
            if stop is not None and time.monotonic() - t_reset >= stop[1]:
                self.streams[stop[0]].stop()
            self._expose(obs, time.monotonic(), answer)
            deadline, skipped = next_deadline(deadline, self.period)
            record.overruns += bool(skipped)  # the sim fell behind real time

    def _answer(self, obs: dict[str, np.ndarray]) -> NDArray[np.float32] | None:
        """The expert's action for `obs` (None without an expert)."""
        return None if self._expert is None else self._expert.act(obs)

    def _expose(
        self, obs: dict[str, np.ndarray], t: float, action: NDArray[np.float32] | None
    ) -> None:
        values = obs if action is None else {**obs, ACTION_KEY: action}
        for key, stream in self.streams.items():
            stream.expose(values[key], t)
