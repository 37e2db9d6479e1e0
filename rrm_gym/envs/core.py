"""What the three RRM environments share: scenario, simulation, event loop, actions,
reward, cost and ``info``. The concrete envs (fast, slow, joint) say when they act."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rrm_gym.checks import check_int, is_number
from rrm_gym.config import Scenario, load_scenario
from rrm_gym.radio.regulatory import SLOT_BAND_GHZ, SLOT_CHANNEL, SLOT_WIDTH_MHZ
from rrm_gym.safety import AuditLog, ChangeRequest, EventLoop, EventLoopConfig, Outcome, Source
from rrm_gym.safety.audit import SINK_MAX_BYTES, SINK_RETENTION_FILES, resolve_key
from rrm_gym.sim import Sensing, WirelessSimulation

POWER_STEP_DB = 3.0  # Cisco-style TPC step
PF_FLOOR_MBPS = 0.01  # log(0) guard: a starved client counts as 10 kb/s
REWARDS = ("experience", "pf", "throughput", "p5")
DEFAULT_COST_WEIGHTS = {
    "shield_rejected": 1.0,
    "shield_modified": 0.5,
    # channel changes deferred past the channel-change budget: not charged by default (the agent
    # did nothing unsafe); a weight above 0 teaches an agent to ask for no more than the budget
    "shield_deferred": 0.0,
    "rollbacks": 1.0,
    "dfs_violations": 10.0,
    "eirp_violations": 10.0,
}
KPI_KEYS = (
    "throughput_mean_mbps",
    "throughput_p5_mbps",
    "elastic_mean_mbps",
    "elastic_p5_mbps",
    "latency_p95_ms",
    "sle_throughput",
    "sle_latency",
    "sle",
    "cca_busy_mean",
    "retry_rate_mean",
    "experience_utility",
    "pf_utility",
)
EVENT_KEYS = ("DFS_RADAR", "NON_WIFI_INTERFERENCE", "SPECTRUM_SATURATION", "DEGRADATION", "CHANGE_REQUEST")

MAX_EPISODE_STEPS = 10_000_000


def episode_over_message(episode_steps: int) -> str:
    """What stepping an ended episode says, the same in every env."""
    return f"the episode is over (truncated after {episode_steps} steps): call reset() before step()"


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a boolean; ``TypeError`` naming ``name`` otherwise (``'no'`` is not false)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def whole_numbers(a: np.ndarray) -> bool:
    """Whether ``a`` holds whole numbers: an integer array, or a float one with only finite,
    integer values (``2.0`` is a choice, ``0.9`` is not rounded to one)."""
    return bool(
        np.issubdtype(a.dtype, np.integer)
        or (np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a) & (a == np.round(a))))
    )


def check_choices(name: str, value: Any, nvec: Sequence[int]) -> np.ndarray:
    """An other-loop policy's answer as ``int64`` choices, one per entry of ``nvec`` with
    ``0 <= a < nvec``; ``ValueError`` naming ``name`` otherwise (held to the agent's rule)."""
    a = np.asarray(value)
    limit = np.asarray(nvec)
    if a.shape != limit.shape or not whole_numbers(a) or (a < 0).any() or (a >= limit).any():
        raise ValueError(
            f"{name} must return {len(limit)} whole-number choices with 0 <= a < {list(nvec)}; got {value!r}"
        )
    return a.astype(np.int64)


class StepFailedError(RuntimeError):
    """A step raised part-way (say, an other-loop policy failed after the agent's changes went
    in): the env stays refused until ``reset()``, so no episode goes on from half a step."""


def failure_summary(e: BaseException, limit: int = 200) -> str:
    """``e`` as one short line (its type and message) for :class:`StepFailedError`."""
    text = " ".join(f"{type(e).__name__}: {e}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_policy(name: str, policy: Any) -> None:
    """``TypeError`` naming ``name`` unless ``policy`` is ``None`` or callable."""
    if policy is not None and not callable(policy):
        raise TypeError(f"{name} must be a callable (obs, info) -> action, or None; got {type(policy).__name__}")


def flat_info(info: Mapping[str, Any], sep: str = "/") -> dict[str, Any]:
    """``info`` with nested mappings flattened into ``"outer/inner"`` keys (``"kpi/sle"``), for
    libraries that take one level of numbers and arrays (TorchRL's PettingZoo wrapper)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, Mapping):
            for inner, v in flat_info(value, sep).items():
                out[f"{key}{sep}{inner}"] = v
        else:
            out[key] = value
    return out


def check_cost_weights(cost_weights: Any) -> dict[str, float]:
    """The cost weights given, checked: known terms, each a finite number >= 0."""
    if cost_weights is None:
        return {}
    if not isinstance(cost_weights, Mapping):
        raise TypeError(f"cost_weights must be a mapping of cost term to weight, got {type(cost_weights).__name__}")
    unknown = [k for k in cost_weights if k not in DEFAULT_COST_WEIGHTS]
    if unknown:
        raise ValueError(f"unknown cost terms {sorted(map(str, unknown))}; known: {sorted(DEFAULT_COST_WEIGHTS)}")
    out = {}
    for key, w in cost_weights.items():
        if not is_number(w):
            raise TypeError(f"cost_weights[{key!r}] must be a number, got {type(w).__name__} {w!r}")
        if not (np.isfinite(w) and w >= 0):
            raise ValueError(f"cost_weights[{key!r}] must be a finite number >= 0, got {w}")
        out[key] = float(w)
    return out


# A policy for the *other* loop: (observation, info) -> action in that loop's encoding.
Policy = Callable[[Mapping[str, np.ndarray], Mapping[str, Any]], Any]


def power_levels_dbm(min_dbm: float, max_dbm: float, initial_dbm: float | None = None) -> np.ndarray:
    """Power choices of one radio: from its maximum down in 3 dB steps to its minimum, plus its
    initial power (so that "no change" is always expressible)."""
    levels = np.arange(max_dbm, min_dbm - 1e-9, -POWER_STEP_DB)
    extra = [min_dbm] + ([] if initial_dbm is None else [initial_dbm])
    return np.unique(np.round(np.concatenate([levels, extra]), 6))


def candidate_slots(sim: WirelessSimulation, ap: int, allow_width: bool) -> np.ndarray:
    """Slot ids AP ``ap`` may be tuned to: legal in the domain, its band, up to its width
    (all widths up to its maximum when ``allow_width``, else its initial width only)."""
    initial = int(sim.width_mhz[0, ap])
    mask = sim.domain.slot_allowed & (SLOT_BAND_GHZ == sim.ap_band_ghz[ap])
    if allow_width:
        mask &= SLOT_WIDTH_MHZ <= sim.ap_max_width_mhz[ap]
    else:
        mask &= SLOT_WIDTH_MHZ == initial
    slots = np.flatnonzero(mask)
    order = np.lexsort((SLOT_WIDTH_MHZ[slots], SLOT_CHANNEL[slots]))
    return slots[order]


def pf_utilities(s: Sensing) -> np.ndarray:
    """``[B]`` proportional-fair utility of each network over span ``s``: the mean over its clients
    with traffic of ln(throughput in Mb/s), floored at :data:`PF_FLOOR_MBPS`; 0 with no traffic."""
    active = s.client_active
    log_thr = np.where(active, np.log(np.maximum(s.client_throughput_mbps, PF_FLOOR_MBPS)), 0.0)
    count = active.sum(axis=1)
    return np.where(count > 0, log_thr.sum(axis=1) / np.maximum(count, 1), 0.0)


def network_kpis(s: Sensing) -> dict[str, np.ndarray]:
    """``info["kpi"]`` of every network over span ``s``: :meth:`Sensing.kpis` and the PF utility,
    each ``[B]`` float64. One function for the single and the batched envs, so they agree."""
    k = {name: np.asarray(v, dtype=np.float64) for name, v in s.kpis().items()}
    k["pf_utility"] = pf_utilities(s)
    return {name: k[name] for name in KPI_KEYS}


def rewards_of(kpi: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each reward option per network from the KPIs: ``experience`` (default; see
    :func:`rrm_gym.sim.sensing.client_utility`), ``pf``, ``throughput`` (mean, Mb/s), ``p5`` (Mb/s)."""
    return {
        "experience": kpi["experience_utility"],
        "pf": kpi["pf_utility"],
        "throughput": kpi["throughput_mean_mbps"],
        "p5": kpi["throughput_p5_mbps"],
    }


def reward_terms(s: Sensing, network: int = 0) -> dict[str, Any]:
    """The rewards and ``info["kpi"]`` of one network over span ``s``, as Python floats."""
    kpi = {name: float(v[network]) for name, v in network_kpis(s).items()}
    return {**rewards_of(kpi), "kpi": kpi}


class RRMEnv(gym.Env):
    """Base of the RRM environments; see :class:`FastLoopEnv`, :class:`SlowLoopEnv`, :class:`JointEnv`."""

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 2}
    controls_channel = False
    controls_power = False
    agent_loop = "fast"  # the ``loop`` tag of this env's own change requests (its cost counts only those)

    def __init__(
        self,
        scenario: str | Path | Scenario = "office",
        *,
        episode_steps: int = 60,
        fast_period_s: int | None = None,
        slow_period_s: int | None = None,
        reward: str = "experience",
        cost_weights: Mapping[str, float] | None = None,
        allow_width: bool = True,
        channel_onehot: bool = False,
        event_loop: EventLoopConfig | None = None,
        audit_key: str | bytes | None = None,
        audit_path: str | Path | None = None,
        info_audit_ids: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if not isinstance(scenario, (str, Path, Scenario)):
            raise TypeError(
                f"scenario must be a packaged name, a YAML path or a Scenario, got {type(scenario).__name__}"
            )
        check_int("episode_steps", episode_steps, 1, MAX_EPISODE_STEPS)
        for name, value in (("fast_period_s", fast_period_s), ("slow_period_s", slow_period_s)):
            if value is not None:
                check_int(name, value, 1, 86_400)
        if not isinstance(reward, str) or reward not in REWARDS:
            raise ValueError(f"unknown reward {reward!r}; choose one of {REWARDS}")
        weights = check_cost_weights(cost_weights)
        check_bool("allow_width", allow_width)
        check_bool("channel_onehot", channel_onehot)
        check_bool("info_audit_ids", info_audit_ids)
        if event_loop is not None and not isinstance(event_loop, EventLoopConfig):
            raise TypeError(f"event_loop must be an EventLoopConfig or None, got {type(event_loop).__name__}")
        if render_mode is not None and (
            not isinstance(render_mode, str) or render_mode not in self.metadata["render_modes"]
        ):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        loops = self.scenario.loops
        self.fast_period_s = int(loops.fast_period_s if fast_period_s is None else fast_period_s)
        self.slow_period_s = int(loops.slow_period_s if slow_period_s is None else slow_period_s)
        if self.slow_period_s < self.fast_period_s:
            raise ValueError(
                f"need 1 <= fast_period_s <= slow_period_s, got {self.fast_period_s} and {self.slow_period_s}"
            )
        if self.slow_period_s % self.fast_period_s:
            raise ValueError(
                f"slow_period_s {self.slow_period_s} must be a multiple of fast_period_s {self.fast_period_s}"
            )
        self.episode_steps = int(episode_steps)
        self.reward_name = reward
        self.cost_weights = {**DEFAULT_COST_WEIGHTS, **weights}
        self.allow_width = bool(allow_width)
        self.channel_onehot = bool(channel_onehot)
        # Saturation is what the agent is there to fix: by default the event loop leaves it to the
        # agent, and keeps reacting to radar and non-Wi-Fi interference.
        self.event_loop_config = event_loop or EventLoopConfig(react_to_saturation=False)
        self._audit_key = resolve_key(audit_key) if audit_path is not None else audit_key
        self._audit_path = audit_path
        self.info_audit_ids = bool(info_audit_ids)
        self._file_audit: AuditLog | None = None  # one writer for all episodes, opened at the first reset
        self.render_mode = render_mode

        # A template simulation fixes the action encoding; reset() builds the episode's own.
        self.sim = WirelessSimulation(self.scenario, seed=0)
        n = self.sim.num_aps
        self.num_aps = n
        self.power_levels = [
            power_levels_dbm(self.sim.ap_min_power_dbm[i], self.sim.ap_max_power_dbm[i], self.sim.power_dbm[0, i])
            for i in range(n)
        ]
        self.slots = [candidate_slots(self.sim, i, allow_width) for i in range(n)]
        # [N, L] power levels padded with NaN, and [N, slots] choice index of each slot (-1: none)
        self._level_table = np.full((n, max(len(p) for p in self.power_levels)), np.nan)
        for i, levels in enumerate(self.power_levels):
            self._level_table[i, : len(levels)] = levels
        self._slot_choice = np.full((n, len(SLOT_CHANNEL)), -1, dtype=np.int64)
        for i, choices in enumerate(self.slots):
            self._slot_choice[i, choices] = np.arange(len(choices))
        self._slot_choice_width = max(len(s) for s in self.slots)  # the most channel choices of an AP
        self._slot_table = np.full((n, self._slot_choice_width), -1, dtype=np.int64)  # [N, C] choices, -1 pad
        for i, choices in enumerate(self.slots):
            self._slot_table[i, : len(choices)] = choices
        self.event_loop: EventLoop = self._make_loop(self.sim, record=False)
        self._steps = 0
        self._events_seen: Counter = Counter()
        self._sensing: Sensing | None = None
        self._obs: dict[str, np.ndarray] | None = None
        self._failed: str | None = None  # why the last step raised part-way, until reset()
        self._info: dict[str, Any] = {}
        self._compliance_prev = self.event_loop.compliance.counters()
        self._rollbacks_prev = 0
        self._own_rollbacks_prev = 0

    # ------------------------------------------------------------------ encodings
    def slot_action(self, ap: int, slot: int) -> int:
        """Index of ``slot`` in AP ``ap``'s channel choices."""
        return int(np.flatnonzero(self.slots[ap] == slot)[0])

    def power_action(self, ap: int, power_dbm: float) -> int:
        """Index of the power level nearest ``power_dbm`` in AP ``ap``'s choices."""
        return int(np.argmin(np.abs(self.power_levels[ap] - power_dbm)))

    def current_channel_action(self) -> np.ndarray:
        """The channel action that keeps every AP's current channel, ``[N]``."""
        return self._slot_choice[np.arange(self.num_aps), self.sim.slot[0]]

    def current_power_action(self) -> np.ndarray:
        """Each AP's power level nearest its current power (first of a tie), ``[N]``."""
        gap = np.abs(self._level_table - self.sim.power_dbm[0][:, None])
        return np.nanargmin(gap, axis=1)

    def _channel_nvec(self) -> list[int]:
        return [len(s) for s in self.slots]

    def _power_nvec(self) -> list[int]:
        return [len(p) for p in self.power_levels]

    def _mask_channel(self) -> list[np.ndarray]:
        masks = self.event_loop.shield.slot_masks(self._slot_table, self.sim.time_s)[0]  # [N, C]
        return [masks[i, : len(s)] for i, s in enumerate(self.slots)]

    def _mask_power(self) -> list[np.ndarray]:
        sh, now = self.event_loop.shield, self.sim.time_s
        cooling = sh.cooldown.last_change_s[0, :, 2] + sh.cooldown.min_gap_s[2] > now  # [N]
        if not cooling.any():  # the usual case: every level is accepted
            return [np.ones(len(p), dtype=bool) for p in self.power_levels]
        return [
            sh.power_mask(0, i, self.power_levels[i], now) if cooling[i] else np.ones(len(self.power_levels[i]), bool)
            for i in range(self.num_aps)
        ]

    def action_masks(self) -> np.ndarray:
        """Flat boolean vector of length ``sum(nvec)`` (sb3-contrib MaskablePPO convention):
        true exactly for the choices the shield would accept now, AP by AP."""
        parts = (self._mask_channel() if self.controls_channel else []) + (
            self._mask_power() if self.controls_power else []
        )
        return np.concatenate(parts).astype(bool)

    # ------------------------------------------------------------------ lifecycle
    def _make_loop(self, sim: WirelessSimulation, record: bool = True) -> EventLoop:
        """An event loop over ``sim``. With ``audit_path``, the loops of every episode (``record``)
        write to one file log, opened at the first and sealed by :meth:`close`, rotating at
        :data:`~rrm_gym.safety.audit.SINK_MAX_BYTES` and keeping the newest
        :data:`~rrm_gym.safety.audit.SINK_RETENTION_FILES` files. Otherwise each episode keeps
        its records in memory, their audit ids following the episode seed (equal seeds, equal infos)."""
        if self._audit_path is not None and record:
            if self._file_audit is None:
                self._file_audit = AuditLog(
                    self._audit_key,
                    path=self._audit_path,
                    max_bytes=SINK_MAX_BYTES,
                    retention_files=SINK_RETENTION_FILES,
                )
            audit = self._file_audit
        else:
            audit = AuditLog(None if self._audit_path is not None else self._audit_key, seed=sim.seed)
        return EventLoop(sim, self.event_loop_config, audit=audit)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        sim_seed = int(self.np_random.integers(2**31 - 1))
        self.sim = WirelessSimulation(self.scenario, seed=sim_seed)
        self.event_loop = self._make_loop(self.sim)
        self._steps = 0
        self._failed = None
        self._compliance_prev = self.event_loop.compliance.counters()
        self._rollbacks_prev = 0
        self._own_rollbacks_prev = 0
        # one quiet fast period so that the first observation holds real measurements
        self._sensing = self.event_loop.advance(self.fast_period_s)
        self.event_loop.take_results()
        self._obs = self._observe()
        self._info = self._make_info(self._sensing, [], [], Counter(), self._reward_terms(self._sensing))
        return self._obs, self._info

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        if self._steps >= self.episode_steps:
            raise RuntimeError(episode_over_message(self.episode_steps))
        if self._failed is not None:
            raise StepFailedError(f"the last step failed part-way ({self._failed}): call reset()")
        a = np.asarray(action)
        if (
            a.shape != self.action_space.shape
            or not whole_numbers(a)
            or not self.action_space.contains(a.astype(np.int64))
        ):
            raise ValueError(
                f"action must be integers of shape {self.action_space.shape} with 0 <= a < {self.action_space.nvec}; "
                f"got {action!r}"
            )
        self._events_seen = Counter(self.event_loop.events_by_type)
        try:
            sensing, results, audit_ids, events = self._act_and_run(a.astype(np.int64))
        except BaseException as e:
            self._failed = failure_summary(e)
            raise
        self._steps += 1
        self._sensing = sensing
        self._obs = self._observe()
        terms = self._reward_terms(sensing)
        reward = float(terms[self.reward_name])
        self._info = self._make_info(sensing, results, audit_ids, events, terms)
        truncated = self._steps >= self.episode_steps
        return self._obs, reward, False, truncated, self._info

    # --- subclass hook
    def _act_and_run(self, action: np.ndarray) -> tuple[Sensing, list, list, Counter]:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers for subclasses
    def _policy_action(self, policy: Policy, nvec: list[int], name: str, info: dict[str, Any]) -> np.ndarray:
        return check_choices(name, policy(self._obs, info), nvec)

    def _submit_channels(self, choice: np.ndarray, loop: str) -> None:
        for ap in range(self.num_aps):
            slot = int(self.slots[ap][int(choice[ap])])
            if slot != int(self.sim.slot[0, ap]):
                self.event_loop.submit(
                    ChangeRequest(
                        ap, int(SLOT_CHANNEL[slot]), int(SLOT_WIDTH_MHZ[slot]), source=Source.AGENT, loop=loop
                    )
                )

    def _submit_powers(self, choice: np.ndarray, loop: str) -> None:
        power = self.sim.power_dbm[0].tolist()
        requests = []
        for ap in range(self.num_aps):
            level = float(self.power_levels[ap][int(choice[ap])])
            if level != power[ap]:
                requests.append(ChangeRequest(ap, power_dbm=level, source=Source.AGENT, loop=loop))
        self.event_loop.submit_many(requests)

    def _run(self, seconds: int) -> tuple[Sensing, list, list, Counter]:
        """Advance under the event loop; the agent's shield results, audit ids and events since the last call."""
        loop = self.event_loop
        sensing = loop.advance(seconds)
        results, audit_ids = loop.take_results()
        now = Counter(loop.events_by_type)
        events = now.copy()
        events.subtract(self._events_seen)  # requests submitted before the run count too
        self._events_seen = now
        return sensing, results, audit_ids, events

    def _observe(self) -> dict[str, np.ndarray]:
        from rrm_gym.envs.observation import build_observation, current_channel_onehot

        obs = build_observation(self.event_loop, self._sensing)
        if self.channel_onehot:
            obs["current_channel"] = current_channel_onehot(self.current_channel_action(), self._slot_choice_width)
        return obs

    def _observation_space(self) -> spaces.Dict:
        from rrm_gym.envs.observation import observation_space, scan_channels

        choices = self._slot_choice_width if self.channel_onehot else None
        return observation_space(self.num_aps, len(scan_channels(self.sim.domain)), choices)

    def _reward_terms(self, s: Sensing) -> dict[str, Any]:
        return reward_terms(s, 0)

    def _make_info(
        self, s: Sensing, results: list, audit_ids: list[str], events: Counter, terms: dict
    ) -> dict[str, Any]:
        loop = self.event_loop
        agent = [r for r in results if r.request.source is Source.AGENT and r.request.loop == self.agent_loop]
        outcomes = Counter(r.outcome for r in agent)
        compliance = loop.compliance.counters()
        rollbacks_total = loop.rollbacks.auto_rollbacks + loop.rollbacks.manual_rollbacks
        step_rollbacks = rollbacks_total - self._rollbacks_prev
        # the cost charges this env's own changes only: the other loop's rollbacks are not the agent's doing
        own_rollbacks = loop.rollbacks.by_loop[self.agent_loop]
        f64, i64 = np.float64, np.int64  # numpy scalars: every library reads their dtype
        cost_terms = {
            "shield_rejected": f64(outcomes[Outcome.REJECTED]),
            "shield_modified": f64(outcomes[Outcome.MODIFIED]),
            "shield_deferred": f64(outcomes[Outcome.DEFERRED]),
            "rollbacks": f64(own_rollbacks - self._own_rollbacks_prev),
            "dfs_violations": f64(compliance["dfs_violations"] - self._compliance_prev["dfs_violations"]),
            "eirp_violations": f64(compliance["eirp_violations"] - self._compliance_prev["eirp_violations"]),
        }
        self._compliance_prev = compliance
        self._rollbacks_prev = rollbacks_total
        self._own_rollbacks_prev = own_rollbacks
        cost = f64(sum(float(self.cost_weights[k] * v) for k, v in cost_terms.items()))
        info = {
            "cost": cost,
            "cost_terms": cost_terms,
            "kpi": {k: f64(v) for k, v in terms["kpi"].items()},
            "compliance": {k: i64(v) for k, v in compliance.items()},
            "shield": {o.value: i64(outcomes[o]) for o in Outcome},
            "events": {k: i64(events.get(k, 0)) for k in EVENT_KEYS},
            "rollbacks": i64(step_rollbacks),
            "audit_records": i64(len(audit_ids)),
            "channel_changes_left": i64(loop.shield.channel_changes_left(self.sim.time_s)[0]),
            "action_mask": self.action_masks(),
            "sim_time_s": f64(self.sim.time_s),
        }
        if self.info_audit_ids:
            info["audit_ids"] = list(audit_ids)  # a list of varying length: off by default
        return info

    # ------------------------------------------------------------------ render
    def render(self) -> np.ndarray | str | None:
        from rrm_gym.envs.render import render_ansi, render_rgb

        if self.render_mode == "rgb_array":
            return render_rgb(self.sim, self._sensing)
        if self.render_mode == "ansi":
            return render_ansi(self.sim, self._sensing, self._info)
        return None

    def close(self) -> None:
        """Seal and close the file audit log, if the env writes one (idempotent)."""
        if self._file_audit is not None:
            self._file_audit.close()
            self._file_audit = None


def multi_discrete(nvec: list[int]) -> spaces.MultiDiscrete:
    return spaces.MultiDiscrete(np.asarray(nvec, dtype=np.int64))
