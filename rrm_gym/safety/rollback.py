"""Rollback manager: snapshot before a change, watch a window after it, undo it if KPIs degrade."""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from rrm_gym.sim import Sensing


@dataclass(frozen=True)
class RollbackConfig:
    window_s: int = 120  # monitoring window after a change
    baseline_tau_s: float = 300.0  # time constant of the KPI baseline kept before changes
    retry_rel_increase: float = 0.5  # roll back if retry rate rises by 50 % relative ...
    retry_abs_increase: float = 0.03  # ... and by at least 3 points
    satisfaction_drop: float = 0.15  # or the served share of offered traffic falls by 15 points

    def __post_init__(self) -> None:
        if self.window_s < 1 or self.baseline_tau_s <= 0:
            raise ValueError("window_s must be >= 1 and baseline_tau_s > 0")


@dataclass(slots=True, eq=False)
class Watch:
    """One applied change under observation: what to restore, the AP's KPI baseline before the
    change, and the KPI sums over the window so far."""

    token: str
    network: int
    ap: int
    old: dict[str, Any]  # configuration to restore
    new: dict[str, Any]
    retry_before: float
    satisfaction_before: float  # served share of offered traffic
    start_s: float
    end_s: float
    loop: str = "manual"  # the ``loop`` tag of the change request, so a rollback is charged to its loop
    ticks: int = 0
    retry_sum: float = 0.0  # per-tick sums over the window so far
    served_sum: float = 0.0
    offered_sum: float = 0.0
    seq: int = 0  # order of the changes watched


class RollbackManager:
    """Keeps per-AP KPI baselines and the changes being watched; decides on rollbacks.

    ``history`` holds the newest ``history_limit`` changes that may still be rolled back by
    token, oldest first; ``watching`` the open watch of each AP (a newer change on the AP
    supersedes it and is judged from there on)."""

    def __init__(self, config: RollbackConfig, num_networks: int, num_aps: int, history_limit: int = 10_000) -> None:
        self.config = config
        self._retry = np.zeros((num_networks, num_aps))
        self._served = np.zeros((num_networks, num_aps))
        self._offered = np.zeros((num_networks, num_aps))
        self._warm = False
        self._open: dict[tuple[int, int], Watch] = {}  # the open watch of each (network, AP)
        # oldest first; an OrderedDict, since a dict slows down as entries leave from the front
        self.history: OrderedDict[str, Watch] = OrderedDict()
        self.history_limit = history_limit
        self._seq = 0
        self.auto_rollbacks = 0
        self.manual_rollbacks = 0
        self.by_loop: Counter[str] = Counter()  # rollbacks (auto and manual) by the loop whose change was undone
        self.by_network_loop: Counter[tuple[int, str]] = Counter()  # the same per (network, loop)

    @property
    def watching(self) -> dict[str, Watch]:
        """The open watches by token (at most one per AP), oldest change first."""
        return {w.token: w for w in sorted(self._open.values(), key=lambda w: w.seq)}

    def close(self, w: Watch) -> None:
        """Stop watching ``w`` (a manual rollback undid it); nothing if it is not open."""
        if self._open.get((w.network, w.ap)) is w:
            del self._open[w.network, w.ap]

    def forget(self, w: Watch) -> None:
        """Forget ``w``'s token (its change was rolled back)."""
        if self.history.get(w.token) is w:
            del self.history[w.token]

    def keep_old(self, w: Watch, old: dict[str, Any]) -> None:
        """What ``w``'s token restores from now on (part of the change could not be undone yet)."""
        w.old = dict(old)

    def observe(self, s: Sensing) -> None:
        """Fold a span into the baselines and into every open watch."""
        retry = s.retry_rate.mean(axis=1)  # [B, N]
        served = s.throughput_mbps.mean(axis=1)
        offered = s.demand_mbps.mean(axis=1)
        a = 1.0 - np.exp(-s.ticks / self.config.baseline_tau_s)
        if not self._warm:
            self._retry, self._served, self._offered, self._warm = retry, served, offered, True
        else:
            self._retry += a * (retry - self._retry)
            self._served += a * (served - self._served)
            self._offered += a * (offered - self._offered)
        t0, t1 = s.t0_s, s.t0_s + s.ticks
        inside = []  # the common case: the whole span is inside the window
        for w in self._open.values():
            lo, hi = max(t0, w.start_s), min(t1, w.end_s)
            if hi <= lo:
                continue
            w.ticks += int(hi - lo)
            if lo == t0 and hi == t1:
                inside.append(w)
            else:
                i, j, b, ap = int(lo - t0), int(hi - t0), w.network, w.ap
                w.retry_sum += float(s.retry_rate[b, i:j, ap].sum())
                w.served_sum += float(s.throughput_mbps[b, i:j, ap].sum())
                w.offered_sum += float(s.demand_mbps[b, i:j, ap].sum())
        if inside:
            b, ap = [w.network for w in inside], [w.ap for w in inside]
            sums = zip(
                (retry[b, ap] * s.ticks).tolist(),
                (served[b, ap] * s.ticks).tolist(),
                (offered[b, ap] * s.ticks).tolist(),
                strict=True,
            )
            for w, (r, sv, of) in zip(inside, sums, strict=True):
                w.retry_sum += r
                w.served_sum += sv
                w.offered_sum += of

    def watch(
        self,
        network: int,
        ap: int,
        old: dict[str, Any],
        new: dict[str, Any],
        now_s: float,
        prefix: str = "rb",
        loop: str = "manual",
    ) -> str:
        """Watch a change just applied to an AP, superseding the AP's open watch: the newer change
        is judged from here on (against the AP's baseline now). ``old`` and ``new`` are kept as
        given (the caller's own dicts). Returns its rollback token."""
        seq = self._seq = self._seq + 1
        token = f"{prefix}-n{network}-ap{ap}-{seq:06d}"
        retry, served, offered = (float(x[network, ap]) for x in (self._retry, self._served, self._offered))
        w = Watch(
            token, network, ap, old, new, retry, served / offered if offered > 0 else 1.0, now_s,
            now_s + self.config.window_s, loop, seq=seq,
        )  # fmt: skip
        self._open[network, ap] = w
        history = self.history
        history[token] = w
        # the tokens of the newest history_limit changes may be rolled back by hand
        while history[next(iter(history))].seq <= seq - self.history_limit:
            history.popitem(last=False)
        return token

    def verdict(self, w: Watch) -> tuple[bool, str, dict[str, float]]:
        """Whether the watched change degraded the AP, why, and the KPIs compared."""
        c = self.config
        after_retry = w.retry_sum / max(w.ticks, 1)
        after_sat = w.served_sum / w.offered_sum if w.offered_sum > 0 else 1.0
        before_retry, before_sat = w.retry_before, w.satisfaction_before
        kpis = {
            "retry_before": round(before_retry, 4),
            "retry_after": round(after_retry, 4),
            "satisfaction_before": round(before_sat, 4),
            "satisfaction_after": round(after_sat, 4),
        }
        rise = after_retry - before_retry
        if rise >= c.retry_abs_increase and rise >= c.retry_rel_increase * max(before_retry, 1e-9):
            return True, f"retry rate {before_retry:.1%} -> {after_retry:.1%}", kpis
        if before_sat - after_sat >= c.satisfaction_drop:
            return True, f"served share of offered traffic {before_sat:.0%} -> {after_sat:.0%}", kpis
        return False, "kept", kpis

    def due(self, now_s: float) -> list[Watch]:
        """Watches whose window has closed by ``now_s`` (removed from the open set), oldest change first."""
        done = sorted((w for w in self._open.values() if w.end_s <= now_s), key=lambda w: w.seq)
        for w in done:
            del self._open[w.network, w.ap]
        return done

    def forget_ap(self, network: int, ap: int) -> None:
        """Stop watching an AP's changes (an emergency move superseded them)."""
        self._open.pop((network, ap), None)
