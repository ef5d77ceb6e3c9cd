"""`TouchInsertionExpert` acts on the observation alone and still inserts the part."""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np
import pytest

from sim.tasks.tactile_insertion import TactileInsertionEnv
from sim.touch_expert import TouchInsertionExpert


class _Hidden:
    """Stands in for MuJoCo's model and data: any use of them fails the test."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the expert read MuJoCo ({name})")


def _blind_env() -> TactileInsertionEnv:
    """An env instance the expert may use for drawings, config and action encoding only."""
    env = TactileInsertionEnv()

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("the expert read privileged state")

    for name in ("privileged_state", "task_state", "tcp_pose", "tactile_readings"):
        setattr(env, name, refuse)
    env.model, env.data = _Hidden(), _Hidden()  # type: ignore[assignment]
    return env


def test_inserts_from_observations_only() -> None:
    """Privileged state raises and MuJoCo is hidden from the expert; it still succeeds."""
    env, blind = TactileInsertionEnv(), _blind_env()
    expert = TouchInsertionExpert(blind)
    results = []
    for seed in (100001, 100002, 100006):  # seeds whose socket estimate is off by 1-2.5 mm
        obs, _ = env.reset(seed=seed)
        expert.reset(seed)
        corrections = []
        for _ in range(env.config.max_steps):
            obs, _, terminated, truncated, _ = env.step(expert.act(obs))
            if (decision := expert.decision()) is not None:
                corrections.append(decision)
            if terminated or truncated:
                break
        results.append(terminated)
        assert len(corrections) == expert.corrections >= 1  # it felt the rim and corrected
        assert all(c.shape == (2,) and 0 < np.abs(c).max() <= 0.003 for c in corrections)
    assert all(results), results
    env.close()


def test_needs_the_observation() -> None:
    expert = TouchInsertionExpert(TactileInsertionEnv())
    with pytest.raises(TypeError, match="act\\(obs\\)"):
        expert.act()
    assert expert.decision() is None


def test_reading_the_images_shortens_the_search() -> None:
    """The same search with and without the touch readout, on the same scenes: reading which
    side the socket is on takes far fewer presses (report: 3-5 against 10-16 a part)."""
    env = TactileInsertionEnv({"part": "vga17"})
    presses: dict[bool, int] = {True: 0, False: 0}
    for read in (True, False):
        expert = TouchInsertionExpert(env, read=read)
        for seed in (100000, 100001, 100002, 100003):
            obs, _ = env.reset(seed=seed)
            expert.reset(seed)
            for _ in range(env.config.max_steps):
                obs, _, terminated, truncated, _ = env.step(expert.act(obs))
                if terminated or truncated:
                    break
            presses[read] += expert.corrections
    assert presses[True] < 0.6 * presses[False], presses
    env.close()


def test_without_memory_each_move_follows_from_one_press(monkeypatch: pytest.MonkeyPatch) -> None:
    """memory=False: every correction starts from a fresh prior and this press alone (the
    default keeps one belief over the whole search)."""
    import sim.touch_expert

    presses: dict[int, int] = {}  # belief id -> presses it was updated with
    real_blocked = sim.touch_expert.SocketBelief.blocked

    def count(self: sim.touch_expert.SocketBelief, *args: Any) -> None:
        presses[id(self)] = presses.get(id(self), 0) + 1
        real_blocked(self, *args)

    monkeypatch.setattr(sim.touch_expert.SocketBelief, "blocked", count)
    env = TactileInsertionEnv({"part": "vga17"})
    for memory in (True, False):
        presses.clear()
        expert = TouchInsertionExpert(env, memory=memory)
        beliefs = []  # kept alive, so that no id is reused
        obs, _ = env.reset(seed=100001)
        expert.reset(100001)
        for _ in range(env.config.max_steps):
            obs, _, terminated, truncated, _ = env.step(expert.act(obs))
            beliefs.append(expert.belief)
            if terminated or truncated:
                break
        assert expert.corrections >= 2
        counts = sorted(presses.values())
        assert counts == ([expert.corrections] if memory else [1] * expert.corrections)
    env.close()


def test_decides_from_the_command_a_policy_sees() -> None:
    """With DART noise, the expert times its decisions by the command the observation reports
    (the action as executed, noise included), not its own noise-free one: at every correction
    the measured TCP stands `block_m` above that command, so a policy that sees the same two
    numbers can tell when the expert decides."""
    env = TactileInsertionEnv({"part": "usb12"})
    expert = TouchInsertionExpert(env, noise_std=0.0003)
    gaps = []  # (measured - reported command) z at each correction, metres
    for seed in (100001, 100002, 100006):
        obs, _ = env.reset(seed=seed)
        expert.reset(seed)
        for _ in range(env.config.max_steps):
            action = expert.act(obs)
            if expert.decision() is not None:
                gaps.append(float(obs["proprio.ee_pose"][2] - obs["proprio.ee_command"][2]))
            obs, _, terminated, truncated, _ = env.step(expert.perturb(action))
            if terminated or truncated:
                break
    assert len(gaps) >= 3, gaps
    assert min(gaps) > expert.block_m, gaps
    env.close()
