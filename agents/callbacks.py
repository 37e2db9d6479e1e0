"""Callbacks for stable-baselines3 and sb3-contrib runs on rrm_gym envs.

:class:`CostLogger` logs the safe-RL cost beside the reward: every env's ``info["cost"]``
summed over its episode, and the mean over the episodes that ended since the last log, as
``rollout/ep_cost_mean`` (TensorBoard, stdout, CSV: wherever the model's logger writes), with
``rollout/cost_rate`` (cost per step). PPO and MaskablePPO log no cost of their own; the
PPO-Lagrangian logs its cost and multiplier itself.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback


class CostLogger(BaseCallback):
    """Accumulates ``info["cost"]`` per env and episode; logs the mean episode cost at each rollout's end."""

    def __init__(self, window: int = 100, verbose: int = 0) -> None:
        super().__init__(verbose)
        self._running: np.ndarray | None = None
        self._steps = 0
        self._cost = 0.0
        self.episode_costs: deque[float] = deque(maxlen=window)

    def _on_step(self) -> bool:
        infos = self.locals["infos"]
        dones = np.asarray(self.locals["dones"], dtype=bool)
        cost = np.array([float(info.get("cost", 0.0)) for info in infos])
        if self._running is None:
            self._running = np.zeros(len(infos))
        self._running += cost
        self._steps += len(infos)
        self._cost += float(cost.sum())
        for i in np.flatnonzero(dones):
            self.episode_costs.append(float(self._running[i]))
            self._running[i] = 0.0
        return True

    def _on_rollout_end(self) -> None:
        if self.episode_costs:
            self.logger.record("rollout/ep_cost_mean", self.mean_episode_cost())
        if self._steps:
            self.logger.record("rollout/cost_rate", self._cost / self._steps)

    def mean_episode_cost(self) -> float:
        """Mean cost of the last ``window`` episodes that ended (NaN before the first)."""
        return float(np.mean(self.episode_costs)) if self.episode_costs else float("nan")
