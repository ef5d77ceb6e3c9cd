"""Policy inference beside the control loop: a thread that, when asked, aligns the newest
observation window, runs the policy (on the GPU when it lives there) and hands back a
timestamped chunk, while the loop goes on executing the previous one.

One request at a time: the loop asks (`request`) only when the worker is idle, and collects
the finished chunk with `take`. A stream that is stale or missing at the observation time
comes back as the DeviceError it raised (`take` raises it), never as a chunk made from old
frames. Latency can be injected (a constant per call and a one-off spike) to test the loop
against slow inference.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from drivers.base import DeviceError
from launch.executor import TimedChunk
from policies.base import Policy
from sensing.aligner import Aligner, observation_times


class InferenceWorker:
    def __init__(
        self,
        policy: Policy,
        aligner: Aligner,
        dt: float,
        extra_latency_s: float = 0.0,
        spike: tuple[float, float] | None = None,
        guidance: float = 0.0,
    ) -> None:
        """`aligner` over the policy's inputs; `dt` the policy's step (s); `spike`: (seconds
        into the episode, extra seconds) added once to the first call at or after it;
        `guidance`: how committed actions are matched (`Policy.plan`)."""
        self.policy, self.aligner, self.dt, self.guidance = policy, aligner, dt, guidance
        self.keys: Sequence[str] = list(policy.io.obs_shapes)
        self.extra_latency_s, self.spike = extra_latency_s, spike
        self.latencies: list[float] = []  # seconds, observation time -> chunk ready
        self._lock = threading.Lock()
        self._asked = threading.Condition(self._lock)
        self._request: float | None = None
        self._committed: tuple[np.ndarray, np.ndarray] | None = None
        self._result: TimedChunk | DeviceError | None = None
        self._busy = False
        self._stop = False
        self._thread = threading.Thread(target=self._main, name="inference", daemon=True)
        self._thread.start()
        self.begin(0.0)

    def begin(self, t_start: float) -> None:
        """A new episode whose every stream has a frame at monotonic t_start: forget the
        base frames and chunks; observation times before t_start are read at t_start (the
        first frame stands in for the history, as `Policy.select_action` pads it)."""
        with self._lock:
            self._base: dict[str, np.ndarray] | None = None
            self._t_start, self._spiked, self._index = t_start, self.spike is None, 0
            self._result, self.latencies = None, []

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._busy and self._result is None

    def request(self, now: float, committed: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Plan a chunk from the observation window ending at `now` (the worker must be
        idle), agreeing with `committed` (`Policy.plan`) when given."""
        with self._lock:
            if self._busy or self._result is not None:
                raise RuntimeError("an inference request is already in flight")
            self._request, self._committed, self._busy = now, committed, True
            self._asked.notify()

    def take(self) -> TimedChunk | None:
        """The finished chunk, once (None while busy or idle); raises a stream's DeviceError."""
        with self._lock:
            result, self._result = self._result, None
        if isinstance(result, DeviceError):
            raise result
        return result

    def expected_latency(self, window: int = 5) -> float:
        """The largest of the last `window` latencies (s): what the next call should take."""
        return max(self.latencies[-window:], default=0.0)

    def close(self) -> None:
        with self._lock:
            self._stop = True
            self._asked.notify()
        self._thread.join(timeout=10.0)

    def warm_up(self, now: float) -> float:
        """One call on the current frames before the episode (cold start: allocator, kernels,
        compilation); its seconds. Run it while the arm holds, so a slow first call never
        delays a chunk that is needed."""
        started = time.monotonic()
        try:
            self._plan(now, count=False)
        except DeviceError:
            raise
        except Exception as err:  # the policy cannot run on these inputs: say so, in a line
            raise DeviceError(f"inference (warm-up): {err!r}") from err
        return time.monotonic() - started

    def _injected(self, now: float) -> float:
        extra = self.extra_latency_s
        if self.spike is not None and not self._spiked and now - self._t_start >= self.spike[0]:
            extra += self.spike[1]
            self._spiked = True
        return extra

    def _main(self) -> None:
        while True:
            with self._lock:
                while self._request is None and not self._stop:
                    self._asked.wait()
                if self._stop or self._request is None:
                    return
                now, self._request = self._request, None
                committed = self._committed
            try:
                result: TimedChunk | DeviceError = self._plan(now, count=True, committed=committed)
            except DeviceError as err:
                result = err
            except Exception as err:  # the policy failed (out of memory, a bug): the loop
                result = DeviceError(f"inference: {err!r}")  # holds and says so; never hangs
            with self._lock:
                self._result, self._busy = result, False

    def _plan(
        self, now: float, count: bool, committed: tuple[np.ndarray, np.ndarray] | None = None
    ) -> TimedChunk:
        times = observation_times(now, self.policy.config.n_obs_steps, self.dt)
        aligned = self.aligner.observe([max(t, self._t_start) for t in times])
        window = {k: aligned.frames[k] for k in self.keys}  # (T_o, ...) each
        if self._base is None:  # the episode's first frames: the reference of base inputs
            self._base = {k: aligned.frames[k][0] for k in self.policy.config.base_frame_keys}
        actions = self.policy.plan(window, self._base, committed, self.guidance)  # (T_p-T_o+1, D_a)
        if count:  # injected latency (never in the warm-up)
            time.sleep(self._injected(now))
        latency = time.monotonic() - now
        t_sensor = min(float(aligned.t_capture[k][-1]) for k in self.keys)
        chunk = TimedChunk(now, self.dt, actions, self._index, latency, t_sensor)
        if count:
            self.latencies.append(latency)
            self._index += 1
        return chunk
