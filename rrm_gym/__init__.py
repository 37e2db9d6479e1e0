"""rrm_gym: Wi-Fi radio resource management as a reinforcement-learning problem."""

__version__ = "0.1.0"
