"""Rollback manager: snapshot before a change, watch a window after it, undo it if KPIs degrade."""

from __future__ import annotations

import itertools
import operator
from collections import Counter, deque
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


@dataclass(slots=True)
class Watch:
    """One applied change under observation: what to restore, the AP's KPI baseline before the
    change, and the KPI sums over the window so far (plain numbers: a watch is made per change,
    and the manager keeps thousands for manual rollback)."""

    token: str
    network: int
    ap: int
    old: dict[str, Any]  # configuration to restore
    new: dict[str, Any]
    retry_before: float
    satisfaction_before: float  # served share of offered traffic
    start_s: float
    end_s: float
    audit_id: str | None = None
    loop: str = "manual"  # the ``loop`` tag of the change request, so a rollback is charged to its loop
    ticks: int = 0
    retry_sum: float = 0.0  # per-tick sums over the window so far
    served_sum: float = 0.0
    offered_sum: float = 0.0
    seq: int = 0  # order of the changes watched


_watch_order = operator.attrgetter("seq")


class RollbackManager:
    """Keeps per-AP KPI baselines and the changes being watched; decides on rollbacks."""

    def __init__(self, config: RollbackConfig, num_networks: int, num_aps: int, history_limit: int = 10_000) -> None:
        self.config = config
        self._retry = np.zeros((num_networks, num_aps))
        self._served = np.zeros((num_networks, num_aps))
        self._offered = np.zeros((num_networks, num_aps))
        self._warm = False
        self._baseline_rows: tuple[list, list, list] | None = None
        # the open watch of each (network, AP), flat: a newer change on the AP supersedes it
        self._num_aps = num_aps
        self._open: list[Watch | None] = [None] * (num_networks * num_aps)
        self._window_s = float(config.window_s)
        # token -> watch, for manual rollback after the window; the oldest are forgotten past the
        # limit (the tokens in the order they were issued: a dict and a deque cost less than an
        # OrderedDict, once per change)
        self.history: dict[str, Watch] = {}
        self._issued: deque[str] = deque()
        self.history_limit = history_limit
        self._token_heads: dict[tuple[str, int, int], str] = {}
        self._ids = itertools.count(1)
        self.auto_rollbacks = 0
        self.manual_rollbacks = 0
        self.by_loop: Counter[str] = Counter()  # rollbacks (auto and manual) by the loop whose change was undone
        self.by_network_loop: Counter[tuple[int, str]] = Counter()  # the same per (network, loop)

    @property
    def watching(self) -> dict[str, Watch]:
        """The open watches by token (at most one per AP), oldest change first."""
        return {w.token: w for w in sorted((w for w in self._open if w is not None), key=_watch_order)}

    def close(self, w: Watch) -> None:
        """Stop watching ``w`` (a manual rollback undid it); nothing if it is not open."""
        k = w.network * self._num_aps + w.ap
        if self._open[k] is w:
            self._open[k] = None

    def observe(self, s: Sensing) -> None:
        """Fold a span into the baselines and into every open watch."""
        retry = s.retry_rate.mean(axis=1)  # [B, N]
        served = s.throughput_mbps.mean(axis=1)
        offered = s.demand_mbps.mean(axis=1)
        a = 1.0 - np.exp(-s.ticks / self.config.baseline_tau_s)
        self._baseline_rows = None
        if not self._warm:
            self._retry, self._served, self._offered, self._warm = retry, served, offered, True
        else:
            self._retry += a * (retry - self._retry)
            self._served += a * (served - self._served)
            self._offered += a * (offered - self._offered)
        watching = [w for w in self._open if w is not None]
        if not watching:
            return
        t0, t1 = s.t0_s, s.t0_s + s.ticks
        inside = []  # the common case: the whole span is inside the window
        for w in watching:
            lo, hi = max(t0, w.start_s), min(t1, w.end_s)
            if hi <= lo:
                continue
            w.ticks += int(hi - lo)
            if lo == t0 and hi == t1:
                inside.append(w)
            else:
                a, b, n, ap = int(lo - t0), int(hi - t0), w.network, w.ap
                w.retry_sum += float(s.retry_rate[n, a:b, ap].sum())
                w.served_sum += float(s.throughput_mbps[n, a:b, ap].sum())
                w.offered_sum += float(s.demand_mbps[n, a:b, ap].sum())
        if inside:
            nets = [w.network for w in inside]
            aps = [w.ap for w in inside]
            totals = zip(
                (retry[nets, aps] * s.ticks).tolist(),
                (served[nets, aps] * s.ticks).tolist(),
                (offered[nets, aps] * s.ticks).tolist(),
                strict=True,
            )
            for w, (r, sv, of) in zip(inside, totals, strict=True):
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
    ) -> Watch:
        """Watch a change just applied to an AP, superseding the AP's open watch: the newer change
        is judged from here on (against the AP's baseline now)."""
        seq = next(self._ids)
        head = self._token_heads.get((prefix, network, ap))
        if head is None:
            head = self._token_heads[prefix, network, ap] = f"{prefix}-n{network}-ap{ap}-"
        token = head + str(seq).zfill(6)  # f"{seq:06d}", at a third of the cost
        baseline = self._baseline_rows
        if baseline is None:  # Python numbers, once per span, for the per-change snapshots
            baseline = self._baseline_rows = (self._retry.tolist(), self._served.tolist(), self._offered.tolist())
        offered = baseline[2][network][ap]
        w = Watch(
            token,
            network,
            ap,
            old,
            new,
            baseline[0][network][ap],
            baseline[1][network][ap] / offered if offered > 0 else 1.0,
            now_s,
            now_s + self._window_s,
            None,
            loop,
            0,
            0.0,
            0.0,
            0.0,
            seq,  # (positionally: the call costs a third less than with a keyword)
        )
        self._open[network * self._num_aps + ap] = w
        history, issued = self.history, self._issued
        history[token] = w
        issued.append(token)
        while len(issued) > self.history_limit:
            history.pop(issued.popleft(), None)  # (a token rolled back is gone already)
        return w

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
        """Watches whose window has closed by ``now_s`` (removed from the open set)."""
        done = sorted((w for w in self._open if w is not None and w.end_s <= now_s), key=_watch_order)
        for w in done:
            self._open[w.network * self._num_aps + w.ap] = None
        return done

    def forget_ap(self, network: int, ap: int) -> None:
        """Stop watching an AP's changes (an emergency move superseded them)."""
        self._open[network * self._num_aps + ap] = None
