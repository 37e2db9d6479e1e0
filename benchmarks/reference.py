"""The reference every speed benchmark is compared with, timed in the same process run."""

from __future__ import annotations

import time

import gymnasium as gym


def cartpole_steps_per_s(steps: int = 20000) -> float:
    """Random-action steps per second of gymnasium's CartPole-v1."""
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    env.action_space.seed(0)
    t = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t)
