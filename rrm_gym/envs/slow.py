"""The slow loop: the channel plan, every hour."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rrm_gym.config import Scenario
from rrm_gym.envs.core import Policy, RRMEnv, check_policy, multi_discrete
from rrm_gym.sim import Sensing


class SlowLoopEnv(RRMEnv):
    """Channel planning (channel and, where the scenario allows, width) of every AP, one
    decision per slow period, with a fast-loop power policy running inside.

    **Action space** — ``MultiDiscrete(nvec)``, one entry per AP: the index of a slot in
    ``env.slots[i]`` (slot ids of ``rrm_gym.radio.regulatory.SLOTS``: channel-width pairs legal
    in the domain, in the radio's band and up to its maximum width). Each change becomes a
    change request through the event loop; moving onto a DFS channel silences the AP for its
    channel availability check (60 s, 600 s on ETSI weather channels). ``action_masks()`` is
    true exactly for the slots the shield would accept for that AP now (legal, not barred after
    radar, not in cooldown).

    **Channel-change budget** — at most ``max_channel_changes`` APs (a quarter of the network's
    APs by default, at least one; ``ShieldConfig.max_channel_change_frac``) change channel at
    one instant. ``obs["channel_budget"]`` and ``info["channel_changes_left"]`` say how many
    may change with the next action (fewer than the budget when the event loop itself moved
    APs at this instant). The action's changes are requested AP by AP, lowest index first;
    those past the budget are **deferred**: the AP keeps its channel, ``info["shield"]
    ["DEFERRED"]`` counts them and the audit log records them as ``DEFERRED``, and they are
    not charged. To choose which APs move, request only those. So an agent that follows
    ``action_masks()`` has no shield rejections; it has no modifications either unless a
    radio's power is above a sub-band's EIRP limit (clipped on a move there; no packaged
    scenario has such a radio).

    **Observation space** — as :class:`FastLoopEnv`, measured over the last fast period.

    **Reward** — as :class:`FastLoopEnv`, over the whole slow period (client throughput averaged
    over it).

    **Cost** — as :class:`FastLoopEnv`, for this env's (slow-loop) requests, summed over the period.

    **Starting state** — as :class:`FastLoopEnv`.

    **Episode end** — never terminates; truncated after ``episode_steps`` periods (default 24:
    one day of one-hour periods).

    **Arguments** — as :class:`FastLoopEnv`, with ``fast_policy`` (callable ``(obs, info) ->
    power levels`` in :class:`FastLoopEnv`'s encoding, called every fast period inside the slow
    period; default: hold power) instead of ``slow_policy``.

    ``gymnasium.make_vec("rrm_gym/SlowLoop-v2", num_envs=B)`` gives the natively batched
    :class:`~rrm_gym.envs.SlowLoopVectorEnv` (B networks in one simulation).
    """

    controls_channel = True
    agent_loop = "slow"

    def __init__(
        self,
        scenario: str | Path | Scenario = "office",
        *,
        fast_policy: Policy | None = None,
        episode_steps: int = 24,
        **kwargs: Any,
    ) -> None:
        check_policy("fast_policy", fast_policy)
        super().__init__(scenario, episode_steps=episode_steps, **kwargs)
        self.fast_policy = fast_policy
        self.action_space = multi_discrete(self._channel_nvec())
        self.observation_space = self._observation_space()

    def _act_and_run(self, action: np.ndarray) -> tuple[Sensing, list, list, Counter]:
        self._submit_channels(action, loop=self.agent_loop)
        spans, results, audit_ids, events = [], [], [], Counter()
        for _ in range(self.slow_period_s // self.fast_period_s):
            if self.fast_policy is not None:
                info = {**self._info, "action_mask": np.concatenate(self._mask_power())}
                choice = self._policy_action(self.fast_policy, self._power_nvec(), "fast_policy", info)
                self._submit_powers(choice, loop="fast")
            s, r, ids, ev = self._run(self.fast_period_s)
            # the fast policy sees each fast period as it would in FastLoopEnv
            self._sensing = s
            self._obs = self._observe()
            spans.append(s)
            results += r
            audit_ids += ids
            events.update(ev)
        return Sensing.concat(spans), results, audit_ids, events
