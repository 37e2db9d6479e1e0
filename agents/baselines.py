"""Baseline RRM heuristics over the same sensing an RL agent gets.

Every policy is a callable ``policy(obs, info) -> action`` in an environment's encoding
(channel policies: an index into ``env.slots[i]`` per AP; power policies: an index into
``env.power_levels[i]``). ``bind(env)`` hands it the encoding (the choice lists, the
channels of the ``channel_scan`` observation) and nothing else; policies read only the
observation and ``info``. The exception is :class:`Oracle`, which is *privileged*: it
reads and searches the true simulator state, and serves as the upper reference.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from rrm_gym.envs.core import RRMEnv
from rrm_gym.envs.observation import AP_FEATURES, scan_channels
from rrm_gym.radio.mac import collision_probability
from rrm_gym.radio.regulatory import OVERLAP, SHARED, SLOT_MEMBERS, SLOT_WIDTH_MHZ, slot_index
from rrm_gym.safety import AuditLog

_F = {name: i for i, name in enumerate(AP_FEATURES)}
TPC_TARGET_DBM = -70.0  # Cisco TPC: the 3rd strongest neighbour should hear an AP at -70 dBm
TPC_DOWN_DB, TPC_UP_DB = 6.0, 3.0  # hysteresis: step down only for a 6 dB excess, up for 3 dB
CLIENT_SNR_TARGET_DB = 25.0  # MCS 7 (22 dB) plus a 3 dB fade margin for the weakest client
WIDTH_SUBCARRIERS = {20: 1.0, 40: 2.0, 80: 980 / 234, 160: 1960 / 234}  # HE data subcarriers over 20 MHz's


def rssi_dbm(normalized: np.ndarray) -> np.ndarray:
    """Back from the observation's ``(dBm + 100) / 70`` scale; NaN where nothing was heard."""
    return np.where(normalized > 0, normalized * 70.0 - 100.0, np.nan)


def _ramp(dbm: np.ndarray) -> np.ndarray:
    """How strongly a signal counts: 0 at -85 dBm or weaker (or not heard, NaN), 1 at -60 dBm."""
    return np.clip((np.nan_to_num(dbm, nan=-200.0) + 85.0) / 25.0, 0.0, 1.0)


def heard_strength(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    """``[N, N]`` how strongly each pair of APs hears each other, in either direction (:func:`_ramp`)."""
    rssi = rssi_dbm(obs["neighbor_rssi"])
    return _ramp(np.fmax(rssi, rssi.T))


def current_slots(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Each AP's slot, decoded from its channel and width features."""
    f = obs["ap_features"]
    channels = np.rint(f[:, _F["channel"]] * 165.0).astype(int)
    widths = np.rint(f[:, _F["width"]] * 160.0).astype(int)
    return np.array([slot_index(c, w) for c, w in zip(channels, widths, strict=True)])


class Baseline:
    """Base class: holds the env's choice encoding and a random generator."""

    name = "baseline"
    privileged = False

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.slots: list[np.ndarray] = []
        self.power_levels: list[np.ndarray] = []
        self.channels = np.zeros(0, dtype=int)

    def bind(self, env: RRMEnv) -> Baseline:
        self.slots = env.slots
        self.power_levels = env.power_levels
        self.channels = scan_channels(env.sim.domain)
        return self

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        raise NotImplementedError


# ----------------------------------------------------------------------------- channel policies
class ChannelBaseline(Baseline):
    kind = "channel"

    def _index(self, ap: int, slot: int) -> int:
        return int(np.flatnonzero(self.slots[ap] == slot)[0])

    def _mask(self, info: Mapping[str, Any], ap: int) -> np.ndarray:
        """The env's channel mask for AP ``ap`` (all true when the env gives none)."""
        sizes = [len(s) for s in self.slots]
        full = np.asarray(info.get("action_mask", np.ones(sum(sizes), bool)))
        if len(full) < sum(sizes):  # a mask of another encoding: nothing to go by
            return np.ones(sizes[ap], dtype=bool)
        start = sum(sizes[:ap])
        return full[start : start + sizes[ap]]

    def _same_width(self, ap: int, cur_slot: int) -> np.ndarray:
        return SLOT_WIDTH_MHZ[self.slots[ap]] == SLOT_WIDTH_MHZ[cur_slot]


class StaticChannels(ChannelBaseline):
    """Keep the plan."""

    name = "static"

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        return np.array([self._index(i, s) for i, s in enumerate(current_slots(obs))])


class RandomChannels(ChannelBaseline):
    """A random allowed channel of the AP's current width for every AP."""

    name = "random"

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        out = []
        for i, cur in enumerate(current_slots(obs)):
            ok = np.flatnonzero(self._mask(info, i) & self._same_width(i, cur))
            out.append(int(self.rng.choice(ok)) if len(ok) else self._index(i, cur))
        return np.array(out)


class _InterferenceCost(ChannelBaseline):
    """Shared cost model: what an AP would hear on each candidate slot."""

    managed_weight = 1.0
    foreign_weight = 1.0
    load_weighted = False
    margin = 0.0  # cost an alternative must beat the current slot by
    dfs_penalty = 0.3  # a DFS move costs a silent channel availability check (a minute or ten)

    def costs(
        self, obs: Mapping[str, np.ndarray], ap: int, slots_now: np.ndarray, placed: np.ndarray | None = None
    ) -> np.ndarray:
        """Cost of each of AP ``ap``'s candidate slots given the other APs on ``slots_now`` (those
        of them ``placed``, all by default)."""
        cand = self.slots[ap]
        f = obs["ap_features"]
        strength = heard_strength(obs)[ap]
        strength[ap] = 0.0
        weight = strength * (f[:, _F["airtime"]] + 0.1 if self.load_weighted else 1.0)
        if placed is not None:
            weight = np.where(placed, weight, 0.0)
        # share of each neighbour's band falling in each candidate, and the reverse
        ov = np.maximum(OVERLAP[slots_now][:, cand], OVERLAP[cand][:, slots_now].T)  # [N, K]
        cost = self.managed_weight * (weight[:, None] * ov).sum(axis=0)
        scan = rssi_dbm(obs["channel_scan"][ap])  # [C]
        f_strength = _ramp(scan)
        cand_members = SLOT_MEMBERS[cand][:, self.channels]  # [K, C]
        cost = cost + self.foreign_weight * (cand_members * f_strength).max(axis=1)
        # non-Wi-Fi energy seen on the current channel
        cur = slots_now[ap]
        nonwifi = f[ap, _F["nonwifi_duty"]]
        cost = cost + 2.0 * nonwifi * (SHARED[cur][cand] > 0)
        return cost + self.dfs_penalty * (self._dfs[cand] & (cand != cur))

    def bind(self, env: RRMEnv) -> Baseline:
        super().bind(env)
        self._dfs = env.sim.domain.slot_dfs
        return self

    def _choose(
        self,
        obs: Mapping[str, np.ndarray],
        info: Mapping[str, Any],
        ap: int,
        slots_now: np.ndarray,
        width_mhz: int | None = None,
        placed: np.ndarray | None = None,
    ) -> int:
        """AP ``ap``'s choice of slot given the others on ``slots_now`` (those ``placed``): the
        cheapest of its width (``width_mhz``, or its current one), kept unless another beats it by
        the margin."""
        cur = int(slots_now[ap])
        cost = self.costs(obs, ap, slots_now, placed)
        width = SLOT_WIDTH_MHZ[self.slots[ap]]
        want = SLOT_WIDTH_MHZ[cur] if width_mhz is None else min(width_mhz, int(width.max()))
        allowed = self._mask(info, ap) & (width == want)
        cost = np.where(allowed, cost, np.inf)
        here = self._index(ap, cur)
        best = int(np.argmin(cost))
        if not np.isfinite(cost[best]):
            return here
        if SLOT_WIDTH_MHZ[cur] == want and cost[best] >= cost[here] - self.margin:
            return here
        return best


class LeastCongestedChannel(_InterferenceCost):
    """LCCS: every AP independently moves to the channel where it hears the fewest APs."""

    name = "lccs"

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        now = current_slots(obs)
        return np.array([self._choose(obs, info, i, now) for i in range(len(now))])


class UnmanagedAwareChannel(LeastCongestedChannel):
    """Least-used channel with unmanaged APs weighing three times as much (they will not move)."""

    name = "unmanaged_aware"
    foreign_weight = 3.0


class DynamicChannelAssignment(_InterferenceCost):
    """Cisco-style DCA: cost from co-channel neighbours' RSSI weighted by their load, unmanaged
    APs and non-Wi-Fi energy; weighted greedy graph colouring (most-constrained AP first, each
    choice seen by the next); a change only when it beats the current channel by a margin."""

    name = "dca"
    dfs_penalty = 0.0  # Cisco DCA plans over DFS channels like any other
    load_weighted = True
    foreign_weight = 1.5
    margin = 0.3

    width_hysteresis = 0.2  # another width must promise this much more capacity

    def plan_at(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any], width_mhz: int | None) -> np.ndarray:
        """Greedy colouring at ``width_mhz`` (None: each AP's current width): slot per AP."""
        plan = current_slots(obs)
        degree = heard_strength(obs).sum(axis=1)
        # a plan at a new width starts afresh: APs not yet placed do not occupy their old slots
        placed = np.zeros(len(plan), dtype=bool) if width_mhz is not None else None
        for ap in np.argsort(-degree, kind="stable"):
            plan[ap] = self.slots[ap][self._choose(obs, info, int(ap), plan, width_mhz, placed)]
            if placed is not None:
                placed[ap] = True
        return plan

    def capacity(self, obs: Mapping[str, np.ndarray], plan: np.ndarray) -> float:
        """What a plan promises, as dynamic bandwidth selection weighs it: each AP's width (data
        subcarriers, relative to 20 MHz) times its share of the medium among the co-channel APs
        it hears (counted by their strength in the neighbour report), less DCF collisions among
        that many contenders (Bianchi's model)."""
        strength = heard_strength(obs)
        np.fill_diagonal(strength, 0.0)
        shares = SHARED[plan][:, plan] > 0  # [N, N]: AP j's band overlaps AP i's
        contenders = 1.0 + (strength * shares).sum(axis=1)
        width = np.array([WIDTH_SUBCARRIERS[int(w)] for w in SLOT_WIDTH_MHZ[plan]])
        return float((width * (1.0 - collision_probability(contenders)) / contenders).sum())

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        """Cisco-style DCA with dynamic bandwidth selection: a plan at each width the radios
        allow (20, 40, 80 MHz), and the one promising the most capacity; a width change only
        past a 20 % gain over a plan at the current widths."""
        keep = self.plan_at(obs, info, None)
        best, best_cap = keep, self.capacity(obs, keep) * (1.0 + self.width_hysteresis)
        for width in self.widths:
            plan = self.plan_at(obs, info, width)
            cap = self.capacity(obs, plan)
            if cap > best_cap:
                best, best_cap = plan, cap
        return np.array([self._index(i, s) for i, s in enumerate(best)])

    def bind(self, env: RRMEnv) -> Baseline:
        super().bind(env)
        widest = max(int(SLOT_WIDTH_MHZ[s].max()) for s in self.slots)
        self.widths = [w for w in (20, 40, 80) if w <= widest]
        return self


# ------------------------------------------------------------------------------ power policies
class PowerBaseline(Baseline):
    kind = "power"

    def _current_dbm(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        frac = obs["ap_features"][:, _F["power"]]
        return np.array([lv[0] + f * (lv[-1] - lv[0]) for lv, f in zip(self.power_levels, frac, strict=True)])

    def _nearest(self, ap: int, dbm: float) -> int:
        return int(np.argmin(np.abs(self.power_levels[ap] - dbm)))

    def _stepped(self, ap: int, cur: float, desired: float) -> int:
        """TPC-style move towards ``desired``: 3 dB down past a 6 dB excess, 3 dB up past a 3 dB gap."""
        levels = self.power_levels[ap]
        here = self._nearest(ap, cur)  # the power feature is float32: compare with a 1 mdB tolerance
        if desired <= cur - TPC_DOWN_DB:
            # the lowest level at most 3 dB down (off-grid starting powers make smaller steps)
            down = np.flatnonzero((levels < cur - 1e-3) & (levels >= cur - 3.0 - 1e-3))
            return int(down[0]) if len(down) else here
        if desired >= cur + TPC_UP_DB:
            up = np.flatnonzero((levels > cur + 1e-3) & (levels <= cur + 3.0 + 1e-3))
            return int(up[-1]) if len(up) else here
        return here


class MaxPower(PowerBaseline):
    name = "max"

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        return np.array([len(lv) - 1 for lv in self.power_levels])


class RandomPower(PowerBaseline):
    name = "random"

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        return np.array([int(self.rng.integers(len(lv))) for lv in self.power_levels])


class TransmitPowerControl(PowerBaseline):
    """Cisco-style TPC: power = current + (-70 dBm - RSSI at which the 3rd strongest neighbour
    hears this AP); with 6 dB down / 3 dB up hysteresis in 3 dB steps. Fewer than three
    neighbours: step up towards maximum."""

    name = "tpc"

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        cur = self._current_dbm(obs)
        heard = rssi_dbm(obs["neighbor_rssi"])  # [i, j]: RSSI at AP i of AP j
        out = []
        for ap in range(len(cur)):
            by_others = np.sort(heard[:, ap][np.isfinite(heard[:, ap])])[::-1]
            desired = cur[ap] + (TPC_TARGET_DBM - by_others[2]) if len(by_others) >= 3 else np.inf
            out.append(self._stepped(ap, cur[ap], desired))
        return np.array(out)


class ClientSnrPower(PowerBaseline):
    """Power for the weakest client's SNR to reach a target MCS (MCS 7 plus margin), in 3 dB steps."""

    name = "client_snr"

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        cur = self._current_dbm(obs)
        snr_min = obs["ap_features"][:, _F["client_snr_min"]] * 60.0
        has_clients = obs["ap_features"][:, _F["clients"]] > 0
        out = []
        for ap in range(len(cur)):
            desired = cur[ap] + (CLIENT_SNR_TARGET_DB - snr_min[ap]) if has_clients[ap] else cur[ap]
            out.append(self._stepped(ap, cur[ap], desired))
        return np.array(out)


# ------------------------------------------------------------------------------------- oracle
class Oracle(Baseline):
    """PRIVILEGED upper reference: a search over every AP's channel and power on the true model.

    A plan is submitted once and then held for ``horizon_s`` (the evaluation re-plans at that
    period). Each candidate is scored by running exactly that on a copy of the whole environment
    (simulation *and* event loop): the shield's limit on simultaneous channel changes, cooldowns,
    DFS channel availability checks, the loop's own reactions and automatic rollbacks of changes
    that degrade an AP all act on the copy as they will on the real network. The score is the
    env's own reward (the default experience utility), averaged per period over the horizon.
    The candidates are the current plan, the current channels at maximum power, DCA's plan at
    every width the radios allow (20, 40, 80 MHz) at maximum power, at current power and 6 and
    9 dB below maximum, and then
    ``evaluations`` steps of simulated annealing from the best of them; the best plan scored is
    returned. It reads hidden simulator state and sees the next ``horizon_s`` of traffic
    before it happens: an upper reference, not an implementable controller, and not a bound
    (a longer search can find better plans)."""

    name = "oracle"
    kind = "joint"
    privileged = True

    def __init__(self, seed: int = 0, evaluations: int = 60, horizon_s: int = 600) -> None:
        super().__init__(seed)
        self.evaluations = evaluations
        self.horizon_s = horizon_s
        self.env: RRMEnv | None = None
        self._dca = DynamicChannelAssignment(seed)

    @property
    def budget(self) -> str:
        """The search budget, as the benchmark prints it."""
        return f"starts + {self.evaluations} annealing steps, each a {self.horizon_s} s rollout of the true model"

    def bind(self, env: RRMEnv) -> Baseline:
        super().bind(env)
        self._dca.bind(env)
        self.env = env
        return self

    def _score(self, slots: np.ndarray, levels: np.ndarray) -> float:
        """Mean per-period reward over the horizon of submitting this plan now and holding it."""
        env = self.env
        assert env is not None
        # the copy gets a throw-away in-memory audit log (the real one may hold a file and a lock)
        memo = {id(env.event_loop.audit): AuditLog(), id(env.scenario): env.scenario}
        twin = copy.deepcopy(env, memo)
        steps = max(1, round(self.horizon_s / env.fast_period_s))
        twin.episode_steps = twin._steps + steps  # the look-ahead may run past the episode's end
        action = np.concatenate([slots, levels])
        total = 0.0
        for _ in range(steps):
            _, reward, _, _, _ = twin.step(action)
            total += reward
            action = np.concatenate([twin.current_channel_action(), twin.current_power_action()])
        return total / steps

    def plan(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Best (slot choices, power choices) found."""
        env = self.env
        assert env is not None
        n = env.num_aps
        sizes = [len(s) for s in self.slots]
        mask = np.asarray(info.get("action_mask", np.ones(sum(sizes), bool)))
        here = env.current_channel_action()
        here_levels = env.current_power_action()
        top = np.array([len(lv) - 1 for lv in self.power_levels])
        limit = env.event_loop.shield.max_channel_changes
        allowed = []
        for ap in range(n):
            legal = env.event_loop.shield.legal_slots(0, ap, env.sim.time_s)[self.slots[ap]]
            if len(mask) >= sum(sizes):
                legal &= mask[sum(sizes[:ap]) : sum(sizes[: ap + 1])]
            legal[here[ap]] = True
            allowed.append(np.flatnonzero(legal))

        def feasible(slots: np.ndarray) -> np.ndarray:
            # the shield applies at most ``limit`` channel changes at one instant, in AP order
            out = slots.copy()
            moved = np.flatnonzero(out != here)
            out[moved[limit:]] = here[moved[limit:]]
            return out

        scores: dict[bytes, float] = {}

        def score(slots: np.ndarray, levels: np.ndarray) -> float:
            key = np.concatenate([slots, levels]).tobytes()
            if key not in scores:
                scores[key] = self._score(slots, levels)
            return scores[key]

        # every AP two and three power levels below its maximum (3 dB steps: about 6 and 9 dB)
        lowered = [np.maximum(top - steps, 0) for steps in (2, 3)]
        starts = [(here, here_levels), (here, top)]
        for width in self._dca.widths:
            plan = self._dca.plan_at(obs, info, width)
            dca = feasible(np.array([self._dca._index(i, s) for i, s in enumerate(plan)]))
            starts += [(dca, top), (dca, here_levels), *((dca, low) for low in lowered)]
        scored = [(score(s0, l0), s0, l0) for s0, l0 in starts]
        best, slots, levels = max(scored, key=lambda x: x[0])
        cur = best
        best_plan = (slots.copy(), levels.copy())
        temp = 0.02
        for _ in range(self.evaluations):
            s2, l2 = slots.copy(), levels.copy()
            ap = int(self.rng.integers(n))
            if self.rng.random() < 0.5:
                s2[ap] = int(self.rng.choice(allowed[ap]))
                moved = np.flatnonzero(s2 != here)
                if len(moved) > limit:  # keep within the shield's limit: undo another AP's move
                    other = int(self.rng.choice(moved[moved != ap]))
                    s2[other] = here[other]
            else:
                l2[ap] = int(np.clip(l2[ap] + self.rng.choice([-2, -1, 1, 2]), 0, len(self.power_levels[ap]) - 1))
            s = score(s2, l2)
            if s > cur or self.rng.random() < np.exp((s - cur) / max(temp, 1e-6)):
                slots, levels, cur = s2, l2, s
                if s > best:
                    best, best_plan = s, (s2.copy(), l2.copy())
            temp *= 0.9
        return best_plan

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        slots, levels = self.plan(obs, info)
        return np.concatenate([slots, levels])


CHANNEL_POLICIES: dict[str, type[ChannelBaseline]] = {
    p.name: p
    for p in (StaticChannels, RandomChannels, LeastCongestedChannel, DynamicChannelAssignment, UnmanagedAwareChannel)
}
POWER_POLICIES: dict[str, type[PowerBaseline]] = {
    p.name: p for p in (MaxPower, RandomPower, TransmitPowerControl, ClientSnrPower)
}
