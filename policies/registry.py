"""The registry of policy kinds: name -> (config model, policy class).

Every built-in policy is listed here explicitly; nothing registers itself on import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies.base import Policy, PolicyConfig, PolicyIO
from policies.bc import BCConfig, BCPolicy
from policies.diffusion import DiffusionConfig, DiffusionPolicy


@dataclass(frozen=True)
class PolicyKind:
    config_cls: type[PolicyConfig]
    policy_cls: type[Policy]


POLICIES: dict[str, PolicyKind] = {
    "bc": PolicyKind(BCConfig, BCPolicy),
    "diffusion": PolicyKind(DiffusionConfig, DiffusionPolicy),
}


def policy_config_from_dict(data: dict[str, Any]) -> PolicyConfig:
    """Validate a policy config dict, dispatching on its `name`."""
    name = data.get("name")
    if name not in POLICIES:
        raise ValueError(f"unknown policy name {name!r}; available: {sorted(POLICIES)}")
    return POLICIES[name].config_cls.model_validate(data)


def make_policy(config: PolicyConfig, io: PolicyIO) -> Policy:
    return POLICIES[config.name].policy_cls(config, io)
