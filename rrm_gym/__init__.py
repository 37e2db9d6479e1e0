"""rrm_gym: Wi-Fi radio resource management as a reinforcement-learning problem."""

from rrm_gym.envs.registration import register_envs

__version__ = "0.4.2"

register_envs()
