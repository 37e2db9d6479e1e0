"""Wrappers for other RL tooling."""

from __future__ import annotations

from typing import Any

import gymnasium as gym


class SafetyGymnasiumWrapper(gym.Wrapper):
    """Safety-Gymnasium convention: ``step`` returns ``(obs, reward, cost, terminated, truncated, info)``
    with the cost taken from ``info["cost"]``."""

    def step(self, action: Any) -> tuple[Any, float, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, float(info["cost"]), terminated, truncated, info
