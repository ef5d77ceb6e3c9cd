"""time_inference through a clock the test moves: each encoder, denoiser step and the rest
of the call advance it by known amounts, so the split is checked exactly."""

from __future__ import annotations

import pytest
import torch

import policies.timing as timing_module
from policies import make_policy
from policies.timing import time_inference, timed_parts
from tests.launch.fake_clock import FakeClock
from tests.policies.conftest import IO, fit_data, make_batch, tiny_policy_config


@pytest.mark.parametrize("name", ["diffusion", "bc"])
def test_the_split_adds_up_to_what_each_part_spent(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(timing_module, "time", clock.as_time_module())
    torch.manual_seed(0)
    policy = make_policy(tiny_policy_config(name), IO)
    policy.fit_normalizer(fit_data())
    costs = {"vision": 0.002, "touch": 0.003, "head": 0.001}
    for part, modules in timed_parts(policy).items():
        for module in modules:  # registered first: runs inside the timed span
            module.register_forward_hook(lambda *_, s=costs[part]: clock.advance(s))
    original = policy.predict_action_chunk
    rest = iter([0.0007, 0.0007, 0.0007, 0.0001, 0.0003, 0.0002, 0.0005, 0.0004])

    def call(obs):  # type: ignore[no-untyped-def]
        clock.advance(next(rest))
        return original(obs)

    policy.predict_action_chunk = call  # type: ignore[method-assign]
    obs = {k: v for k, v in make_batch(1, policy.config).items() if k != "action"}
    result = time_inference(policy, obs, repeats=5, warmup=3)
    head_calls = policy.config.inference_steps if name == "diffusion" else 1
    assert [m.__class__.__name__ for m in timed_parts(policy)["touch"]] == ["ConvEncoder"]
    assert result.parts_p50_ms["vision"] == pytest.approx(2.0)
    assert result.parts_p50_ms["touch"] == pytest.approx(3.0)
    assert result.parts_p50_ms["head"] == pytest.approx(1.0 * head_calls)
    assert result.parts_p50_ms["other"] == pytest.approx(0.3)  # median of the timed five
    assert result.p50_ms == pytest.approx(5.0 + head_calls + 0.3)
    assert result.p99_ms == pytest.approx(5.0 + head_calls + 0.5, abs=0.01)
    assert result.calls == 5
    assert all(not m._forward_pre_hooks for m in policy.modules())  # timing removed its hooks
