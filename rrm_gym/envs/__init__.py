"""Gymnasium environments: the fast loop (power), the slow loop (channel plan) and both at once;
``RRMParallelEnv`` / ``parallel_env`` (each AP an agent) need PettingZoo and load on first use,
and so does ``BatchedVecEnv`` (the batched env as a stable-baselines3 ``VecEnv``; it needs SB3,
hence torch, which nothing else here imports)."""

from typing import Any

from rrm_gym.envs.core import RRMEnv, StepFailedError
from rrm_gym.envs.fast import FastLoopEnv
from rrm_gym.envs.joint import JointEnv
from rrm_gym.envs.registration import ENV_IDS, register_envs
from rrm_gym.envs.slow import SlowLoopEnv
from rrm_gym.envs.vector import FastLoopVectorEnv, JointVectorEnv, SlowLoopVectorEnv
from rrm_gym.envs.wrappers import SafetyGymnasiumWrapper, SafetyVectorWrapper

__all__ = [
    "ENV_IDS",
    "FastLoopEnv",
    "FastLoopVectorEnv",
    "JointEnv",
    "JointVectorEnv",
    "RRMEnv",
    "SafetyGymnasiumWrapper",
    "SafetyVectorWrapper",
    "SlowLoopEnv",
    "SlowLoopVectorEnv",
    "StepFailedError",
    "register_envs",
]


def __getattr__(name: str) -> Any:
    if name in ("RRMParallelEnv", "parallel_env"):
        from rrm_gym.envs import multi_agent

        return getattr(multi_agent, name)
    if name == "BatchedVecEnv":
        from agents.vec_env import BatchedVecEnv

        return BatchedVecEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
