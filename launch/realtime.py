"""The real-time loop of `vitac run`: sensors -> aligner -> policy -> executor -> arm, on the
wall clock.

    rig streams -> capture threads -> ring buffers -> aligner ─┬─> inference worker (thread)
                                                               │        │ timestamped chunks
    control tick (absolute deadlines, the task's rate) <───────┴── executor (switch | ensemble
        -> watchdog (every stream fresh, every capture alive)          | rtc)
        -> safety supervisor -> rig: command, or hold

At every tick the loop (1) checks that every stream delivered a frame within its max age
(the aligner at `now`): a stale or stopped device holds the arm at once and ends the
episode, naming the device, with what was recorded so far kept; (2) takes a finished chunk
(a policy that failed comes back as a device error, handled the same way); (3) sends the
executor's action for now through the safety supervisor, or holds when there is none
(never an action whose time has passed); (4) asks for the next chunk early enough to hide
the expected latency (with rtc, asking it to agree with what is committed); (5) records the
tick: every stream's frame, the action sent (NaN when holding) and its latencies. The
episode ends when the task says so (success or its step limit), at the time limit, on the
operator's key or on a device error; any other error still holds the arm and keeps the
episode before it propagates.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.base import DeviceError
from drivers.clock import next_deadline, sleep_until
from drivers.spec import FieldSpec
from launch.action_safety import SafetyPlan, SupervisedActions
from launch.executor import ChunkExecutor, SeamStats, seam_acceleration
from launch.inference_worker import InferenceWorker
from launch.keyboard import EpisodeKeys, Key
from launch.rig_streams import Rig, RigStreams
from launch.run_plan import RunConfig, StreamSection
from policies.base import ACTION_KEY, Policy
from sensing.store import EpisodeWriter

OPERATOR_ENDS = {Key.STOP: "stopped by the operator", Key.RERECORD: "re-record",
                 Key.ABORT: "aborted by the operator"}  # fmt: skip
TIMING_KEYS = ("timing.obs_age_ms", "timing.inference_ms", "timing.tick_late_ms")


def record_schema(rig: Rig) -> dict[str, FieldSpec]:
    """What a run records per tick: every stream, the action sent (NaN while holding), and
    its latencies (ms): the age of the frames behind the command, the inference call that
    made its chunk, the tick's lateness."""
    timing = {k: FieldSpec(shape=(1,), dtype="float32", units="ms") for k in TIMING_KEYS}
    return {**rig.observation_spec, **rig.action_spec, **timing}


def stream_ages(config: RunConfig, rig: Rig) -> dict[str, float]:
    """How old each stream's newest frame may be (s) before the arm holds."""
    step_hz = 1.0 / rig.period
    return {k: config.streams.get(k, StreamSection()).max_age_s(step_hz) for k in rig.streams}


@dataclass
class EpisodeReport:
    seed: int
    ended: str  # "success", "task ended", "time limit" or "device: <what happened>"
    success: bool
    seconds: float
    ticks: int
    sent: int  # ticks that sent an action
    warm_up_ms: float
    sensor_to_command_ms: list[float] = field(default_factory=list)  # per chunk: its newest
    # frames' capture (the oldest stream's) -> its first command sent
    inference_ms: list[float] = field(default_factory=list)
    over_budget: int = 0  # inference calls longer than the control period
    starved: int = 0  # ticks after the first chunk with no action for now: held
    dropped_actions: int = 0  # actions that arrived after their time
    dropped_frames: int = 0  # frames the streams lost (gaps in seq)
    missed_ticks: int = 0  # control deadlines the loop could not serve
    sim_holds: int = 0
    sim_overruns: int = 0
    seams: SeamStats | None = None
    clips: dict[str, int] = field(default_factory=dict)  # the supervisor's, by reason
    held_at: float | None = None  # monotonic time the loop held the arm on a device error
    last_command_t: float = float("-inf")  # the sim's last step that applied a command


class RealtimeRunner:
    """Runs episodes of `policy` on `rig` as `config` says; `writer` records them."""

    def __init__(
        self,
        rig: Rig,
        policy: Policy,
        config: RunConfig,
        safety: SafetyPlan,
        writer: EpisodeWriter | None = None,
        status: Callable[[str], None] | None = None,
        task: str = "",
    ) -> None:
        self.rig, self.policy, self.config, self.writer = rig, policy, config, writer
        self.join, self.ensemble_k = config.chunk_join(policy.config)  # the checkpoint's if unset
        self.safety, self.task = safety, task
        self.status = status
        self.period = rig.period
        self.streams = RigStreams(rig.streams, rig.observation_spec,
                                  stream_ages(config, rig))  # fmt: skip
        inject = config.inject
        try:
            self.worker = InferenceWorker(
                policy.eval(),
                self.streams.aligner(policy.io.obs_shapes),
                self.period,
                inject.latency_ms / 1000.0,
                (inject.spike_at_s, inject.spike_ms / 1000.0) if inject.spike_ms else None,
                config.rtc_guidance,
            )
        except BaseException:
            self.streams.close()
            raise
        self.action_dim = policy.io.action_dim

    def run_episode(
        self, seed: int, max_seconds: float, keys: EpisodeKeys | None = None
    ) -> EpisodeReport:
        """One episode; `keys`: the operator's stop, re-record and abort (launch/keyboard.py).
        A re-recorded episode is dropped from the store; every other one is kept."""
        cfg = self.config
        t_reset = time.monotonic()
        self.rig.begin(seed, cfg.inject.stop())
        try:
            first = self.streams.wait_first_frames(t_reset)
            self.worker.begin(first)
            self.policy.reset(seed)
            warm = self.worker.warm_up(time.monotonic())  # the arm holds: no command yet
            joints = self.safety.view.joints_key
            guard = self.safety.start(self.period, self.streams.latest(joints))
        except BaseException:
            self.rig.end()
            raise
        executor = ChunkExecutor(
            self.period, self.policy.config.n_action_steps, self.join, self.ensemble_k
        )
        report = EpisodeReport(seed, "", False, 0.0, 0, 0, warm * 1000.0)
        dropped_before = self.streams.dropped_frames()
        t_start = time.monotonic()
        failed = True
        try:
            self._loop(report, executor, guard, t_start, max_seconds, keys)
            failed = False
        finally:  # whatever ended it (an error, Ctrl-C): hold, and keep the episode so far
            self.rig.hold()
            report.ended = report.ended or "interrupted"
            report.clips = guard.counts
            report.dropped_frames = self.streams.dropped_frames() - dropped_before
            self._finish(report, executor, time.monotonic() - t_start, failed)
        return report

    def _loop(
        self,
        report: EpisodeReport,
        executor: ChunkExecutor,
        guard: SupervisedActions,
        t_start: float,
        max_seconds: float,
        keys: EpisodeKeys | None,
    ) -> None:
        """Ticks until the episode ends; `report` says how."""
        joints = self.safety.view.joints_key
        horizon = self.policy.config.horizon - self.policy.config.n_obs_steps + 1
        deadline = t_start
        last_status, first_served = t_start, -1
        while True:
            sleep_until(deadline)
            now = time.monotonic()
            late_ms = (now - deadline) * 1000.0
            ended = self._ended(now - t_start, max_seconds, keys)
            if ended:
                report.ended = ended
                break
            try:
                self.rig.check()
                frames = self.streams.observe(now)  # a stale or failed device raises here
                chunk = self.worker.take()
            except DeviceError as err:
                self.rig.hold()  # before anything else: the arm stops within this period
                report.ended, report.held_at = f"device: {err}", time.monotonic()
                break
            if chunk is not None:
                executor.add(chunk, now)
                report.inference_ms.append(chunk.latency_s * 1000.0)
                report.over_budget += chunk.latency_s > self.period
            action = executor.action(now)
            serving = executor.serving(now)
            if action is None or serving is None:
                self.rig.hold()
                sent = np.full(self.action_dim, np.nan, np.float32)
                age = inference = np.nan
            else:
                sent, _ = guard.step(action, frames[joints].astype(np.float64), now)
                self.rig.command(sent, now)
                report.sent += 1
                age = (now - serving.t_sensor) * 1000.0
                inference = serving.latency_s * 1000.0
                if serving.index != first_served:  # the chunk's first command: its reaction
                    report.sensor_to_command_ms.append(age)
                    first_served = serving.index
            expected = self.worker.expected_latency()
            if self.worker.idle and executor.request_due(now, expected):
                rtc = self.join == "rtc"
                self.worker.request(
                    now, executor.committed(now, expected, horizon) if rtc else None
                )
            if self.writer is not None:
                step = frames | {ACTION_KEY: sent}
                timing = (age, inference, late_ms)
                step |= {
                    k: np.array([v], np.float32) for k, v in zip(TIMING_KEYS, timing, strict=True)
                }
                self.writer.add(step, timestamp=now - t_start)
            report.ticks += 1
            deadline, skipped = next_deadline(deadline, self.period)
            report.missed_ticks += skipped
            if self.status is not None and now - last_status >= 1.0:
                self.status(self._status_line(report, now - t_start))
                last_status = now

    def _ended(self, elapsed: float, max_seconds: float, keys: EpisodeKeys | None) -> str:
        key = keys.poll() if keys is not None else None
        if key in OPERATOR_ENDS:
            return OPERATOR_ENDS[key]
        record = self.rig.record
        if record.done:
            return "success" if record.success else "task ended"
        return "time limit" if elapsed >= max_seconds else ""

    def _finish(
        self, report: EpisodeReport, executor: ChunkExecutor, seconds: float, failed: bool
    ) -> None:
        """The episode's account, and its frames committed (dropped when re-recorded). After
        an error (`failed`) the episode is still committed if the store allows it."""
        record = self.rig.end()
        with contextlib.suppress(DeviceError):  # a stopped stream has no chunk to give
            self.worker.take()
        report.success, report.seconds = record.success, seconds
        report.sim_holds, report.sim_overruns = record.holds, record.overruns
        report.last_command_t = record.last_command_t
        report.dropped_actions = executor.dropped
        report.starved = executor.starved
        report.seams = seam_acceleration(executor.executed, self.period, (0, 3))
        with contextlib.suppress(Exception) if failed else contextlib.nullcontext():
            if self.writer is not None and report.ended == OPERATOR_ENDS[Key.RERECORD]:
                self.writer.discard()
            elif self.writer is not None and self.writer.n_steps:
                self.writer.commit(success=report.success, seed=report.seed, task=self.task,
                                   rig=self.rig.kind, notes=report.ended)  # fmt: skip
        if not failed:
            self._wait_idle()

    def _wait_idle(self, timeout_s: float = 30.0) -> None:
        """Let an inference call in flight finish, so the next episode starts clean."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with contextlib.suppress(DeviceError):
                self.worker.take()
            if self.worker.idle:
                return
            time.sleep(0.01)

    def _status_line(self, report: EpisodeReport, elapsed: float) -> str:
        s2c = np.percentile(report.sensor_to_command_ms, 50) if report.sensor_to_command_ms else 0
        inf = report.inference_ms[-1] if report.inference_ms else 0.0
        return (f"{elapsed:5.1f} s  ticks {report.ticks}  sent {report.sent}  "
                f"sensor->command p50 {s2c:.0f} ms  inference {inf:.0f} ms  "
                f"over budget {report.over_budget}")  # fmt: skip

    def close(self) -> None:
        self.worker.close()
        self.streams.close()


def _largest(values: list[float | None]) -> float | None:
    """The largest measured value; None when nothing was measured (not 0: 0 is a figure)."""
    measured = [v for v in values if v is not None]
    return max(measured) if measured else None


def summary(reports: list[EpisodeReport]) -> dict[str, Any]:
    """The figures `vitac run` prints and writes: pooled over episodes."""
    s2c = [x for r in reports for x in r.sensor_to_command_ms]
    inf = [x for r in reports for x in r.inference_ms]
    pct = lambda xs, q: float(np.percentile(xs, q)) if xs else float("nan")  # noqa: E731
    return {
        "episodes": len(reports),
        "successes": sum(r.success for r in reports),
        "sensor_to_command_ms": {"p50": pct(s2c, 50), "p99": pct(s2c, 99)},
        "inference_ms": {"p50": pct(inf, 50), "p99": pct(inf, 99)},
        "over_budget": sum(r.over_budget for r in reports),
        "supervisor_clips": dict(sum((Counter(r.clips) for r in reports), Counter())),
        "starved_ticks": sum(r.starved for r in reports),
        "dropped_actions": sum(r.dropped_actions for r in reports),
        "dropped_frames": sum(r.dropped_frames for r in reports),
        "missed_ticks": sum(r.missed_ticks for r in reports),
        "seams": sum(r.seams.seams for r in reports if r.seams),
        "seam_ticks_measured": sum(r.seams.measured for r in reports if r.seams),
        "seam_acceleration": _largest([r.seams.max_at_seams for r in reports if r.seams]),
        "within_chunk_acceleration": _largest([r.seams.max_within for r in reports if r.seams]),
        "ended": [r.ended for r in reports],
    }
