"""The one contract every policy implements, and the step-by-step actor built on it.

A policy sees dicts of tensors keyed by observation names (`rgb.scene`, `proprio.ee_pos`,
...) with a leading (B, T_o) and returns action chunks (B, T_p, D_a) in data units. The
window convention is diffusion_policy's: action t of a chunk belongs to the same time step
as observation t, so after seeing T_o observations the actions to execute are
chunk[T_o - 1 : T_o - 1 + T_a].
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn

from policies.action_frame import (
    POSITION_DIMS,
    RELATIVE_PREFIX,
    relative_inputs,
    to_absolute,
    to_relative,
)

if TYPE_CHECKING:
    from policies.timing import InferenceTiming

ACTION_KEY = "action"


@dataclass(frozen=True)
class Guide:
    """What real-time chunking asks of a new chunk: `actions` (B, T_p, D_a) in data units
    (absolute), to be matched with `weights` (T_p,) in [0, 1] (1: exactly, 0: free): the
    actions the robot will have executed from the previous chunk by the time this one
    arrives, and a decaying overlap after them."""

    actions: Tensor
    weights: Tensor
    guidance: float = 0.0  # 0: replacement inpainting; > 0: gradient guidance clipped here


BASE_PREFIX = "base."  # "base.<key>": the episode's first frame of image stream <key>


class PolicyConfig(BaseModel):
    """Hyper-parameters shared by every policy; subclasses add their own and a `name`."""

    model_config = ConfigDict(extra="forbid")

    name: str
    n_obs_steps: int = Field(2, ge=1, description="T_o: observation frames per decision")
    horizon: int = Field(10, ge=1, description="T_p: actions predicted per chunk")
    n_action_steps: int = Field(8, ge=1, description="T_a: actions executed per chunk")
    temporal_ensemble: float | None = Field(
        None,
        ge=0,
        description="None: execute T_a actions per chunk; k: predict every step and execute "
        "the average of every chunk's action for now, weights exp(-k i), i = 0 the oldest (ACT)",
    )
    rtc: bool = Field(
        False,
        description="lockstep real-time chunking: each chunk is sampled to agree with what is "
        "left of the previous one (inpainted under RTC's soft mask, `rtc_weights`), so chunks "
        "drawn one after another keep to one plan; diffusion (ddim) and flow policies only",
    )
    relative_to: str | None = Field(
        None,
        description="an input whose first 3 numbers are the measured TCP position (e.g. "
        "proprio.ee_pose): the chunk's positions are predicted relative to it at the current "
        "frame (policies/action_frame.py); None: absolute",
    )
    relative_scale: float | None = Field(
        None,
        gt=0,
        description="metres, with relative_to: each relative position p is predicted as "
        "s asinh(p / s), so moves below s keep their resolution beside much larger ones "
        "(policies/action_frame.py); None: linear",
    )
    relative_inputs: dict[str, int] = Field(
        default_factory=dict,
        description="with relative_to: input key -> n; the policy also reads the key's first n "
        "numbers (positions, metres) minus relative_to's at the current frame, as input "
        "'relative.<key>' (policies/action_frame.py)",
    )
    base_frame_keys: list[str] = Field(
        default_factory=list,
        description="image inputs whose frame at the episode's start also feeds the policy, "
        "through the same encoder, beside each of the T_o frames (T3's insertion policy gives "
        "its pads the frame taken after the grasp): the reference a press is seen against",
    )
    action_norm: Literal["limits", "gaussian"] = Field(
        "limits",
        description="the action's normalisation: limits ([min, max] -> [-1, 1], as "
        "diffusion_policy) or gaussian (mean 0, std 1: the rare large moves of an approach "
        "do not set the scale of the small ones)",
    )

    @property
    def can_inpaint(self) -> bool:
        """Whether the policy's chunk can be sampled to agree with given actions (rtc)."""
        return False

    @model_validator(mode="after")
    def _chunk_fits(self) -> PolicyConfig:
        if self.rtc and self.temporal_ensemble is not None:
            raise ValueError("rtc and temporal_ensemble join chunks two ways: set one of them")
        if self.rtc and not self.can_inpaint:
            raise ValueError(f"rtc inpaints a sampled chunk: a {self.name} policy cannot "
                             "(diffusion with the ddim sampler, or flow)")  # fmt: skip
        if self.relative_to is None and (self.relative_scale or self.relative_inputs):
            raise ValueError(
                "relative_scale and relative_inputs are relative to relative_to: set it too"
            )
        bad = {k: n for k, n in self.relative_inputs.items() if not 1 <= n <= POSITION_DIMS}
        if bad:
            raise ValueError(
                f"relative_inputs: each key's count of position numbers must be 1 to "
                f"{POSITION_DIMS} (x, y, z); got {bad}"
            )
        if self.n_obs_steps - 1 + self.n_action_steps > self.horizon:
            raise ValueError(
                f"n_obs_steps - 1 + n_action_steps must be <= horizon "
                f"(got {self.n_obs_steps} - 1 + {self.n_action_steps} > {self.horizon})"
            )
        if self.rtc and self.n_obs_steps - 1 + self.n_action_steps == self.horizon:
            raise ValueError("rtc joins a chunk to what is left of the last: n_obs_steps - 1 + "
                             "n_action_steps must be < horizon, leaving some")  # fmt: skip
        return self


class PolicyIO(BaseModel):
    """What the policy reads and writes, taken from the dataset schema at training time."""

    model_config = ConfigDict(extra="forbid")

    obs_shapes: dict[str, tuple[int, ...]]  # key -> per-frame shape; images are (H, W, C)
    image_keys: list[str]  # images: (H, W, C) uint8 colour, or (H, W) uint16 depth (mm)
    action_dim: int = Field(ge=1)

    @model_validator(mode="after")
    def _images_known(self) -> PolicyIO:
        unknown = sorted(set(self.image_keys) - set(self.obs_shapes))
        if unknown:
            raise ValueError(f"image_keys {unknown} are not in obs_shapes")
        return self

    @property
    def depth_keys(self) -> list[str]:
        """The image keys that are depth maps: (H, W), uint16 millimetres."""
        return [k for k in self.image_keys if len(self.obs_shapes[k]) == 2]

    @property
    def lowdim_keys(self) -> list[str]:
        return sorted(k for k in self.obs_shapes if k not in self.image_keys)


class Policy(nn.Module, ABC):
    """Base class: subclasses implement `compute_loss` and `predict_action_chunk`."""

    def __init__(self, config: PolicyConfig, io: PolicyIO) -> None:
        super().__init__()
        self.config = config
        self.io = io
        self._obs_queue: deque[dict[str, Tensor]] = deque(maxlen=config.n_obs_steps)
        self._base: dict[str, Tensor] = {}  # the episode's first frame of base_frame_keys
        self._action_queue: deque[np.ndarray] = deque()
        self._ensemble: deque[tuple[int, np.ndarray]] = deque()  # (step made, actions from it)
        self._steps = 0
        self._generator: torch.Generator | None = None
        self._last_plan: np.ndarray | None = None  # rtc: the newest chunk (T_p - T_o + 1, D_a)

    @abstractmethod
    def compute_loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        """batch: obs keys (B, T_o, ...) and `action` (B, T_p, D_a) -> scalar loss."""

    @abstractmethod
    def predict_action_chunk(
        self,
        obs: Mapping[str, Tensor],
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
        guide: Guide | None = None,
    ) -> Tensor:
        """obs keys (B, T_o, ...) -> actions (B, T_p, D_a) in data units. A sampling policy
        starts from `noise` when given, else draws it (`initial_noise`) from `generator`
        (torch's global one when None), and inpaints `guide` when given (real-time
        chunking); a deterministic policy ignores noise and refuses a guide."""

    @property
    def can_inpaint(self) -> bool:
        """Whether `predict_action_chunk` takes a guide (real-time chunking)."""
        return self.config.can_inpaint

    def initial_noise(
        self, obs: Mapping[str, Tensor], generator: torch.Generator | None = None
    ) -> Tensor | None:
        """The noise a sampling policy starts a chunk from; None for a deterministic one."""
        return None

    def fit_normalizer(
        self, data: Mapping[str, np.ndarray], chunks: Mapping[str, Tensor] | None = None
    ) -> None:
        """Fit normalisation statistics from training data: key -> (N, ...) arrays (the
        action's never-varying dimensions pinned to their value); none without a normalizer.
        With `relative_to`, the action's come from `chunks`: every training window's action
        (W, T_p, D_a) and `relative_to` input (W, T_o, ...)."""
        normalizer = getattr(self, "normalizer", None)
        if normalizer is None:
            return
        fit = {k: data[k] for k in normalizer.keys if not k.startswith(RELATIVE_PREFIX)}
        if self.config.relative_to is not None:
            if chunks is None:
                raise ValueError("policy.relative_to: fitting the normaliser needs the windows")
            actions = self.training_actions(chunks)  # (W, T_p, D_a)
            fit[ACTION_KEY] = actions.reshape(-1, actions.shape[-1]).double().numpy()
            for key, values in self.relative_inputs(chunks).items():  # (W, T_o, n)
                fit[key] = values.reshape(-1, values.shape[-1]).double().numpy()
        gaussian = (ACTION_KEY,) if self.config.action_norm == "gaussian" else ()
        normalizer.fit(fit, pin=(ACTION_KEY,), gaussian=gaussian)

    def relative_inputs(self, obs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The derived inputs of `relative_inputs`: "relative.<key>" (B, T_o, n); obs keys
        (B, T_o, ...), the current frame last."""
        cfg = self.config
        return relative_inputs(obs, cfg.relative_to, cfg.relative_inputs, cfg.relative_scale)

    def training_actions(self, batch: Mapping[str, Tensor]) -> Tensor:
        """batch[action] (B, T_p, D_a) in the frame the network predicts (`relative_to`)."""
        actions = batch[ACTION_KEY].float()
        if self.config.relative_to is None:
            return actions
        return to_relative(actions, batch, self.config.relative_to, self.config.relative_scale)

    def absolute_actions(self, obs: Mapping[str, Tensor], chunk: Tensor) -> Tensor:
        """A predicted chunk (B, T_p, D_a) back in data units' absolute frame."""
        if self.config.relative_to is None:
            return chunk
        return to_absolute(chunk, obs, self.config.relative_to, self.config.relative_scale)

    def load_pretrained(self) -> None:
        """Load pretrained components from their own checkpoints (a new run calls this once,
        after `fit_normalizer`); a policy without any does nothing."""
        observations = getattr(self, "observations", None)
        if observations is not None:
            observations.load_pretrained()

    def configure_sampling(self) -> None:
        """Rebuild whatever depends on sampling settings of `self.config` after they changed
        (a deployment override); a policy without any does nothing."""

    def time_inference(self, obs: Mapping[str, Tensor], repeats: int = 50) -> InferenceTiming:
        """p50/p99 of one obs -> chunk call and its split (vision, touch, head, other)."""
        from policies.timing import time_inference

        return time_inference(self, obs, repeats)

    def reset(self, seed: int | None = None) -> None:
        """Forget the observation history and any queued actions (call at episode start).
        With a seed, the episode's chunks draw their noise from a generator seeded with it,
        so an episode acts the same whichever process runs it and whatever ran before."""
        self._obs_queue.clear()
        self._base = {}
        self._action_queue.clear()
        self._ensemble.clear()
        self._steps = 0
        self._generator = None
        self._last_plan = None
        if seed is not None:
            device = next(self.parameters()).device
            self._generator = torch.Generator(device=device).manual_seed(seed)

    @torch.inference_mode()
    def select_action(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """One step of closed-loop control: a single observation (no batch or time axis)
        in, the next action (D_a,) out. Re-plans whenever the queued chunk runs out, or
        every step with temporal ensembling."""
        device = next(self.parameters()).device
        frame = {k: torch.as_tensor(np.asarray(obs[k]), device=device) for k in self.io.obs_shapes}
        if not self._obs_queue:  # episode start: pad the history with the first frame
            self._obs_queue.extend([frame] * self.config.n_obs_steps)
            self._base = {
                BASE_PREFIX + k: frame[k][None, None] for k in self.config.base_frame_keys
            }
        else:
            self._obs_queue.append(frame)
        self._steps += 1
        if self.config.temporal_ensemble is not None:
            return self._ensembled(self.config.temporal_ensemble)
        if not self._action_queue:
            plan = self._plan(self._leftover())
            self._action_queue.extend(plan[: self.config.n_action_steps])
            self._last_plan = plan if self.config.rtc else None
        return self._action_queue.popleft()

    @torch.inference_mode()
    def plan(
        self,
        window: Mapping[str, np.ndarray],
        base: Mapping[str, np.ndarray] | None = None,
        committed: tuple[np.ndarray, np.ndarray] | None = None,
        guidance: float = 0.0,
    ) -> np.ndarray:
        """The chunk from the current frame on, (T_p - T_o + 1, D_a) float32, from an
        observation window: per input (T_o, ...) oldest first, and per `base_frame_keys`
        input the episode's first frame (...). What a real-time loop calls with aligned
        frames; `select_action` calls it with its own history. `committed`: (actions (N,
        D_a), weights (N,)) for the chunk's first N slots from the current frame, which it
        should agree with (real-time chunking: a `Guide`), by replacement (`guidance` 0) or
        gradient guidance clipped at `guidance`."""
        device = next(self.parameters()).device
        stacked = {  # (1, T_o, ...)
            k: torch.as_tensor(np.asarray(window[k]), device=device)[None]
            for k in self.io.obs_shapes
        }
        for key in self.config.base_frame_keys:  # (1, 1, ...)
            frame = (base or {}).get(key)
            if frame is None:
                raise ValueError(f"the policy reads {key}'s first frame of the episode: give it")
            stacked[BASE_PREFIX + key] = torch.as_tensor(np.asarray(frame), device=device)[
                None, None
            ]
        guide = None if committed is None else self._guide(*committed, guidance)
        return self._chunk_ahead(stacked, guide)

    def _guide(self, actions: np.ndarray, weights: np.ndarray, guidance: float) -> Guide:
        """Actions (N, D_a) from the current frame on, absolute, and their weights (N,) as a
        guide over the whole chunk (`plan`'s committed ones, rtc's leftover): the slots before
        the current frame, and past N, are free."""
        device = next(self.parameters()).device
        first, horizon = self.config.n_obs_steps - 1, self.config.horizon
        n = min(len(actions), horizon - first)
        full = np.repeat(np.asarray(actions[:1], np.float32), horizon, axis=0)  # (T_p, D_a)
        full[first : first + n] = actions[:n]
        w = np.zeros(horizon, np.float32)  # (T_p,)
        w[first : first + n] = weights[:n]
        return Guide(torch.as_tensor(full, device=device)[None], torch.as_tensor(w, device=device),
                     guidance)  # fmt: skip

    def _plan(self, guide: Guide | None = None) -> np.ndarray:
        """The current chunk from now on: (T_p - T_o + 1, D_a) float32."""
        stacked = {  # (1, T_o, ...)
            k: torch.stack([f[k] for f in self._obs_queue])[None] for k in self.io.obs_shapes
        }
        return self._chunk_ahead(stacked | self._base, guide)  # base: (1, 1, ...) each

    def _leftover(self) -> Guide | None:
        """With rtc, what the last chunk planned past its T_a executed actions, as the guide
        of the next: RTC's soft mask with nothing pinned (in lockstep a chunk is ready at the
        step it is planned for), free from H - T_a on. None for an episode's first chunk."""
        if not self.config.rtc or self._last_plan is None:
            return None
        left = self._last_plan[self.config.n_action_steps :]  # (H - T_a, D_a) from now on
        return self._guide(left, rtc_weights(len(left), 0, len(left)), 0.0) if len(left) else None

    def _chunk_ahead(self, stacked: Mapping[str, Tensor], guide: Guide | None = None) -> np.ndarray:
        if guide is None:  # (a policy written before guides takes no such argument)
            chunk = self.predict_action_chunk(stacked, self._generator)[0]  # (T_p, D_a)
        else:
            chunk = self.predict_action_chunk(stacked, self._generator, guide=guide)[0]
        ahead: np.ndarray = chunk[self.config.n_obs_steps - 1 :].cpu().numpy()
        return np.asarray(ahead, dtype=np.float32)

    def _ensembled(self, k: float) -> np.ndarray:
        """Every chunk still covering this step votes for it, the oldest weighted most."""
        now = self._steps
        self._ensemble.append((now, self._plan()))
        while now - self._ensemble[0][0] >= len(self._ensemble[0][1]):
            self._ensemble.popleft()  # its actions end before this step
        votes = np.stack([actions[now - made] for made, actions in self._ensemble])  # (n, D_a)
        return ensemble_vote(votes, k)


def ensemble_vote(votes: np.ndarray, k: float) -> np.ndarray:
    """ACT's temporal ensemble: votes (n, D_a) for one instant, the oldest chunk's first,
    averaged with weights exp(-k i) -> (D_a,) float32 (k = 0: a plain mean)."""
    weights = np.exp(-k * np.arange(len(votes)))  # (n,) oldest first
    action: np.ndarray = (weights @ votes / weights.sum()).astype(np.float32)
    return action


def rtc_weights(n: int, frozen: int, end: int) -> np.ndarray:
    """RTC's soft mask (Black et al. 2025) over a new chunk's first n slots -> (n,) float32:
    1 for the `frozen` slots that run before the chunk can take over, then c (e^c - 1) /
    (e - 1) with c falling linearly to 0 at `end` (H - s: the chunk's length less the
    actions executed per chunk), 0 from there on."""
    k = np.arange(n)
    c = np.clip((end - k) / max(end - frozen + 1, 1), 0.0, 1.0)
    soft = c * np.expm1(c) / np.expm1(1.0)
    weights: np.ndarray = np.where(k < frozen, 1.0, np.where(k < end, soft, 0.0))
    return weights.astype(np.float32)


def module_key(key: str) -> str:
    """An observation key as a module name (`rgb.scene` -> `rgb__scene`; names cannot hold '.')."""
    return key.replace(".", "__")
