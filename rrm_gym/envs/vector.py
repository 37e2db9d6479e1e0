"""FastLoop-v2, SlowLoop-v2 and Joint-v2 for many networks in one set of arrays: natively batched vector envs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rrm_gym.checks import check_int
from rrm_gym.config import Scenario
from rrm_gym.envs.core import (
    EVENT_KEYS,
    Policy,
    RRMEnv,
    StepFailedError,
    check_choices,
    check_policy,
    episode_over_message,
    failure_summary,
    network_kpis,
    rewards_of,
    whole_numbers,
)
from rrm_gym.envs.fast import FastLoopEnv
from rrm_gym.envs.joint import JointEnv
from rrm_gym.envs.observation import build_observations, current_channel_onehot
from rrm_gym.envs.slow import SlowLoopEnv
from rrm_gym.radio.regulatory import SLOT_CHANNEL, SLOT_WIDTH_MHZ
from rrm_gym.safety import ChangeRequest, EventLoop, Outcome, ShieldResult, Source
from rrm_gym.sim import Sensing, WirelessSimulation

# networks in one batched env: memory grows with it (a few MB a network on the packaged floors);
# past this a mistyped count would exhaust memory before it could say so
MAX_NUM_ENVS = 4096


class _BatchedRRMEnv(VectorEnv):
    """What the batched envs share: ``num_envs`` networks of one scenario in one simulation and
    one event loop, episodes that start and end together, and the batched info. A single env of
    ``template_class`` checks the arguments and fixes the encodings."""

    template_class: type[RRMEnv] = FastLoopEnv
    other_policy_name: str | None = "slow_policy"  # None: the env sets both loops itself

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 8,
        scenario: str | Path | Scenario = "office",
        *,
        other_policy: Policy | None = None,
        episode_steps: int | None = None,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        num_envs = check_int("num_envs", num_envs, 1, MAX_NUM_ENVS)
        check_policy(self.other_policy_name or "other_policy", other_policy)
        if render_mode is not None:
            raise ValueError("the vector env does not render; make one FastLoop-v2 env to render a network")
        try:
            self.autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            modes = [m.value for m in AutoresetMode]
            raise ValueError(f"autoreset_mode must be one of {modes}, got {autoreset_mode!r}") from None
        if max_episode_steps is not None:  # an alias, as make_vec passes it
            if episode_steps is not None and episode_steps != max_episode_steps:
                raise ValueError(
                    f"episode_steps={episode_steps!r} and max_episode_steps={max_episode_steps!r} disagree: give one"
                )
            episode_steps = max_episode_steps
        if episode_steps is not None:
            kwargs["episode_steps"] = episode_steps  # else the single env's default (FastLoop 60, SlowLoop 24)
        # A FastLoopEnv checks the arguments and fixes the encodings every network shares.
        self.template = self.template_class(scenario, **kwargs)
        t = self.template
        self.num_envs = num_envs
        if self.other_policy_name is not None:
            setattr(self, self.other_policy_name, other_policy)  # slow_policy / fast_policy
        self.scenario, self.num_aps = t.scenario, t.num_aps
        self.power_levels, self.slots = t.power_levels, t.slots
        self.power_mode = getattr(t, "power_mode", "level")
        self.fast_period_s, self.slow_period_s, self.episode_steps = t.fast_period_s, t.slow_period_s, t.episode_steps
        self.reward_name, self.cost_weights, self.agent_loop = t.reward_name, t.cost_weights, t.agent_loop
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = None
        self.single_action_space = t.action_space
        self.single_observation_space = t.observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._nvec = np.asarray(self.single_action_space.nvec)
        self._level_table = t._level_table  # [N, L] power levels padded with NaN
        self._top_level = np.array([len(p) - 1 for p in self.power_levels])
        self.sim: WirelessSimulation = WirelessSimulation(self.scenario, seed=0, num_networks=num_envs)
        self.event_loop: EventLoop = t._make_loop(self.sim, record=False)
        self._steps = 0
        self._needs_reset = True
        self._failed: str | None = None  # why the last step raised part-way, until reset()
        self._obs: dict[str, np.ndarray] | None = None
        self._info: dict[str, Any] = {}
        self._rewards = np.zeros(num_envs)

    # ------------------------------------------------------------------ encodings
    def current_channel_action(self) -> np.ndarray:
        """``[B, N]`` channel action (SlowLoop's encoding) that keeps every AP's current channel."""
        return self.template._slot_choice[np.arange(self.num_aps), self.sim.slot]

    def current_power_action(self) -> np.ndarray:
        """``[B, N]`` index of each AP's current power in its level list (nearest level)."""
        power = self.sim.power_dbm  # [B, N]
        gap = np.abs(self._level_table[None] - power[..., None])  # [B, N, L]
        return np.nanargmin(gap, axis=2)

    def action_masks(self) -> np.ndarray:
        """``[B, sum(nvec)]``: true exactly for the choices the shield would accept now."""
        raise NotImplementedError

    def _level_masks(self) -> np.ndarray:
        """``[B, sum(power nvec)]`` masks of the power levels (FastLoop's ``"level"`` encoding)."""
        sh, now = self.event_loop.shield, self.sim.time_s
        nvec = np.array([len(p) for p in self.power_levels])
        out = np.ones((self.num_envs, int(nvec.sum())), dtype=bool)
        cooling = sh.cooldown.last_change_s[:, :, 2] + sh.cooldown.min_gap_s[2] > now  # [B, N]
        if cooling.any():
            start = np.concatenate([[0], np.cumsum(nvec)[:-1]])
            for b, ap in zip(*np.nonzero(cooling), strict=True):
                out[b, start[ap] : start[ap] + nvec[ap]] = sh.power_mask(b, ap, self.power_levels[ap], now)
        return out

    def _channel_masks(self) -> np.ndarray:
        """``[B, sum(channel nvec)]`` masks of the channel choices (SlowLoop's encoding)."""
        table = self.template._slot_table  # [N, C] each AP's choices, -1 pad
        return self.event_loop.shield.slot_masks(table, self.sim.time_s)[:, table >= 0]

    # ------------------------------------------------------------------ lifecycle
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if isinstance(seed, (list, tuple, np.ndarray)):
            raise TypeError(
                "the batched env draws every network from one seed (one simulation): give an int, "
                "not one seed per network (vectorization_mode='sync' takes a list)"
            )
        super().reset(seed=seed, options=options)
        sim_seed = int(self.np_random.integers(2**31 - 1))
        self.sim = WirelessSimulation(self.scenario, seed=sim_seed, num_networks=self.num_envs)
        self.event_loop = self.template._make_loop(self.sim)
        self._steps = 0
        self._needs_reset = False
        self._failed = None
        self._prev = self._counters()
        # one quiet fast period so that the first observation holds real measurements
        sensing = self.event_loop.advance(self.fast_period_s)
        self.event_loop.take_results()
        self._prev["events"] = Counter(self.event_loop.events_by_network_type)  # as FastLoopEnv: not the quiet period's
        self._obs, infos = self._observe(sensing, [], [], [])
        return self._obs, infos

    def step(self, actions: Any) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, dict]:
        b_all = self.num_envs
        if self.closed:
            raise RuntimeError("the vector env is closed")
        if self._failed is not None:
            raise StepFailedError(f"the last step failed part-way ({self._failed}): call reset()")
        if self._needs_reset:
            if self._obs is None:
                raise RuntimeError("call reset() before step()")
            if self.autoreset_mode is AutoresetMode.DISABLED:
                raise RuntimeError(f"{episode_over_message(self.episode_steps)} (autoreset_mode 'Disabled')")
            obs, infos = self.reset()  # NextStep autoreset: this step's actions are ignored
            return obs, np.zeros(b_all), np.zeros(b_all, dtype=bool), np.zeros(b_all, dtype=bool), infos
        a = self._check_actions(actions)
        try:
            sensing = self._act_and_run(a)
        except BaseException as e:
            self._failed = failure_summary(e)
            raise
        self._steps += 1
        loop = self.event_loop
        results = loop.step_results
        audit_ids, audit_networks = loop.step_audit_ids, loop.step_audit_networks
        loop.take_results()
        obs, infos = self._observe(sensing, results, audit_ids, audit_networks)
        rewards = self._rewards
        truncated = np.full(b_all, self._steps >= self.episode_steps)
        terminated = np.zeros(b_all, dtype=bool)
        if truncated[0]:
            if self.autoreset_mode is AutoresetMode.SAME_STEP:
                final_obs = np.empty(b_all, dtype=object)
                final_obs[:] = [{k: v[b] for k, v in obs.items()} for b in range(b_all)]
                final_info = infos
                obs, infos = self.reset()
                infos = {**infos, "final_obs": final_obs, "_final_obs": np.ones(b_all, dtype=bool)}
                infos["final_info"], infos["_final_info"] = final_info, np.ones(b_all, dtype=bool)
            else:
                self._needs_reset = True
        self._obs = obs
        return obs, rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        self.template.close()  # it holds the file audit log of all networks, if there is one

    # ------------------------------------------------------------------ internals

    def _check_actions(self, actions: Any) -> np.ndarray:
        a = np.asarray(actions)
        shape = (self.num_envs, len(self._nvec))
        if a.shape != shape or not whole_numbers(a) or (a < 0).any() or (a >= self._nvec).any():
            raise ValueError(
                f"actions must be integers of shape {shape} with 0 <= a < {self._nvec} in every row; got {actions!r}"
            )
        return a.astype(np.int64)

    def _act_and_run(self, action: np.ndarray) -> Sensing:
        raise NotImplementedError

    @property
    def other_policy(self) -> Policy | None:
        """The other loop's policy (``slow_policy`` of the fast loop, ``fast_policy`` of the slow one;
        ``None`` for Joint, which has no other loop)."""
        return None if self.other_policy_name is None else getattr(self, self.other_policy_name)

    def _ask_other_policy(self, masks: np.ndarray, nvec: list[int]) -> np.ndarray:
        """The other loop's choices, ``[B, N]``, asked network by network with that network's
        observation and info (and the mask of the other loop's encoding)."""
        out = np.zeros((self.num_envs, self.num_aps), dtype=np.int64)
        name = self.other_policy_name
        for b in range(self.num_envs):
            obs_b = {k: v[b] for k, v in self._obs.items()}
            answer = self.other_policy(obs_b, {**env_info(self._info, b), "action_mask": masks[b]})
            out[b] = check_choices(f"{name} (network {b})", answer, nvec)
        return out

    def _submit_channel_choices(self, choice: np.ndarray, loop: str) -> None:
        """Channel choices ``[B, N]`` (SlowLoop's encoding) as change requests where they differ."""
        want = self.template._slot_table[np.arange(self.num_aps), choice]  # [B, N] slots
        nets, aps = np.nonzero(want != self.sim.slot)  # network by network, AP by AP
        for b, ap, slot in zip(nets.tolist(), aps.tolist(), want[nets, aps].tolist(), strict=True):
            channel, width = int(SLOT_CHANNEL[slot]), int(SLOT_WIDTH_MHZ[slot])
            self.event_loop.submit(ChangeRequest(ap, channel, width, network=b, source=Source.AGENT, loop=loop))

    def _submit_levels(self, levels: np.ndarray, loop: str) -> None:
        """Power level indices ``[B, N]`` as change requests where they differ, a batch at a time."""
        want = self._level_table[np.arange(self.num_aps), levels]  # [B, N] dBm
        nets, aps = np.nonzero(want != self.sim.power_dbm)
        self.event_loop.submit_many(
            [
                ChangeRequest(ap, power_dbm=p, network=b, source=Source.AGENT, loop=loop)
                for b, ap, p in zip(nets.tolist(), aps.tolist(), want[nets, aps].tolist(), strict=True)
            ]
        )

    def _observations(self, s: Sensing) -> dict[str, np.ndarray]:
        obs = build_observations(self.event_loop, s)
        if self.template.channel_onehot:
            obs["current_channel"] = current_channel_onehot(
                self.current_channel_action(), self.template._slot_choice_width
            )
        return obs

    def _counters(self) -> dict[str, Any]:
        loop = self.event_loop
        rb = loop.rollbacks.by_network_loop
        own = np.zeros(self.num_envs, dtype=np.int64)
        total = np.zeros(self.num_envs, dtype=np.int64)
        for (b, lp), count in rb.items():
            total[b] += count
            if lp == self.agent_loop:
                own[b] += count
        return {
            "compliance": loop.compliance.counters_by_network(),
            "rollbacks": total,
            "own_rollbacks": own,
            "events": Counter(loop.events_by_network_type),
        }

    def _observe(
        self, s: Sensing, results: list[ShieldResult], audit_ids: list[str], audit_networks: list[int]
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Observations and the batched info (built on arrays; the values FastLoopEnv's info has,
        network by network). Keeps the rewards for :meth:`step` and the info for the slow policy."""
        b_all = self.num_envs
        obs = self._observations(s)
        now = self._counters()
        prev, self._prev = self._prev, now
        order = {o: i for i, o in enumerate(Outcome)}
        outcomes = np.zeros((b_all, len(Outcome)), dtype=np.int64)
        agent, own = Source.AGENT, self.agent_loop
        mine = (r for r in results if r.request.source is agent and r.request.loop == own)
        counts = Counter((r.request.network, r.outcome) for r in mine)
        for (b, outcome), count in counts.items():
            outcomes[b, order[outcome]] = count
        records = np.bincount(np.asarray(audit_networks, dtype=np.int64), minlength=b_all).astype(np.int64)
        events = now["events"].copy()
        events.subtract(prev["events"])
        kpi = network_kpis(s)
        self._rewards = rewards_of(kpi)[self.reward_name].astype(np.float64)  # a copy, not info["kpi"]'s
        comp, comp_prev = now["compliance"], prev["compliance"]
        cost_terms = {
            "shield_rejected": outcomes[:, order[Outcome.REJECTED]].astype(np.float64),
            "shield_modified": outcomes[:, order[Outcome.MODIFIED]].astype(np.float64),
            "shield_deferred": outcomes[:, order[Outcome.DEFERRED]].astype(np.float64),
            "rollbacks": (now["own_rollbacks"] - prev["own_rollbacks"]).astype(np.float64),
            "dfs_violations": (comp["dfs_violations"] - comp_prev["dfs_violations"]).astype(np.float64),
            "eirp_violations": (comp["eirp_violations"] - comp_prev["eirp_violations"]).astype(np.float64),
        }
        cost = np.zeros(b_all)
        for name, term in cost_terms.items():  # in FastLoopEnv's order, so the sums agree exactly
            cost = cost + self.cost_weights[name] * term
        info = {
            "cost": cost,
            "cost_terms": cost_terms,
            "kpi": kpi,
            "compliance": {name: v.astype(np.int64) for name, v in comp.items()},
            "shield": {o.value: outcomes[:, order[o]] for o in Outcome},
            "events": {t: np.array([events.get((b, t), 0) for b in range(b_all)], dtype=np.int64) for t in EVENT_KEYS},
            "rollbacks": (now["rollbacks"] - prev["rollbacks"]).astype(np.int64),
            "audit_records": records,
            "channel_changes_left": self.event_loop.shield.channel_changes_left(self.sim.time_s),
            "action_mask": self.action_masks(),
            "sim_time_s": np.full(b_all, float(self.sim.time_s)),
        }
        if self.template.info_audit_ids:  # per-network lists of varying length: off by default
            ids = np.empty(b_all, dtype=object)
            ids[:] = [[] for _ in range(b_all)]
            for audit_id, b in zip(audit_ids, audit_networks, strict=True):
                ids[b].append(audit_id)
            info["audit_ids"] = ids
        self._info = info
        return obs, _with_masks(info, b_all)


class FastLoopVectorEnv(_BatchedRRMEnv, VectorEnv):  # VectorEnv named: tools that look one class up (skrl)
    """``num_envs`` draws of one scenario's WLAN under :class:`~rrm_gym.envs.FastLoopEnv`'s
    contract, simulated together: one :class:`~rrm_gym.sim.WirelessSimulation` with
    ``num_networks = num_envs`` and one :class:`~rrm_gym.safety.EventLoop` over all of them.

    ``gymnasium.make_vec("rrm_gym/FastLoop-v2", num_envs=B)`` returns it (the registered
    vector entry point); ``vectorization_mode="sync"`` or ``"async"`` gives B separate
    :class:`FastLoopEnv` instances instead.

    **Spaces** — ``single_action_space`` and ``single_observation_space`` are FastLoopEnv's;
    ``action_space`` / ``observation_space`` batch them with a leading ``[B]`` axis.

    **Step** — every network's requested power levels become change requests through the one
    event loop (shield, cooldown, audit, rollback watch; the audit record names its network),
    then all networks advance one fast period together. Rewards ``[B]`` and costs are each
    network's own, computed as FastLoopEnv computes them.

    **Info** — FastLoopEnv's keys, batched as Gymnasium's vector envs batch them: each value an
    array over the networks (nested dicts stay dicts of arrays) with a boolean ``"_key"`` mask;
    ``audit_records`` counts each network's audit records of the step; with ``info_audit_ids=True``
    ``audit_ids`` is an object array of per-network lists of their ids.

    **Episodes** — all networks start and end together (FastLoop never terminates and truncates
    after ``episode_steps``). ``autoreset_mode`` ``"NextStep"`` (default, as Gymnasium's vector
    envs): the step after a truncation resets every network and ignores its actions;
    ``"SameStep"``: the truncating step returns the reset observation, with the final ones in
    ``info["final_obs"]`` (object array of per-network dicts) and ``info["final_info"]``;
    ``"Disabled"`` (what TorchRL prefers): stepping after a truncation raises until ``reset()``.

    **Arguments** — ``num_envs`` and ``autoreset_mode``, then FastLoopEnv's: ``scenario``,
    ``slow_policy`` (called for each network with that network's observation and info),
    ``episode_steps`` (``max_episode_steps`` is an alias, as ``make_vec`` passes it),
    ``power_mode``, periods, ``reward``, ``cost_weights``, ``allow_width``, ``event_loop``,
    ``audit_key`` / ``audit_path`` (one audit trail for all networks). No rendering: make one
    FastLoopEnv to render a network.

    ``env.sim`` and ``env.event_loop`` are the shared simulation and event loop (network ``b`` is
    index ``b`` of every ``[B, ...]`` array; inject events with ``network=b``).
    """

    template_class = FastLoopEnv
    other_policy_name = "slow_policy"

    def __init__(
        self,
        num_envs: int = 8,
        scenario: str | Path | Scenario = "office",
        *,
        slow_policy: Policy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_envs, scenario, other_policy=slow_policy, **kwargs)

    def action_masks(self) -> np.ndarray:
        if self.power_mode == "level":
            return self._level_masks()
        sh, now = self.event_loop.shield, self.sim.time_s
        cooling = sh.cooldown.last_change_s[:, :, 2] + sh.cooldown.min_gap_s[2] > now  # [B, N]
        cur = self.current_power_action()
        out = np.ones((self.num_envs, self.num_aps, 3), dtype=bool)
        out[..., 0] = cur > 0
        out[..., 2] = cur < self._top_level
        for b, ap in zip(*np.nonzero(cooling), strict=True):
            levels = sh.power_mask(b, ap, self.power_levels[ap], now)
            for step, idx in ((0, cur[b, ap] - 1), (2, cur[b, ap] + 1)):
                out[b, ap, step] = 0 <= idx < len(levels) and bool(levels[idx])
        return out.reshape(self.num_envs, -1)

    def _act_and_run(self, action: np.ndarray) -> Sensing:
        per_slow = self.slow_period_s // self.fast_period_s
        if self.other_policy is not None and self._steps % per_slow == 0:
            channels = self._ask_other_policy(self._channel_masks(), self.template._channel_nvec())
            self._submit_channel_choices(channels, loop="slow")
        if self.power_mode == "level":
            levels = action
        else:
            levels = np.clip(self.current_power_action() + action - 1, 0, self._top_level)
        self._submit_levels(levels, loop=self.agent_loop)
        return self.event_loop.advance(self.fast_period_s)


class SlowLoopVectorEnv(_BatchedRRMEnv, VectorEnv):
    """``num_envs`` draws of one scenario's WLAN under :class:`~rrm_gym.envs.SlowLoopEnv`'s
    contract, simulated together in one simulation and one event loop as
    :class:`FastLoopVectorEnv` does for the fast loop; ``gymnasium.make_vec("rrm_gym/SlowLoop-v2",
    num_envs=B)`` returns it. Each step submits every network's channel plan, then runs the slow
    period fast period by fast period, asking ``fast_policy`` (if given) for each network's power
    levels before each; rewards and costs are each network's own over the whole slow period.
    Arguments, info and episodes as :class:`FastLoopVectorEnv`, with ``fast_policy`` for
    ``slow_policy`` and SlowLoopEnv's defaults (24 one-hour steps)."""

    template_class = SlowLoopEnv
    other_policy_name = "fast_policy"

    def __init__(
        self,
        num_envs: int = 8,
        scenario: str | Path | Scenario = "office",
        *,
        fast_policy: Policy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_envs, scenario, other_policy=fast_policy, **kwargs)

    def action_masks(self) -> np.ndarray:
        return self._channel_masks()

    def _act_and_run(self, action: np.ndarray) -> Sensing:
        self._submit_channel_choices(action, loop=self.agent_loop)
        spans = []
        for _ in range(self.slow_period_s // self.fast_period_s):
            if self.other_policy is not None:
                nvec = [len(p) for p in self.power_levels]
                self._submit_levels(self._ask_other_policy(self._level_masks(), nvec), loop="fast")
            s = self.event_loop.advance(self.fast_period_s)
            self._obs = self._observations(s)  # the fast policy sees each fast period
            spans.append(s)
        return Sensing.concat(spans)


class JointVectorEnv(_BatchedRRMEnv, VectorEnv):
    """``num_envs`` draws of one scenario's WLAN under :class:`~rrm_gym.envs.JointEnv`'s contract
    (channel and power of every AP each fast period), simulated together in one simulation and
    one event loop as :class:`FastLoopVectorEnv` does for the fast loop;
    ``gymnasium.make_vec("rrm_gym/Joint-v2", num_envs=B)`` returns it. Each step submits every
    network's channel choices, then its power levels, then advances one fast period. Actions
    ``[B, 2 N]``; masks ``[B, sum(nvec)]`` (channel choices, then power levels). Arguments, info
    and episodes as :class:`FastLoopVectorEnv`, without ``slow_policy``."""

    template_class = JointEnv
    other_policy_name = None

    def __init__(self, num_envs: int = 8, scenario: str | Path | Scenario = "office", **kwargs: Any) -> None:
        super().__init__(num_envs, scenario, **kwargs)

    def action_masks(self) -> np.ndarray:
        return np.concatenate([self._channel_masks(), self._level_masks()], axis=1)

    def _act_and_run(self, action: np.ndarray) -> Sensing:
        n = self.num_aps
        self._submit_channel_choices(action[:, :n], loop=self.agent_loop)
        self._submit_levels(action[:, n:], loop=self.agent_loop)
        return self.event_loop.advance(self.fast_period_s)


def _with_masks(info: dict[str, Any], n: int) -> dict[str, Any]:
    """Add Gymnasium's ``"_key"`` masks (every network has every key)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        out[key] = _with_masks(value, n) if isinstance(value, dict) else value
        out[f"_{key}"] = np.ones(n, dtype=bool)
    return out


def env_info(info: dict[str, Any], i: int) -> dict[str, Any]:
    """Env ``i``'s info from a batched info (the ``"_key"`` masks, ``final_obs`` and ``final_info``
    dropped)."""
    out = {}
    for k, v in info.items():
        if k.startswith("_") or k in ("final_obs", "final_info"):
            continue
        out[k] = env_info(v, i) if isinstance(v, dict) else v[i]
    return out
