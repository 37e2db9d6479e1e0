"""The fast loop: transmit power of every AP, every minute."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rrm_gym.config import Scenario
from rrm_gym.envs.core import Policy, RRMEnv, check_policy, multi_discrete
from rrm_gym.sim import Sensing


class FastLoopEnv(RRMEnv):
    """Transmit-power control of every AP of a WLAN, one decision per fast period.

    **Action space** — ``MultiDiscrete(nvec)``, one entry per AP. With ``power_mode="level"``
    (default) the entry is the index of a power level in that AP's ascending list
    ``env.power_levels[i]`` (dBm: its maximum and 3 dB steps below it, its minimum and its
    initial power). With ``power_mode="step"`` every entry is 0 (one level down, about
    -3 dB), 1 (hold) or 2 (one level up), as a TPC algorithm moves.
    Each change becomes a change request through the event loop: the shield may clip it to the
    sub-band EIRP limit (MODIFIED) or refuse it (REJECTED, e.g. cooldown). ``action_masks()``
    (length ``sum(nvec)``) is true exactly for the choices the shield would accept now.

    **Observation space** — ``Dict``: ``ap_features`` ``Box(0, 1, (N, 17))`` (channel, band,
    width, power, clients, offered load, throughput, satisfaction, CCA busy mean/max, airtime,
    retry rate, non-Wi-Fi duty, on DFS, silent in CAC, mean and weakest client SNR — see
    ``rrm_gym.envs.observation.AP_FEATURES``), ``neighbor_rssi`` ``Box(0, 1, (N, N))`` (RSSI at
    AP i of AP j, (dBm + 100) / 70, 0 when not heard), ``channel_scan`` ``Box(0, 1, (N, C))``
    (strongest unmanaged AP each AP hears on each 20 MHz channel of the domain, same scale;
    ``rrm_gym.envs.observation.scan_channels``), ``time_of_day`` ``Box(-1, 1, (2,))`` (sine,
    cosine) and ``channel_budget`` ``Box(0, 1, (1,))``: the share of the network's APs that may
    still change channel now (the shield's channel-change budget, :class:`SlowLoopEnv`; times
    the number of APs it is a count). Everything else is what a controller measures over the
    last period. With
    ``channel_onehot=True`` also ``current_channel`` ``Box(0, 1, (N, S))``: each AP's current
    channel choice one-hot over its choices (:class:`SlowLoopEnv`'s encoding, S the most choices
    of an AP).

    **Reward** — network experience over the period, from what a controller's telemetry gives
    (per-client throughput, latency and application class). ``"experience"`` (default, nats):
    the mean over clients with traffic of ``ln(clip(throughput / need, 0.01, cap)) - ln(1 +
    latency / bound)``, where an inelastic application's need is the load it offered (cap 1) and
    an elastic (bulk) flow's is its good-service rate of 10 Mb/s (cap: its own rate limit over
    that, no latency term); bound is the application's latency bound (call 50 ms, web 100 ms,
    video 200 ms). 0 is a light network serving everyone with short queues; it falls as service
    falls short or queues grow, so it moves from light to saturated load
    (:func:`rrm_gym.sim.sensing.client_utility`). Options: ``"pf"`` the mean over active
    clients of ln(throughput in Mb/s, floored at 0.01); ``"throughput"`` mean client throughput
    (Mb/s); ``"p5"`` 5th-percentile client throughput (Mb/s). ``info["kpi"]`` holds all of
    them and the service-level shares, p95 latency and elastic throughput
    (:meth:`rrm_gym.sim.Sensing.kpis`).

    **Cost** — ``info["cost"]``, the weighted sum of ``info["cost_terms"]``: shield rejections
    (1) and modifications (0.5) of this env's requests, rollbacks of this env's changes (1), DFS
    and EIRP violation seconds counted by the compliance monitor (10 each; zero by construction).
    Channel changes deferred by the channel-change budget are counted in ``shield_deferred``
    with weight 0 by default (not charged; ``cost_weights={"shield_deferred": w}`` charges them).
    ``info["rollbacks"]`` counts every rollback of the period, the other loop's included.

    **Info** — numbers are numpy scalars (``float64`` or ``int64``) and arrays have fixed
    shapes, so any library can read their dtype: ``cost``, ``cost_terms``, ``kpi``,
    ``compliance``, ``shield`` (this env's requests by outcome: ``APPLIED``, ``MODIFIED``,
    ``REJECTED``, ``DEFERRED``), ``events``, ``rollbacks``, ``audit_records`` (audit records
    written in the period), ``channel_changes_left`` (the channel-change budget left for the
    next action, a count of APs), ``action_mask`` and ``sim_time_s``; with ``info_audit_ids=True``
    also ``audit_ids``, the list of those records' ids (its length varies from step to step).

    **Starting state** — a fresh draw of the scenario (clients, shadowing, interferer and radar
    schedules) from the reset seed, its initial channel plan and powers, after one quiet period.

    **Episode end** — never terminates; truncated after ``episode_steps`` periods (default 60:
    one hour of one-minute periods).

    **Arguments** — ``scenario`` (packaged name, YAML path or Scenario), ``slow_policy``
    (callable ``(obs, info) -> channel choices`` in :class:`SlowLoopEnv`'s encoding, called every
    slow period; default: keep the scenario's plan), ``episode_steps``, ``fast_period_s`` and
    ``slow_period_s`` (default from the scenario), ``power_mode`` (``"level"`` or ``"step"``),
    ``reward``, ``cost_weights``,
    ``allow_width`` (channel choices include widths up to each AP's maximum), ``channel_onehot``
    (add ``current_channel`` to the observation), ``event_loop``
    (``EventLoopConfig``; by default the loop reacts to radar and non-Wi-Fi interference but
    leaves saturation to the agent), ``audit_key`` / ``audit_path`` (file audit log),
    ``info_audit_ids``, ``render_mode`` (``"rgb_array"`` or ``"ansi"``).

    ``gymnasium.make_vec("rrm_gym/FastLoop-v2", num_envs=B)`` gives the natively batched
    :class:`~rrm_gym.envs.FastLoopVectorEnv` (B networks in one simulation).

    ``env.unwrapped.sim`` is the simulation and ``env.unwrapped.event_loop`` the event loop
    (inject events with ``inject_dfs_event`` and friends).
    """

    controls_power = True
    agent_loop = "fast"
    POWER_MODES = ("level", "step")

    def __init__(
        self,
        scenario: str | Path | Scenario = "office",
        *,
        slow_policy: Policy | None = None,
        episode_steps: int = 60,
        power_mode: str = "level",
        **kwargs: Any,
    ) -> None:
        if not isinstance(power_mode, str) or power_mode not in self.POWER_MODES:
            raise ValueError(f"power_mode must be one of {self.POWER_MODES}, got {power_mode!r}")
        check_policy("slow_policy", slow_policy)
        super().__init__(scenario, episode_steps=episode_steps, **kwargs)
        self.slow_policy = slow_policy
        self.power_mode = power_mode
        nvec = self._power_nvec() if power_mode == "level" else [3] * self.num_aps
        self.action_space = multi_discrete(nvec)
        self.observation_space = self._observation_space()

    def _step_targets(self, steps: np.ndarray) -> np.ndarray:
        """Level indices reached by steps of -1 / 0 / +1 from each AP's current level, [N]."""
        cur = self.current_power_action()
        top = np.array([len(p) - 1 for p in self.power_levels])
        return np.clip(cur + np.asarray(steps) - 1, 0, top)

    def step_towards(self, levels: np.ndarray) -> np.ndarray:
        """The step action (0 down, 1 hold, 2 up) that moves each AP's power towards the level
        indices ``levels`` ``[N]`` (a level policy's choice in the step encoding)."""
        return np.clip(np.asarray(levels) - self.current_power_action(), -1, 1) + 1

    def action_masks(self) -> np.ndarray:
        if self.power_mode == "level":
            return super().action_masks()
        level_masks = self._mask_power()
        cur = self.current_power_action()
        out = np.zeros((self.num_aps, 3), dtype=bool)
        for ap in range(self.num_aps):
            out[ap, 1] = True  # holding is always accepted
            for step, idx in ((0, cur[ap] - 1), (2, cur[ap] + 1)):
                out[ap, step] = 0 <= idx < len(self.power_levels[ap]) and bool(level_masks[ap][idx])
        return out.ravel()

    def _act_and_run(self, action: np.ndarray) -> tuple[Sensing, list, list, Counter]:
        per_slow = self.slow_period_s // self.fast_period_s
        if self.slow_policy is not None and self._steps % per_slow == 0:
            # the slow policy sees the mask of its own encoding (SlowLoopEnv's), not the power mask
            info = {**self._info, "action_mask": np.concatenate(self._mask_channel())}
            choice = self._policy_action(self.slow_policy, self._channel_nvec(), "slow_policy", info)
            self._submit_channels(choice, loop="slow")
        levels = action if self.power_mode == "level" else self._step_targets(action)
        self._submit_powers(levels, loop=self.agent_loop)
        return self._run(self.fast_period_s)
