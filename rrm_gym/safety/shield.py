"""Shield and cooldown: every requested change is checked before it touches the network."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rrm_gym.radio.regulatory import SLOT_BAND_GHZ, SLOT_CHANNEL, SLOT_WIDTH_MHZ, SLOTS, slot_index
from rrm_gym.safety.dfs import DfsState
from rrm_gym.safety.events import PARAMS, ChangeRequest, Outcome, ShieldResult
from rrm_gym.sim import WirelessSimulation

_PARAM_INDEX = {p: i for i, p in enumerate(PARAMS)}
_CHANNEL_OF, _WIDTH_OF = SLOT_CHANNEL.tolist(), SLOT_WIDTH_MHZ.tolist()  # slot -> Python int


@dataclass(frozen=True)
class CooldownConfig:
    """Minimum seconds between two changes of the same parameter on the same AP."""

    channel_s: float = 300.0
    width_s: float = 300.0
    power_s: float = 60.0

    def __post_init__(self) -> None:
        if min(self.channel_s, self.width_s, self.power_s) < 0:
            raise ValueError("cooldown times must be >= 0")


class Cooldown:
    """Last change time per network, AP and parameter; emergencies bypass it."""

    def __init__(self, config: CooldownConfig, num_networks: int, num_aps: int) -> None:
        self.config = config
        self.min_gap_s = np.array([config.channel_s, config.width_s, config.power_s])
        self.last_change_s = np.full((num_networks, num_aps, len(PARAMS)), -np.inf)
        self.deferrals = 0

    def remaining_s(self, network: int, ap: int, param: str, now_s: float) -> float:
        i = _PARAM_INDEX[param]
        return max(0.0, float(self.last_change_s[network, ap, i] + self.min_gap_s[i] - now_s))

    def record(self, network: int, ap: int, params: Iterable[str], now_s: float) -> None:
        for p in params:
            self.last_change_s[network, ap, _PARAM_INDEX[p]] = now_s


@dataclass(frozen=True)
class ShieldConfig:
    max_channel_change_frac: float = 0.25  # of a network's APs changing channel at one instant
    allow_dfs: bool = True  # may non-emergency requests pick DFS channels (CAC silence follows)

    def __post_init__(self) -> None:
        if not 0 < self.max_channel_change_frac <= 1:
            raise ValueError("max_channel_change_frac must be in (0, 1]")


def clip_note(power: float, clipped: float, hi: float, radio_max: float) -> str:
    """Why a requested power became ``clipped``: the channel's EIRP limit ``hi`` (below the
    radio's maximum) or the radio's own range."""
    limit = "EIRP limit" if hi < radio_max and power > hi else "radio range"
    return f"power {power:g} dBm clipped to {clipped:g} dBm ({limit})"


@dataclass(frozen=True)
class PowerChecks:
    """The shield's verdicts on power-only requests of distinct APs (:meth:`Shield.check_powers`),
    one entry per request, as Python lists: ``code`` 0 rejected (the radio cannot go as low as the
    channel's EIRP limit), 1 no change, 2 rejected by cooldown, 3 apply; the slot, current, asked
    and clipped power, the power range (``lo``, ``hi``) and radio maximum, and the cooldown wait."""

    code: list[int]
    slot: list[int]
    cur: list[float]
    asked: list[float]
    clipped: list[float]
    lo: list[float]
    hi: list[float]
    top: list[float]
    wait: list[float]

    REJECTED, UNCHANGED, COOLING, APPLY = 0, 1, 2, 3

    def reason(self, i: int) -> str:
        """Why request ``i`` was rejected or modified ("" when it was applied as asked)."""
        code = self.code[i]
        if code == self.REJECTED:
            return f"radio minimum power {self.lo[i]:g} dBm exceeds the {self.hi[i]:g} dBm EIRP limit of that channel"
        if code == self.COOLING:
            return f"cooldown: power_dbm may change again in {self.wait[i]:.0f} s"
        if self.clipped[i] != self.asked[i]:
            return clip_note(self.asked[i], self.clipped[i], self.hi[i], self.top[i])
        return ""

    def result(self, i: int, req: ChangeRequest) -> ShieldResult:
        """Request ``i``'s :class:`ShieldResult` (``req`` is that request)."""
        code, note = self.code[i], self.reason(i)
        if code in (self.REJECTED, self.COOLING):
            return ShieldResult(Outcome.REJECTED, note, req)
        slot, cur = self.slot[i], self.cur[i]
        config = {"channel": _CHANNEL_OF[slot], "width_mhz": _WIDTH_OF[slot], "power_dbm": cur}
        outcome = Outcome.MODIFIED if note else Outcome.APPLIED
        if code == self.UNCHANGED:
            return ShieldResult(outcome, note or "no change", req, {}, config)
        return ShieldResult(outcome, note or "ok", req, {"power_dbm": self.clipped[i]}, config)


def _whole(value: object, name: str) -> int:
    """An integral channel or width; NaN, infinities and fractions are errors, not truncated."""
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not f.is_integer():
        raise ValueError(f"{name} {value!r} is not a whole number")
    return int(f)


class Shield:
    """Decides APPLIED / MODIFIED / REJECTED / DEFERRED (with a reason) for each change request.

    Checks: the AP exists; the channel exists, is legal in the domain, in the radio's band
    and within its width; it is not in radar non-occupancy; DFS channels only if allowed;
    cooldown (emergencies bypass it); power within the radio's range and the sub-band's EIRP
    limit (else clipped).

    **Channel-change budget.** At most :attr:`max_channel_changes` APs of a network (a fraction
    ``max_channel_change_frac`` of its APs, at least one) change channel or width at one instant,
    so that a plan never takes a large share of the network through channel switches at once.
    Requests are served in the order they arrive; one past the budget is ``DEFERRED``: not
    applied, nothing wrong with it, to be asked again at a later instant (the envs submit a plan
    AP by AP, so the lowest-numbered APs move first). Emergencies (DFS moves, rollbacks) are not
    counted and never deferred. :meth:`channel_changes_left` says what is left of the budget now.
    """

    def __init__(
        self,
        sim: WirelessSimulation,
        dfs: DfsState,
        cooldown: Cooldown,
        config: ShieldConfig | None = None,
    ) -> None:
        self.sim = sim
        self.dfs = dfs
        self.cooldown = cooldown
        self.config = config or ShieldConfig()
        self._batch_time_s = -np.inf
        self._batch_channel_changes = np.zeros(sim.num_networks, dtype=np.int64)
        self.max_channel_changes = max(1, math.floor(self.config.max_channel_change_frac * sim.num_aps))
        # fixed per radio and domain: Python numbers for the per-request checks
        self._min_power = [float(x) for x in sim.ap_min_power_dbm]
        self._max_power = [float(x) for x in sim.ap_max_power_dbm]
        self._slot_eirp = [float(x) for x in sim.domain.slot_max_eirp_dbm]
        self._slot_dfs = sim.domain.slot_dfs.tolist()
        # [N][S]: slots legal for the radio whatever the radar state (domain, band, width, EIRP)
        self._radio_ok = [
            sim.domain.slot_allowed
            & (SLOT_BAND_GHZ == sim.ap_band_ghz[ap])
            & (SLOT_WIDTH_MHZ <= sim.ap_max_width_mhz[ap])
            & (sim.domain.slot_max_eirp_dbm >= sim.ap_min_power_dbm[ap])
            for ap in range(sim.num_aps)
        ]
        self._radio_ok_py = [m.tolist() for m in self._radio_ok]
        self._radio_ok_table = np.stack(self._radio_ok)  # [N, S]

    # ------------------------------------------------------------------ vectorized queries
    def channel_changes_left(self, now_s: float) -> np.ndarray:
        """``[B]`` int: how many more APs of each network may change channel or width at instant
        ``now_s`` without being deferred (non-emergency changes already made at ``now_s``, by any
        source, use the budget up)."""
        if now_s != self._batch_time_s:
            return np.full(self.sim.num_networks, self.max_channel_changes, dtype=np.int64)
        return np.maximum(self.max_channel_changes - self._batch_channel_changes, 0)

    def legal_slots(self, network: int, ap: int, now_s: float, emergency: bool = False) -> np.ndarray:
        """``[S]`` bool: slots a request for AP ``ap`` may move to (before cooldown and batch limits)."""
        # a radio that cannot turn its power down to the sub-band's EIRP limit may not go there
        ok = self._radio_ok[ap] & ~self.dfs.barred_slots(network, now_s)
        if not (self.config.allow_dfs or emergency):
            ok &= ~self.sim.domain.slot_dfs
        return ok

    def _legal(self, network: int, ap: int, slot: int, now_s: float, emergency: bool) -> bool:
        """``legal_slots(network, ap, now_s, emergency)[slot]`` for one slot, without the arrays."""
        return (
            self._radio_ok_py[ap][slot]
            and (self.config.allow_dfs or emergency or not self._slot_dfs[slot])
            and not self.dfs.barred(network, slot, now_s)
        )

    def power_range_dbm(self, ap: int, slot: int) -> tuple[float, float]:
        """Power an AP may use on ``slot``: its hardware range capped by the EIRP limit
        (``hi < lo`` when even the radio's minimum is above the limit)."""
        return self._min_power[ap], min(self._max_power[ap], self._slot_eirp[slot])

    def slot_mask(self, network: int, ap: int, slots: np.ndarray, now_s: float) -> np.ndarray:
        """For each candidate slot, whether a non-emergency request to move AP ``ap`` there would
        be accepted now (staying put always is). The channel-change budget couples APs and is not
        part of this per-AP mask: a request past it is deferred, not rejected
        (:meth:`channel_changes_left`)."""
        cur = int(self.sim.slot[network, ap])
        ok = self.legal_slots(network, ap, now_s)[slots]
        if self.cooldown.remaining_s(network, ap, "channel", now_s) > 0:
            ok &= SLOT_CHANNEL[slots] == SLOT_CHANNEL[cur]
        if self.cooldown.remaining_s(network, ap, "width_mhz", now_s) > 0:
            ok &= SLOT_WIDTH_MHZ[slots] == SLOT_WIDTH_MHZ[cur]
        if self.cooldown.remaining_s(network, ap, "power_dbm", now_s) > 0:
            # a move that forces the power down to a lower EIRP limit changes the power too
            power = float(self.sim.power_dbm[network, ap])
            ok &= np.minimum(power, self.sim.domain.slot_max_eirp_dbm[slots]) >= power
        return ok | (slots == cur)

    def slot_masks(self, choices: np.ndarray, now_s: float) -> np.ndarray:
        """:meth:`slot_mask` of every network and AP at once: ``choices`` ``[N, C]`` holds each
        AP's candidate slots (``-1`` pads a shorter row); returns ``[B, N, C]`` (false on padding)."""
        sim, dfs, cd = self.sim, self.dfs, self.cooldown
        n = sim.num_aps
        cand = np.maximum(choices, 0)  # [N, C]
        ok = self._radio_ok_table[np.arange(n)[:, None], cand][None]  # [1, N, C]
        if not self.config.allow_dfs:
            ok = ok & ~sim.domain.slot_dfs[cand]
        barred = dfs.barred_slot_table(now_s)  # [B, S] or None
        if barred is not None:
            ok = ok & ~barred[:, cand]
        cur = sim.slot[..., None]  # [B, N, 1]
        cooling = (cd.last_change_s + cd.min_gap_s - now_s > 0)[..., None]  # [B, N, 3, 1]
        ok = ok & (~cooling[:, :, 0] | (SLOT_CHANNEL[cand] == SLOT_CHANNEL[cur]))
        ok &= ~cooling[:, :, 1] | (SLOT_WIDTH_MHZ[cand] == SLOT_WIDTH_MHZ[cur])
        # a move that forces the power down to a lower EIRP limit changes the power too
        power = sim.power_dbm[..., None]
        ok &= ~cooling[:, :, 2] | (np.minimum(power, sim.domain.slot_max_eirp_dbm[cand]) >= power)
        return (ok | (cand == cur)) & (choices >= 0)

    def power_mask(self, network: int, ap: int, levels_dbm: np.ndarray, now_s: float) -> np.ndarray:
        """For each power level, whether a request for it would be accepted now (clipping to the
        EIRP limit modifies a request but does not reject it; cooldown rejects real changes)."""
        cur = float(self.sim.power_dbm[network, ap])
        lo, hi = self.power_range_dbm(ap, int(self.sim.slot[network, ap]))
        changes = np.clip(levels_dbm, lo, hi) != cur
        if self.cooldown.remaining_s(network, ap, "power_dbm", now_s) > 0:
            return ~changes
        return np.ones(len(levels_dbm), dtype=bool)

    # ------------------------------------------------------------------ power requests, on arrays
    def check_powers(
        self, network: np.ndarray, ap: np.ndarray, asked_dbm: np.ndarray, emergency: np.ndarray, now_s: float
    ) -> PowerChecks:
        """The rules for power-only requests of distinct APs, all at once: the power clipped to the
        radio's range and the channel's EIRP limit (rejected when the radio's minimum is above that
        limit), and cooldown for a real change unless an emergency. ``asked_dbm`` NaN keeps the
        current power. Deferrals are counted. One request is a batch of one: :meth:`check` takes
        this path for a power-only request too."""
        sim, cooldown = self.sim, self.cooldown
        cur = sim.power_dbm[network, ap]
        slot = sim.slot[network, ap]
        lo = sim.ap_min_power_dbm[ap]
        top = sim.ap_max_power_dbm[ap]
        hi = np.minimum(top, sim.domain.slot_max_eirp_dbm[slot])
        asked = np.where(np.isnan(asked_dbm), cur, asked_dbm)
        clipped = np.clip(asked, lo, hi)
        ok = hi >= lo
        changed = (clipped != cur) & ok
        wait = cooldown.last_change_s[network, ap, 2] + cooldown.min_gap_s[2] - now_s
        deferred = changed & ~emergency & (wait > 0)
        cooldown.deferrals += int(deferred.sum())
        code = np.where(~ok, 0, np.where(~changed, 1, np.where(deferred, 2, 3)))
        return PowerChecks(*(x.tolist() for x in (code, slot, cur, asked, clipped, lo, hi, top, wait)))

    # ------------------------------------------------------------------ one request
    def check(self, req: ChangeRequest, now_s: float) -> ShieldResult:
        sim = self.sim
        b, ap = req.network, req.ap
        if not 0 <= b < sim.num_networks:
            return ShieldResult(Outcome.REJECTED, f"no network {req.network}", req)
        if not 0 <= ap < sim.num_aps:
            return ShieldResult(Outcome.REJECTED, f"no AP {req.ap} (network has {sim.num_aps})", req)
        if req.channel is None and req.width_mhz is None:
            power = np.nan if req.power_dbm is None else float(req.power_dbm)
            if math.isinf(power) or (req.power_dbm is not None and math.isnan(power)):
                return ShieldResult(Outcome.REJECTED, f"power {req.power_dbm} is not a number", req)
            one = np.array([b]), np.array([ap]), np.array([power]), np.array([req.emergency])
            return self.check_powers(*one, now_s).result(0, req)
        cur = sim.ap_config(ap, b)
        cur_slot = sim.ap_slot(ap, b)
        if req.channel is None and req.width_mhz is None:
            channel, width, slot = cur["channel"], cur["width_mhz"], cur_slot
        else:
            try:
                channel = cur["channel"] if req.channel is None else _whole(req.channel, "channel")
                width = cur["width_mhz"] if req.width_mhz is None else _whole(req.width_mhz, "width_mhz")
                slot = slot_index(channel, width)
            except ValueError as e:
                return ShieldResult(Outcome.REJECTED, f"invalid channel: {e}", req)
        if slot != cur_slot:
            if not self._legal(b, ap, slot, now_s, req.emergency):
                return ShieldResult(Outcome.REJECTED, self._why_illegal(b, ap, slot, now_s, req.emergency), req)
        note = ""
        power = cur["power_dbm"] if req.power_dbm is None else float(req.power_dbm)
        if not math.isfinite(power):
            return ShieldResult(Outcome.REJECTED, f"power {req.power_dbm} is not a number", req)
        lo, hi = self.power_range_dbm(ap, slot)
        if hi < lo:
            return ShieldResult(
                Outcome.REJECTED,
                f"radio minimum power {lo:g} dBm exceeds the {hi:g} dBm EIRP limit of that channel",
                req,
            )
        if not lo <= power <= hi:
            clipped = min(max(power, lo), hi)
            note = clip_note(power, clipped, hi, self._max_power[ap])
            power = clipped
        changed = {}
        if channel != cur["channel"]:
            changed["channel"] = channel
        if width != cur["width_mhz"]:
            changed["width_mhz"] = width
        if power != cur["power_dbm"]:
            changed["power_dbm"] = power
        outcome = Outcome.MODIFIED if note else Outcome.APPLIED
        if not changed:
            return ShieldResult(outcome, note or "no change", req, {}, cur)
        if not req.emergency:
            last, gap = self.cooldown.last_change_s, self.cooldown.min_gap_s
            for p in changed:
                i = _PARAM_INDEX[p]
                wait = last.item(b, ap, i) + gap.item(i) - now_s
                if wait > 0:
                    self.cooldown.deferrals += 1
                    return ShieldResult(Outcome.REJECTED, f"cooldown: {p} may change again in {wait:.0f} s", req)
            if "channel" in changed or "width_mhz" in changed:
                if now_s != self._batch_time_s:
                    self._batch_time_s = now_s
                    self._batch_channel_changes[:] = 0
                if self._batch_channel_changes[b] >= self.max_channel_changes:
                    return ShieldResult(
                        Outcome.DEFERRED,
                        f"channel-change budget spent: at most {self.max_channel_changes} APs may change "
                        "channel at once (first come, first served); ask again later",
                        req,
                    )
        return ShieldResult(outcome, note or "ok", req, changed, cur)

    def note_applied(self, result: ShieldResult, now_s: float) -> None:
        """Book an applied change against cooldown and the simultaneous-change limit."""
        req = result.request
        self.cooldown.record(req.network, req.ap, result.applied, now_s)
        if not req.emergency and ("channel" in result.applied or "width_mhz" in result.applied):
            if now_s != self._batch_time_s:
                self._batch_time_s = now_s
                self._batch_channel_changes[:] = 0
            self._batch_channel_changes[req.network] += 1

    def _why_illegal(self, b: int, ap: int, slot: int, now_s: float, emergency: bool) -> str:
        sim = self.sim
        s = SLOTS[slot]
        if not sim.domain.slot_allowed[slot]:
            return f"channel {s.channel} at {s.width_mhz} MHz is not allowed in {sim.domain.name}"
        if SLOT_BAND_GHZ[slot] != sim.ap_band_ghz[ap]:
            return f"AP {ap} is a {sim.ap_band_ghz[ap]:g} GHz radio; channel {s.channel} is not"
        if s.width_mhz > sim.ap_max_width_mhz[ap]:
            return f"AP {ap} supports at most {sim.ap_max_width_mhz[ap]} MHz"
        if self.dfs.barred(b, slot, now_s):
            until = float(self.dfs.barred_until_s[b, list(s.members)].max())
            return f"channel {s.channel} is barred after radar (non-occupancy until t={until:.0f} s)"
        if not (self.config.allow_dfs or emergency) and sim.domain.slot_dfs[slot]:
            return f"channel {s.channel} is a DFS channel and DFS is disabled for requests"
        return "not allowed"
