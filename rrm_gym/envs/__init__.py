"""Gymnasium environments: the fast loop (power), the slow loop (channel plan) and both at once."""

from rrm_gym.envs.core import RRMEnv
from rrm_gym.envs.fast import FastLoopEnv
from rrm_gym.envs.joint import JointEnv
from rrm_gym.envs.registration import ENV_IDS, register_envs
from rrm_gym.envs.slow import SlowLoopEnv
from rrm_gym.envs.vector import FastLoopVectorEnv, SlowLoopVectorEnv
from rrm_gym.envs.wrappers import SafetyGymnasiumWrapper

__all__ = [
    "ENV_IDS",
    "FastLoopEnv",
    "FastLoopVectorEnv",
    "JointEnv",
    "RRMEnv",
    "SafetyGymnasiumWrapper",
    "SlowLoopEnv",
    "SlowLoopVectorEnv",
    "register_envs",
]
