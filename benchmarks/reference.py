"""The reference every speed benchmark is compared with, timed in the same process run."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

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


def fastest_alternating(timers: dict[Hashable, Callable[[], float]], repeats: int) -> dict[Hashable, float]:
    """The fastest of ``repeats`` runs of each timer (each returns its own seconds), the timers
    taking turns so that a slow spell of the machine hits them alike."""
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(repeats):
        for key, timer in timers.items():
            best[key] = min(best[key], timer())
    return best
