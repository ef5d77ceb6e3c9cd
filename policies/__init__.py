"""Torch models: encoders, policies, normaliser and the checkpoint format.

Imports torch only: a policy sees dicts of tensors keyed by observation names and never
a driver, a sensor stream or a simulator.
"""

from policies.base import ACTION_KEY, Policy, PolicyConfig, PolicyIO
from policies.bc import BCConfig, BCPolicy
from policies.checkpoint import load_policy, read_checkpoint_config, save_checkpoint
from policies.diffusion import DiffusionConfig, DiffusionPolicy
from policies.errors import CheckpointError
from policies.registry import POLICIES, make_policy, policy_config_from_dict

__all__ = [
    "ACTION_KEY",
    "POLICIES",
    "BCConfig",
    "BCPolicy",
    "CheckpointError",
    "DiffusionConfig",
    "DiffusionPolicy",
    "Policy",
    "PolicyConfig",
    "PolicyIO",
    "load_policy",
    "make_policy",
    "policy_config_from_dict",
    "read_checkpoint_config",
    "save_checkpoint",
]
