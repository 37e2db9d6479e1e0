"""One agent for channel and power, every fast period."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rrm_gym.config import Scenario
from rrm_gym.envs.core import RRMEnv, multi_discrete
from rrm_gym.sim import Sensing


class JointEnv(RRMEnv):
    """Channel (and width) and transmit power of every AP, one decision per fast period.

    **Action space** — ``MultiDiscrete(nvec)`` of length ``2 N``: first one slot index per AP
    (as :class:`SlowLoopEnv`), then one power-level index per AP (as :class:`FastLoopEnv`).
    Channel and power go to the event loop as separate requests, so the shield judges each on
    its own and ``action_masks()`` (length ``sum(nvec)``) is exact per choice; channel changes
    past the channel-change budget are deferred, not charged (:class:`SlowLoopEnv`).

    **Observation space**, **reward**, **cost**, **starting state** — as :class:`FastLoopEnv`.

    **Episode end** — never terminates; truncated after ``episode_steps`` periods (default 60).

    **Arguments** — as :class:`FastLoopEnv`, without ``slow_policy``.
    """

    controls_channel = True
    controls_power = True
    agent_loop = "joint"

    def __init__(self, scenario: str | Path | Scenario = "office", *, episode_steps: int = 60, **kwargs: Any) -> None:
        super().__init__(scenario, episode_steps=episode_steps, **kwargs)
        self.action_space = multi_discrete(self._channel_nvec() + self._power_nvec())
        self.observation_space = self._observation_space()

    def _act_and_run(self, action: np.ndarray) -> tuple[Sensing, list, list, Counter]:
        n = self.num_aps
        self._submit_channels(action[:n], loop=self.agent_loop)
        self._submit_powers(action[n:], loop=self.agent_loop)
        return self._run(self.fast_period_s)
