"""Wrappers for other RL tooling."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class SafetyGymnasiumWrapper(gym.Wrapper):
    """Safety-Gymnasium convention: ``step`` returns ``(obs, reward, cost, terminated, truncated, info)``
    with the cost taken from ``info["cost"]``."""

    def step(self, action: Any) -> tuple[Any, float, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, float(info["cost"]), terminated, truncated, info


class SafetyVectorWrapper(gym.vector.VectorWrapper):
    """The vector form of :class:`SafetyGymnasiumWrapper`: ``step`` returns ``(obs, rewards,
    costs, terminated, truncated, infos)``, ``costs`` a ``float64`` array of one cost per
    sub-env taken from ``infos["cost"]`` (0 for a sub-env whose info holds none, such as the
    reset step of next-step autoreset). Works over the natively batched env
    (``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``) and over
    ``SyncVectorEnv`` / ``AsyncVectorEnv`` of single envs alike."""

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        costs = np.zeros(self.num_envs, dtype=np.float64)
        if "cost" in infos:
            given = np.asarray(infos.get("_cost", np.ones(self.num_envs, dtype=bool)), dtype=bool)
            costs[given] = np.asarray(infos["cost"], dtype=np.float64)[given]
        return obs, rewards, costs, terminated, truncated, infos
