"""[run]: how `vitac run` drives a trained policy in real time on the sim twin (wall clock).

    [run]
    checkpoint = "runs/demo/train/best"   # or --checkpoint
    episodes = 3
    join = "ensemble"                     # switch | ensemble | rtc; left out: the checkpoint's
    [run.streams."rgb.scene"]            # per observation key; others: every sim step
    rate_hz = 10
    latency_ms = 30
    jitter_ms = 5
    [run.inject]                          # faults, for tests and benchmarks
    latency_ms = 100

A stream's `max_age_ms` (how old its newest frame may be before the arm holds) defaults to
two of its periods plus its latency and jitter.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from launch.executor import Join
from policies.base import PolicyConfig
from policies.inference import InferenceConfig

Vec3 = tuple[float, float, float]
DEFAULT_ENSEMBLE_K = 0.01  # without one from the launch file or the checkpoint


class StreamSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_hz: float | None = Field(
        None, gt=0, description="frames per second, at most the sim's step rate; None: every step"
    )
    latency_ms: float = Field(0.0, ge=0, le=5000, description="exposure -> delivery")
    jitter_ms: float = Field(0.0, ge=0, le=1000, description="extra delay, uniform in [0, jitter)")
    max_age_ms: float | None = Field(
        None, gt=0, description="older than this, the stream counts as stopped and the arm "
        "holds; None: two periods + latency + jitter",
    )  # fmt: skip

    def max_age_s(self, step_hz: float) -> float:
        if self.max_age_ms is not None:
            return self.max_age_ms / 1000.0
        period = 1.0 / min(self.rate_hz or step_hz, step_hz)
        return 2.0 * period + (self.latency_ms + self.jitter_ms) / 1000.0


class SafetySection(BaseModel):
    """[run.safety]: the supervisor's limits (launch/action_safety.py); None keeps the default
    of the task's kind (arm or gantry)."""

    model_config = ConfigDict(extra="forbid")

    max_joint_speed: float | None = Field(None, gt=0, description="rad/s (arm) or m/s (gantry)")
    max_tcp_speed: float | None = Field(None, gt=0, description="m/s of the tool centre point")
    max_jump: float | None = Field(
        None, gt=0, description="rad (arm) or m (gantry) between a command and the measured joints"
    )
    workspace_low: Vec3 | None = Field(None, description="m; None: the task's workspace")
    workspace_high: Vec3 | None = Field(None, description="m; None: the task's workspace")


class InjectSection(BaseModel):
    """Faults injected on purpose (tests, `vitac bench run`)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0.0, ge=0, le=10_000, description="added to every inference call")
    spike_ms: float = Field(0.0, ge=0, le=10_000, description="added once, to the first "
                            "inference call at or after spike_at_s")  # fmt: skip
    spike_at_s: float = Field(1.0, ge=0, description="seconds into the episode")
    stop_stream: str | None = Field(None, description="an observation key whose device stops")
    stop_at_s: float = Field(1.0, ge=0, description="seconds into the episode")

    def stop(self) -> tuple[str, float] | None:
        """(stream, seconds) of the stopping device, for `SimRig.begin`; None without one."""
        return None if self.stop_stream is None else (self.stop_stream, self.stop_at_s)


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(
        None, description="the trained policy's checkpoint directory (--checkpoint overrides)"
    )
    episodes: int = Field(1, ge=1, description="episodes; episode i uses seed + i")
    seed: int = Field(100_000, ge=0, description="the first episode's seed")
    max_seconds: float | None = Field(
        None, gt=0, description="an episode's wall-time limit; None: the task's max_steps at its "
        "control rate, plus one second",
    )  # fmt: skip
    join: Join | None = Field(
        None,
        description="how chunks join: switch to the newest, ACT's ensemble, or real-time "
        "chunking (diffusion and flow policies: each chunk inpainted to agree with the last); "
        "None: as the checkpoint joins them in lockstep (its policy.rtc: rtc, its "
        "temporal_ensemble: ensemble, else switch)",
    )
    ensemble_k: float | None = Field(
        None, ge=0, description="k of exp(-k i), i = 0 the oldest chunk; None: the "
        "checkpoint's temporal_ensemble k, else 0.01",
    )  # fmt: skip
    rtc_guidance: float = Field(
        0.0, ge=0, le=100, description="rtc: 0 replaces the committed slots of every step's "
        "clean estimate (inpainting); > 0 RTC's gradient guidance, its weight clipped at "
        "this value (the paper's beta = 5), one backward pass per denoising step",
    )  # fmt: skip
    inference: InferenceConfig = Field(
        default_factory=InferenceConfig,
        description="how the policy runs (n_action_steps, precision, compile, diffusion steps)",
    )
    streams: dict[str, StreamSection] = Field(
        default_factory=dict, description="observation key -> its modelled device"
    )
    stale_command_ms: float = Field(
        150.0, gt=0, description="the sim arm holds when the newest command is older than this"
    )
    safety: SafetySection = Field(default_factory=SafetySection)
    inject: InjectSection = Field(default_factory=InjectSection)
    record: bool = Field(True, description="record every episode to <out>/episodes.zarr")

    @model_validator(mode="after")
    def _no_step_ensemble(self) -> RunConfig:
        if self.inference.temporal_ensemble is not None:
            raise ValueError(
                "inference.temporal_ensemble is the lockstep policy's; in real time set "
                "join = 'ensemble' and ensemble_k"
            )
        if self.inference.rtc:
            raise ValueError(
                "inference.rtc is the lockstep policy's; in real time set join = 'rtc'"
            )
        return self

    def chunk_join(self, policy: PolicyConfig) -> tuple[Join, float]:
        """(join, ensemble_k): the launch file's, and where it leaves them out, how the
        checkpoint's policy joins its chunks in lockstep, so a policy trained and evaluated
        with rtc or an ensemble runs in real time the way it was measured."""
        lockstep: Join = (
            "rtc" if policy.rtc else "switch" if policy.temporal_ensemble is None else "ensemble"
        )
        k = self.ensemble_k if self.ensemble_k is not None else policy.temporal_ensemble
        return self.join or lockstep, DEFAULT_ENSEMBLE_K if k is None else k

    def resolved(self, policy: PolicyConfig) -> RunConfig:
        """This config with `join` and `ensemble_k` as `chunk_join` reads them."""
        join, k = self.chunk_join(policy)
        return self.model_copy(update={"join": join, "ensemble_k": k})
