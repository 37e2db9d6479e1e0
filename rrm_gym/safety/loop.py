"""The event loop: the one path by which the network's configuration changes.

shield -> apply -> audit -> monitor -> (rollback). Detectors watch every tick of the
simulation; when one fires mid-span the loop re-runs the span up to that tick (the
simulation is deterministic within an epoch) and acts at the next tick boundary, so a
radar detection is answered within one simulated second.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rrm_gym.checks import check_int, is_number, require_int
from rrm_gym.radio.regulatory import SLOT_CHANNEL, SLOT_MEMBERS, SLOT_WIDTH_MHZ, slot_index
from rrm_gym.safety.audit import AuditLog
from rrm_gym.safety.detectors import DetectorConfig, Detectors
from rrm_gym.safety.dfs import ComplianceMonitor, DfsState
from rrm_gym.safety.events import (
    ChangeRequest,
    Event,
    EventQueue,
    EventType,
    Outcome,
    ShieldResult,
    Source,
    check_request,
)
from rrm_gym.safety.rollback import RollbackConfig, RollbackManager, Watch
from rrm_gym.safety.selector import ChannelSelector, SelectorWeights
from rrm_gym.safety.shield import Cooldown, CooldownConfig, PowerChecks, Shield, ShieldConfig
from rrm_gym.sim import Sensing, WirelessSimulation
from rrm_gym.sim.simulation import check_duration

# enum labels as plain strings (an enum's .name / .value is a slow descriptor in the hot path)
_TYPE_NAME = {t: t.name for t in EventType}
_SOURCE_VALUE = {src: src.value for src in Source}
_OUTCOME_VALUE = {o: o.value for o in Outcome}


@dataclass(frozen=True)
class EventLoopConfig:
    detectors: DetectorConfig = field(default_factory=DetectorConfig)
    shield: ShieldConfig = field(default_factory=ShieldConfig)
    cooldown: CooldownConfig = field(default_factory=CooldownConfig)
    rollback: RollbackConfig = field(default_factory=RollbackConfig)
    selector: SelectorWeights = field(default_factory=SelectorWeights)
    auto_rollback: bool = True
    react_to_interference: bool = True
    react_to_saturation: bool = True
    saturation_margin: float = 10.0  # selector points a saturated AP's new channel must win by


class EventLoop:
    """Safety layer over a :class:`WirelessSimulation` (all B networks).

    ``advance(duration_s)`` runs the simulation with detectors, DFS handling, rollback
    monitoring and compliance accounting; ``submit(request)`` is the only way to change
    an AP (agents, people and the loop's own rules alike).
    """

    def __init__(
        self,
        sim: WirelessSimulation,
        config: EventLoopConfig | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.sim = sim
        self.config = cfg = config or EventLoopConfig()
        b, n = sim.num_networks, sim.num_aps
        self.audit = audit if audit is not None else AuditLog()
        self.dfs = DfsState(sim.domain, b, n)
        self.cooldown = Cooldown(cfg.cooldown, b, n)
        self.shield = Shield(sim, self.dfs, self.cooldown, cfg.shield)
        self.detectors = Detectors(cfg.detectors, b, n)
        self.rollbacks = RollbackManager(cfg.rollback, b, n)
        self.selector = ChannelSelector(cfg.selector)
        self.compliance = ComplianceMonitor(sim)
        self._queue = EventQueue()
        # detections the loop acts on at once; the others are counted at the end of the span
        urgent = {EventType.DFS_RADAR}
        if cfg.react_to_interference:
            urgent.add(EventType.NON_WIFI_INTERFERENCE)
        if cfg.react_to_saturation:
            urgent.add(EventType.SPECTRUM_SATURATION)
        self._urgent = frozenset(urgent)
        self._timers: list[tuple[float, int, int, int]] = []  # (time, seq, network, ap): CAC ends
        self._timer_seq = 0
        self.last_sensing: Sensing | None = None
        self.events_by_type: Counter[str] = Counter()
        self.events_by_source: Counter[str] = Counter()
        self.events_by_network_type: Counter[tuple[int, str]] = Counter()  # (network, event type)
        self.shield_outcomes: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.dfs_reaction_s: list[float] = []
        # results and audit ids since the last take_results(), kept from its first call on (an env
        # calls it at reset): until then these drop what they are given, so a loop driven by what
        # submit() returns holds none of them, however long it runs
        self.step_results: list[ShieldResult] | deque[ShieldResult] = deque(maxlen=0)
        self.step_audit_ids: list[str] | deque[str] = deque(maxlen=0)
        self.step_audit_networks: list[int] | deque[int] = deque(maxlen=0)  # the network of each audit id
        self.last_token: str | None = None  # rollback token of the latest watched change

    # ------------------------------------------------------------------ public API
    @property
    def now_s(self) -> float:
        return self.sim.time_s

    def advance(self, duration_s: int) -> Sensing:
        """Run the network for ``duration_s`` seconds (whole, at most a day) under the safety layer;
        what was sensed."""
        sim = self.sim
        end = sim.time_s + check_duration(duration_s)
        parts = []
        while sim.time_s < end:
            now = sim.time_s
            epoch_end = sim.next_epoch_s if sim.next_epoch_s > now else now + sim.epoch_s
            stop = min(end, epoch_end, self._next_deadline_s())
            stop = max(stop, now + 1)
            slot, power = sim.slot.copy(), sim.power_dbm.copy()
            s = sim.run(int(stop - now))
            first = self.detectors.first_tick(s, self._urgent)
            if first is not None and first + 1 < s.ticks:
                sim.rewind(now)
                s = sim.run(first + 1)
            self.compliance.observe(s, slot, power)
            self.rollbacks.observe(s)
            self.last_sensing = s
            parts.append(s)
            for d in self.detectors.consume(s):
                ev = Event(
                    d.type,
                    d.network,
                    d.ap,
                    Source.DETECTED,
                    s.t0_s + d.tick,
                    {**d.data, "slot": int(slot[d.network, d.ap])},
                )
                self._count(ev)
                self._queue.push(ev)
            self._fire_timers()
            self._drain()
            self._check_rollbacks()
        return Sensing.concat(parts)

    def submit(self, request: ChangeRequest) -> ShieldResult:
        """Shield, apply, audit and (for non-emergency changes) watch one change request.
        An agent cannot claim an emergency: only the loop's own rules and people bypass cooldown.
        A request whose fields have the wrong types is refused (``TypeError`` / ``ValueError``)
        before anything is shielded, applied or audited."""
        request = check_request(request)
        if request.channel is None and request.width_mhz is None:
            return self._submit_powers([request])[0]
        return self._submit_checked(request)

    def _submit_checked(self, request: ChangeRequest) -> ShieldResult:
        """:meth:`submit` by the general path: :meth:`Shield.check` and :meth:`_handle_request`."""
        request = _without_agent_emergency(request)
        ev = Event(EventType.CHANGE_REQUEST, request.network, request.ap, request.source, self.now_s, request=request)
        self._count(ev)
        return self._handle_request(ev, request)

    def submit_many(self, requests: Iterable[ChangeRequest]) -> list[ShieldResult]:
        """``[submit(r) for r in requests]``, with the same results, changes, audit records and
        rollback watches, but with power-only requests checked and applied a batch at a time
        (a batch holds at most one request per AP, so none depends on another). Every request's
        fields are checked first: one with the wrong types refuses the whole call, and nothing of
        it is applied or audited."""
        requests = [check_request(r) for r in requests]
        out: list[ShieldResult] = []
        batch: list[ChangeRequest] = []
        seen: set = set()
        n = self.sim.num_aps
        for req in requests:
            if req.channel is None and req.width_mhz is None:
                b, ap = req.network, req.ap
                # a flat index where both are ints (no tuple for the garbage collector to track per
                # request); two requests of one AP always meet, and a clash of others (an AP out of
                # range) only starts a new batch early
                key = b * n + ap if type(b) is int and type(ap) is int else (b, ap)
                if key in seen:
                    out += self._submit_powers(batch)
                    batch, seen = [], set()
                batch.append(req)
                seen.add(key)
            else:
                if batch:
                    out += self._submit_powers(batch)
                    batch, seen = [], set()
                out.append(self._submit_checked(req))
        if batch:
            out += self._submit_powers(batch)
        return out

    def rollback(self, token: str) -> ShieldResult:
        """Undo the change that issued ``token`` (manual rollback)."""
        w = self.rollbacks.history.get(token)
        if w is None:
            raise KeyError(f"unknown or already rolled-back token {token!r}")
        self.rollbacks.close(w)
        return self._restore(w, manual=True, reason="manual rollback")

    def _where(self, ap_id: Any, network: Any) -> tuple[int, int]:
        """An injected event's AP and network, checked: ``ValueError`` / ``TypeError`` naming what is
        wrong before anything is counted or changed (numpy would read -1 as the last AP)."""
        return check_int("ap_id", ap_id, 0, self.sim.num_aps - 1), check_int(
            "network", network, 0, self.sim.num_networks - 1
        )

    def inject_dfs_event(self, ap_id: int, channel: int | None = None, network: int = 0) -> None:
        """Report radar on ``channel`` (default: the AP's primary channel) as AP ``ap_id`` would."""
        ap_id, network = self._where(ap_id, network)
        if channel is not None:
            slot_index(require_int("channel", channel))  # ValueError naming it, if no such 20 MHz channel
        ch = int(self.sim.channel[network, ap_id]) if channel is None else int(channel)
        slot = int(self.sim.slot[network, ap_id])
        ev = Event(EventType.DFS_RADAR, network, ap_id, Source.INJECTED, self.now_s, {"channel": ch, "slot": slot})
        self._inject(ev)

    def inject_interference_event(
        self, ap_id: int, kind: str = "generic", duty_cycle: float = 0.8, confidence: float = 0.9, network: int = 0
    ) -> None:
        ap_id, network = self._where(ap_id, network)
        if type(kind) is not str or not kind:
            raise TypeError(f"kind must be a non-empty string, got {kind!r}")
        duty_cycle, confidence = _share("duty_cycle", duty_cycle), _share("confidence", confidence)
        data = {
            "kind": kind,
            "duty_cycle": duty_cycle,
            "confidence": confidence,
            "slot": int(self.sim.slot[network, ap_id]),
        }
        self._inject(Event(EventType.NON_WIFI_INTERFERENCE, network, ap_id, Source.INJECTED, self.now_s, data))

    def inject_spectrum_saturation_event(self, ap_id: int, cca_busy_pct: float, network: int = 0) -> None:
        ap_id, network = self._where(ap_id, network)
        data = {"cca_busy_pct": _share("cca_busy_pct", cca_busy_pct, 100.0), "slot": int(self.sim.slot[network, ap_id])}
        self._inject(Event(EventType.SPECTRUM_SATURATION, network, ap_id, Source.INJECTED, self.now_s, data))

    def take_results(self) -> tuple[list[ShieldResult], list[str]]:
        """Shield results and audit ids since the last call (for an env's ``info``). They are kept
        from the first call on: the first returns none."""
        out = (self.step_results, self.step_audit_ids) if type(self.step_results) is list else ([], [])
        self.step_results, self.step_audit_ids, self.step_audit_networks = [], [], []
        return out

    def counters(self) -> dict[str, Any]:
        reaction = self.dfs_reaction_s
        return {
            "events_by_type": dict(self.events_by_type),
            "events_by_source": dict(self.events_by_source),
            "actions_executed": sum(self.actions.values()),
            "actions_by_type": dict(self.actions),
            "shield_outcomes": dict(self.shield_outcomes),
            "rollbacks_auto": self.rollbacks.auto_rollbacks,
            "rollbacks_manual": self.rollbacks.manual_rollbacks,
            "audit_records_by_status": dict(self.audit.counts_by_status),
            "cooldown_deferrals": self.cooldown.deferrals,
            "dfs_reactions": len(reaction),
            "dfs_reaction_worst_s": max(reaction, default=0.0),
            "dfs_reaction_mean_s": float(np.mean(reaction)) if reaction else 0.0,
            **self.compliance.counters(),
        }

    # ------------------------------------------------------------------ internals
    def _count(self, ev: Event) -> None:
        name = _TYPE_NAME[ev.type]
        self.events_by_type[name] += 1
        self.events_by_source[_SOURCE_VALUE[ev.source]] += 1
        self.events_by_network_type[ev.network, name] += 1

    def _inject(self, ev: Event) -> None:
        self._count(ev)
        self._queue.push(ev)
        self._drain()

    def _next_deadline_s(self) -> float:
        # CAC completions split a span (the radio must come back on time); rollback windows do
        # not: they are judged at the first span boundary after they close.
        return self._timers[0][0] if self._timers else np.inf

    def _drain(self) -> None:
        handlers = {
            EventType.DFS_RADAR: self._on_radar,
            EventType.NON_WIFI_INTERFERENCE: self._on_interference,
            EventType.SPECTRUM_SATURATION: self._on_saturation,
        }
        while self._queue:
            ev = self._queue.pop()
            handlers[ev.type](ev)

    def _fire_timers(self) -> None:
        now = self.now_s
        while self._timers and self._timers[0][0] <= now:
            _, _, b, ap = heapq.heappop(self._timers)
            if self.dfs.cac_until_s[b, ap] <= now and self.dfs.cac_slot[b, ap] == self.sim.slot[b, ap]:
                self.dfs.end_cac(b, ap)
                self.sim.set_tx_enabled(ap, True, network=b)

    def _check_rollbacks(self) -> None:
        for w in self.rollbacks.due(self.now_s):
            degraded, why, kpis = self.rollbacks.verdict(w)
            if degraded and self.config.auto_rollback:
                ev = Event(
                    EventType.DEGRADATION, w.network, w.ap, Source.DETECTED, self.now_s, {"token": w.token, **kpis}
                )
                self._count(ev)
                self._restore(w, manual=False, reason=f"degradation: {why}", kpis=kpis)

    # --- handlers
    def _stale(self, ev: Event) -> bool:
        """A detection made on a channel the AP has since left needs no action."""
        return "slot" in ev.data and ev.data["slot"] != int(self.sim.slot[ev.network, ev.ap])

    def _on_radar(self, ev: Event) -> None:
        b, ap, now = ev.network, ev.ap, self.now_s
        slot_now = int(self.sim.slot[b, ap])
        band_slot = ev.data.get("slot", slot_now)  # the band the AP was using when it saw the radar
        radar_slot = band_slot
        if "channel" in ev.data:
            # radar reported on one 20 MHz channel: the whole band if it is one of the band's
            # channels (the AP cannot tell which part of its band the radar is in), else that channel
            heard = slot_index(ev.data["channel"])
            radar_slot = band_slot if (SLOT_MEMBERS[heard] & SLOT_MEMBERS[band_slot]).any() else heard
        if not self.sim.domain.slot_dfs[radar_slot]:
            return  # radar is only looked for, and only binding, on DFS channels
        self.dfs.bar(b, radar_slot, now)
        if ev.source is Source.INJECTED:
            # the compliance monitor sees simulated pulses by itself; a reported one is radar too
            self.compliance.note_radar(b, ap, SLOT_MEMBERS[radar_slot], ev.detected_s)
        if not (SLOT_MEMBERS[slot_now] & SLOT_MEMBERS[radar_slot]).any():
            return  # the AP is not on the radar's channel: barring it is all there is to do
        self.rollbacks.forget_ap(b, ap)
        target = self._select(b, ap, emergency=True)
        if target is None:
            # nowhere legal to go: stop transmitting, which is always compliant
            self.sim.set_tx_enabled(ap, False, network=b)
            self._audit(
                ev,
                "RADIO_OFF",
                [{"param": "tx_enabled", "old_value": True, "new_value": False}],
                "SUCCESS",
                "radar: no legal channel left",
            )
            self.dfs_reaction_s.append(now - ev.detected_s)
            return
        req = ChangeRequest(
            ap,
            int(SLOT_CHANNEL[target]),
            int(SLOT_WIDTH_MHZ[target]),
            network=b,
            source=ev.source,
            loop="rule",
            emergency=True,
            reason=f"radar on channel {int(SLOT_CHANNEL[radar_slot])}",
        )
        result = self._handle_request(ev, req)
        if result.accepted:
            self.dfs_reaction_s.append(now - ev.detected_s)

    def _on_interference(self, ev: Event) -> None:
        b, ap = ev.network, ev.ap
        self.selector.note_nonwifi(b, int(ev.data.get("slot", self.sim.slot[b, ap])), self.now_s)
        if self._stale(ev) or not self.config.react_to_interference:
            return
        target = self._select(b, ap, emergency=False)
        if target is not None:
            reason = (
                f"non-Wi-Fi interference ({ev.data.get('kind', 'unknown')}, duty {ev.data.get('duty_cycle', 0):.0%})"
            )
            self._handle_request(ev, self._move_request(ev, target, reason))

    def _on_saturation(self, ev: Event) -> None:
        b, ap = ev.network, ev.ap
        if self._stale(ev) or not self.config.react_to_saturation:
            return
        cost = self._costs(b, ap, emergency=False)
        cur = int(self.sim.slot[b, ap])
        stay = cost[cur]
        cost[cur] = np.inf
        best = int(np.argmin(cost))
        if np.isfinite(cost[best]) and cost[best] + self.config.saturation_margin < stay:
            reason = f"spectrum saturation (CCA busy {ev.data.get('cca_busy_pct', 0):.0f} %)"
            self._handle_request(ev, self._move_request(ev, best, reason))

    def _move_request(self, ev: Event, slot: int, reason: str) -> ChangeRequest:
        return ChangeRequest(
            ev.ap,
            int(SLOT_CHANNEL[slot]),
            int(SLOT_WIDTH_MHZ[slot]),
            network=ev.network,
            source=ev.source,
            loop="rule",
            reason=reason,
        )

    def _costs(self, b: int, ap: int, emergency: bool) -> np.ndarray:
        """Selector cost of every slot for AP ``ap``, staying put included (it needs no CAC)."""
        cur = int(self.sim.slot[b, ap])
        cand = self.shield.legal_slots(b, ap, self.now_s, emergency)
        cac_s = self.sim.domain.slot_cac_s.copy()
        cac_s[cur] = 0.0
        if not self.dfs.barred(b, cur, self.now_s):
            cand[cur] = True
        return self.selector.costs(b, ap, cand, self.sim.slot[b], self.last_sensing, cac_s, self.now_s)

    def _select(self, b: int, ap: int, emergency: bool) -> int | None:
        cost = self._costs(b, ap, emergency)
        cost[int(self.sim.slot[b, ap])] = np.inf
        best = int(np.argmin(cost))
        return best if np.isfinite(cost[best]) else None

    # --- the one change path
    def _handle_request(self, ev: Event, req: ChangeRequest) -> ShieldResult:
        now = self.now_s
        result = self.shield.check(req, now)
        self.shield_outcomes[_OUTCOME_VALUE[result.outcome]] += 1
        self.step_results.append(result)
        applied = result.applied
        if not result.accepted:
            # the audit status is the outcome: REJECTED (cooldown included; the reason says when
            # the parameter may change again), DEFERRED (the channel-change budget was spent)
            self._audit(ev, _action(req.params()), [], result.outcome.value, result.reason, req=req)
            return result
        if not applied:
            return result  # nothing to change: not an action, not audited
        self._apply(req.network, req.ap, applied, csa=req.emergency)
        self.shield.note_applied(result, now)
        self._book_applied(ev, req, result, now)
        return result

    def _submit_powers(self, requests: list[ChangeRequest]) -> list[ShieldResult]:
        """Power-only requests for distinct APs: :meth:`_submit_checked` for each, in order, with
        the shield's rules applied to all of them at once (:meth:`Shield.check_powers`) and what
        follows (results, watches, audit records, counters) in one pass. Requests the array
        check does not take (an AP or network out of range or not an integer, a power that is not
        a finite number) go the general way, which names what is wrong."""
        sim, sh, now = self.sim, self.shield, self.now_s
        requests = [_without_agent_emergency(r) for r in requests]
        try:
            b = np.array([r.network for r in requests], dtype=np.int64)
            ap = np.array([r.ap for r in requests], dtype=np.int64)
            asked = np.array([np.nan if r.power_dbm is None else float(r.power_dbm) for r in requests])
        except (TypeError, ValueError, OverflowError):
            return [self._submit_checked(r) for r in requests]
        given = np.array([r.power_dbm is not None for r in requests])
        in_range = (b >= 0) & (b < sim.num_networks) & (ap >= 0) & (ap < sim.num_aps)
        if not in_range.all() or not np.isfinite(asked[given]).all():
            return [self._submit_checked(r) for r in requests]
        checks = sh.check_powers(b, ap, asked, np.array([r.emergency for r in requests]), now)
        results, t, applied = [], float(now), []
        nets, aps = b.tolist(), ap.tolist()
        for i, req in enumerate(requests):
            result = checks.result(i, req)
            results.append(result)
            code, source = checks.code[i], _SOURCE_VALUE[req.source]
            if code == PowerChecks.UNCHANGED:
                continue  # nothing to change: not an action, not audited
            if code != PowerChecks.APPLY:  # rejected: cooldown, or an EIRP limit below the radio's minimum
                self._record(
                    t, "CHANGE_REQUEST", source, "REJECTED", "POWER_CHANGE", nets[i], aps[i], [], None, result.reason,
                    _request_details(req),
                )  # fmt: skip
                continue
            old, new = checks.cur[i], checks.clipped[i]
            token = self._watch_change(req, nets[i], aps[i], {"power_dbm": old}, {"power_dbm": new}, now)
            applied.append(i)
            status, reason = (
                ("MODIFIED", result.reason) if result.outcome is Outcome.MODIFIED else ("SUCCESS", req.reason)
            )
            changes = [{"param": "power_dbm", "old_value": old, "new_value": new}]
            self._record(
                t, "CHANGE_REQUEST", source, status, "POWER_CHANGE", nets[i], aps[i], changes, token, reason,
                _request_details(req),
            )  # fmt: skip
        if applied:
            sim.set_power_many(ap[applied], np.array(checks.clipped)[applied], networks=b[applied])
            sh.cooldown.last_change_s[b[applied], ap[applied], 2] = now
            self.actions["POWER_CHANGE"] += len(applied)
        self.events_by_type["CHANGE_REQUEST"] += len(requests)
        self.events_by_source.update(_SOURCE_VALUE[r.source] for r in requests)
        self.events_by_network_type.update((n, "CHANGE_REQUEST") for n in nets)
        self.shield_outcomes.update(_OUTCOME_VALUE[r.outcome] for r in results)
        self.step_results += results
        return results

    def _record(self, *fields: Any) -> None:
        """One audit record (the fields of :meth:`AuditLog.record`), its id and network kept for the step."""
        self.step_audit_ids.append(self.audit.record(*fields))
        self.step_audit_networks.append(fields[5])

    def _book_applied(self, ev: Event, req: ChangeRequest, result: ShieldResult, now: float) -> None:
        """Rollback watch, action count and audit record of a change that has been made."""
        b, ap, applied, old = req.network, req.ap, result.applied, result.previous
        changes = [{"param": p, "old_value": old[p], "new_value": v} for p, v in applied.items()]
        # the snapshot holds only what this change touched, so a rollback undoes exactly it
        token = self._watch_change(req, b, ap, {p: old[p] for p in applied}, dict(applied), now)
        modified = result.outcome is Outcome.MODIFIED
        action = _action(applied)
        self.actions[action] += 1
        status = "MODIFIED" if modified else "SUCCESS"
        self._audit(ev, action, changes, status, result.reason if modified else req.reason, req=req, token=token)

    def _watch_change(
        self,
        req: ChangeRequest,
        b: int,
        ap: int,
        before: dict[str, Any],
        after: dict[str, Any],
        now: float,
    ) -> str | None:
        """Put a change just applied under rollback watch; its token (``None`` when not watched).
        ``before`` and ``after`` are the parameters it changed. A newer change supersedes what was
        watched on the AP, and is judged from here on; an emergency move or a rollback overrides it
        and is not watched."""
        if self.config.auto_rollback and not (req.emergency or req.loop == "rollback"):
            token = self.last_token = self.rollbacks.watch(b, ap, before, after, now, "rb", req.loop)
            return token
        self.rollbacks.forget_ap(b, ap)
        return None

    def _apply(self, b: int, ap: int, params: dict[str, Any], csa: bool) -> None:
        sim = self.sim
        if "channel" in params or "width_mhz" in params:
            ch = params.get("channel", int(sim.channel[b, ap]))
            width = params.get("width_mhz", int(sim.width_mhz[b, ap]))
            sim.set_channel(ap, ch, width, network=b, csa=csa)
            self.detectors.reset_ap(b, ap)
            slot = int(sim.slot[b, ap])
            if self.dfs.needs_cac(slot) > 0:
                until = self.dfs.start_cac(b, ap, slot, self.now_s)
                sim.set_tx_enabled(ap, False, network=b)
                self._timer_seq += 1
                heapq.heappush(self._timers, (until, self._timer_seq, b, ap))
            elif self.dfs.cac_slot[b, ap] >= 0 or not sim.tx_enabled[b, ap]:
                self.dfs.end_cac(b, ap)
                sim.set_tx_enabled(ap, True, network=b)
        if "power_dbm" in params:
            sim.set_power(ap, params["power_dbm"], network=b)

    def _restore(self, w: Watch, manual: bool, reason: str, kpis: dict | None = None) -> ShieldResult:
        """Put back the configuration ``w`` replaced; never onto a barred channel."""
        req = ChangeRequest(
            w.ap,
            w.old.get("channel"),
            w.old.get("width_mhz"),
            w.old.get("power_dbm"),
            network=w.network,
            source=Source.MANUAL if manual else Source.RULE,
            loop="rollback",
            emergency=True,
            reason=reason,
        )
        ev = Event(EventType.DEGRADATION, w.network, w.ap, req.source, self.now_s, {"token": w.token})
        result = self.shield.check(req, self.now_s)
        remaining: dict[str, Any] = {}
        if not result.accepted and "barred" in result.reason and "power_dbm" in w.old:
            remaining = {p: v for p, v in w.old.items() if p != "power_dbm"}
            # the old channel is in radar non-occupancy: restore the power only
            req = ChangeRequest(
                w.ap,
                power_dbm=w.old["power_dbm"],
                network=w.network,
                source=req.source,
                loop="rollback",
                emergency=True,
                reason=f"{reason} (old channel barred: power only)",
            )
            result = self.shield.check(req, self.now_s)
        self.shield_outcomes[_OUTCOME_VALUE[result.outcome]] += 1
        if not result.accepted:
            self._audit(ev, "ROLLBACK", [], "FAILED", result.reason, token=w.token)
            return result
        b, ap = w.network, w.ap
        old = self.sim.ap_config(ap, b)
        if result.applied:
            self._apply(b, ap, result.applied, csa=False)
            self.shield.note_applied(result, self.now_s)
        changes = [{"param": p, "old_value": old[p], "new_value": v} for p, v in result.applied.items()]
        if manual:
            self.rollbacks.manual_rollbacks += 1
        else:
            self.rollbacks.auto_rollbacks += 1
        self.rollbacks.by_loop[w.loop] += 1
        self.rollbacks.by_network_loop[w.network, w.loop] += 1
        self.actions["ROLLBACK"] += 1
        self._audit(ev, "ROLLBACK", changes, "ROLLED_BACK", req.reason, token=w.token, details=kpis)
        if remaining:
            # the channel part can be restored by the same token once it is free again
            self.rollbacks.keep_old(w, remaining)
        else:
            self.rollbacks.forget(w)
        return result

    def _audit(
        self,
        ev: Event,
        action: str,
        changes: list[dict[str, Any]],
        status: str,
        reason: str,
        req: ChangeRequest | None = None,
        token: str | None = None,
        details: dict | None = None,
    ) -> None:
        info = {k: v for k, v in ev.data.items() if k != "slot"} if ev.data else {}
        if req is not None:
            info.update(_request_details(req))
        if details:
            info.update(details)
        if ev.type is EventType.DFS_RADAR:
            info["detected_s"] = ev.detected_s
        self._record(
            float(self.now_s),
            _TYPE_NAME[ev.type],
            _SOURCE_VALUE[ev.source],
            status,
            action,
            int(ev.network),
            int(ev.ap),
            changes,
            token,
            reason,
            info,
        )


def _share(name: str, value: Any, top: float = 1.0) -> float:
    """``value`` as a float in [0, ``top``]; ``TypeError`` / ``ValueError`` naming ``name`` otherwise."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not 0.0 <= value <= top:  # NaN fails too
        raise ValueError(f"{name} must be in [0, {top:g}], got {value}")
    return float(value)


def _without_agent_emergency(request: ChangeRequest) -> ChangeRequest:
    """An agent cannot claim an emergency: its request as an ordinary one."""
    if request.emergency and request.source is Source.AGENT:
        return dataclasses.replace(request, emergency=False)
    return request


def _request_details(req: ChangeRequest) -> dict[str, Any]:
    """The details of a change request's audit record: what was asked for, and by which loop."""
    return {"requested": req.params(), "loop": req.loop}


def _action(params: dict[str, Any]) -> str:
    if "channel" in params or "width_mhz" in params:
        return "CHANNEL_CHANGE"
    if "power_dbm" in params:
        return "POWER_CHANGE"
    return "NONE"
