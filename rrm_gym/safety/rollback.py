"""Rollback manager: snapshot before a change, watch a window after it, undo it if KPIs degrade."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
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
    change, and the KPI sums over the window so far. A snapshot, made when asked for (the
    manager keeps its changes as plain values: see :class:`RollbackManager`)."""

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


_MISSING = object()
_POWER = "power_dbm"


class _History(Mapping[str, Watch]):
    """The changes that may still be rolled back by token, oldest first: each read is a
    :class:`Watch` made then (a snapshot, with the window's sums so far)."""

    __slots__ = ("_m",)

    def __init__(self, manager: RollbackManager) -> None:
        self._m = manager

    def __getitem__(self, token: str) -> Watch:
        seq = self._m._kept_seq(token)
        if seq is None:
            raise KeyError(token)
        return self._m._watch(seq, token)

    def get(self, token: str, default: Any = None) -> Any:
        seq = self._m._kept_seq(token)
        return default if seq is None else self._m._watch(seq, token)

    def pop(self, token: str, default: Any = _MISSING) -> Any:
        """Forget ``token`` (its change was rolled back); its watch, or ``default``."""
        seq = self._m._kept_seq(token)
        if seq is None:
            if default is _MISSING:
                raise KeyError(token)
            return default
        self._m._popped.add(seq)
        return self._m._watch(seq, token)

    def __contains__(self, token: object) -> bool:
        return type(token) is str and self._m._kept_seq(token) is not None

    def __iter__(self) -> Iterator[str]:
        m = self._m
        return (m._token(q) for q in range(m._oldest, m._next) if q not in m._popped)

    def __len__(self) -> int:
        m = self._m
        return m._next - m._oldest - sum(1 for q in m._popped if q >= m._oldest)


class RollbackManager:
    """Keeps per-AP KPI baselines and the changes being watched; decides on rollbacks.

    Each change is kept as plain values in columns by its sequence number, not as an object,
    and its token is not kept but written again from them: a change is made per request,
    thousands are kept for manual rollback, and every object kept per change (a Watch the
    garbage collector tracks, a token, a dict) cost a request more than writing the values.
    :class:`Watch` objects are made when one is asked for."""

    _TRIM = 4096  # columns are cut from the front this many changes at a time

    def __init__(self, config: RollbackConfig, num_networks: int, num_aps: int, history_limit: int = 10_000) -> None:
        self.config = config
        self._retry = np.zeros((num_networks, num_aps))
        self._served = np.zeros((num_networks, num_aps))
        self._offered = np.zeros((num_networks, num_aps))
        self._warm = False
        self._baseline_rows: tuple[list, list, list] | None = None
        self._num_aps = num_aps
        self._window_s = float(config.window_s)
        # the changes by sequence number, from _base on: token prefix, network, AP, configuration
        # to restore and the one set (a power alone as its number), the AP's KPI baseline
        # (retry, served, offered), start of the window, loop tag, and the window's sums so far
        # (ticks, retry, served, offered)
        self._base = 1  # sequence number of the columns' first entry
        self._next = 1
        self._cols: tuple[list, ...] = tuple([] for _ in range(14))
        self._appends = tuple(col.append for col in self._cols)  # (the columns are cut in place)
        # the open watch of each (network, AP), flat, by sequence number (0: none): a newer
        # change on the AP supersedes it
        self._open: list[int] = [0] * (num_networks * num_aps)
        # tokens of the newest history_limit changes may be rolled back by hand (from _oldest on),
        # but those rolled back already
        self._oldest = 1
        self._popped: set[int] = set()
        self._trim_at = 1 + self._TRIM
        self._looked_up: tuple[str | None, int] = (None, 0)
        # open watches of changes older than the columns hold, by sequence number, in columns alike
        self._aside_cols: tuple[list, ...] = tuple([] for _ in range(14))
        self._aside_at: dict[int, int] = {}
        self.history = _History(self)
        self.history_limit = history_limit
        self._token_heads: dict[tuple[str, int, int], str] = {}
        self.auto_rollbacks = 0
        self.manual_rollbacks = 0
        self.by_loop: Counter[str] = Counter()  # rollbacks (auto and manual) by the loop whose change was undone
        self.by_network_loop: Counter[tuple[int, str]] = Counter()  # the same per (network, loop)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_appends"]  # bound to this manager's columns (deepcopy would keep them so)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._appends = tuple(col.append for col in self._cols)

    def _head(self, prefix: str, network: int, ap: int) -> str:
        head = self._token_heads.get((prefix, network, ap))
        if head is None:
            head = self._token_heads[prefix, network, ap] = f"{prefix}-n{network}-ap{ap}-"
        return head

    def _where(self, seq: int) -> tuple[tuple[list, ...], int]:
        """The columns holding change ``seq`` and its index there (an open watch older than the
        changes kept is held aside when the columns are cut)."""
        i = seq - self._base
        if i >= 0:
            return self._cols, i
        return self._aside_cols, self._aside_at[seq]

    def _start(self, seq: int) -> float:
        c, i = self._where(seq)
        return c[8][i]

    def _token(self, seq: int) -> str:
        c, i = self._where(seq)
        return self._head(c[0][i], c[1][i], c[2][i]) + str(seq).zfill(6)

    def _kept_seq(self, token: str) -> int | None:
        """The sequence number of a change whose ``token`` may still be rolled back by hand. (A
        token always names the same change: the last one looked up is remembered, since a
        rollback looks its token up three times.)"""
        if token == self._looked_up[0]:
            seq = self._looked_up[1]
        else:
            digits = token[token.rfind("-") + 1 :]
            if not (digits.isdigit() and digits.isascii()):
                return None
            seq = int(digits)
            if not self._base <= seq < self._next or self._token(seq) != token:
                return None
            self._looked_up = (token, seq)
        if not self._oldest <= seq < self._next or seq in self._popped:
            return None
        return seq

    def _watch(self, seq: int, token: str | None = None) -> Watch:
        cols, i = self._where(seq)
        _, net, ap, old, new, rb, served, offered, start, loop, ticks, rs, ss, os_ = cols
        start_s, old_i, new_i, offered_i = start[i], old[i], new[i], offered[i]
        return Watch(
            self._token(seq) if token is None else token, net[i], ap[i],
            old_i if type(old_i) is dict else {_POWER: old_i}, new_i if type(new_i) is dict else {_POWER: new_i},
            rb[i], served[i] / offered_i if offered_i > 0 else 1.0, start_s, start_s + self._window_s, None,
            loop[i], ticks[i], rs[i], ss[i], os_[i], seq,
        )  # fmt: skip

    @property
    def watching(self) -> dict[str, Watch]:
        """The open watches by token (at most one per AP), oldest change first."""
        return {w.token: w for w in map(self._watch, sorted(q for q in self._open if q))}

    def close(self, w: Watch) -> None:
        """Stop watching ``w`` (a manual rollback undid it); nothing if it is not open."""
        k = w.network * self._num_aps + w.ap
        if self._open[k] == w.seq:
            self._open[k] = 0

    def forget(self, w: Watch) -> None:
        """Forget ``w``'s token (its change was rolled back); ``history.pop`` without the watch."""
        if self._kept_seq(w.token) == w.seq:
            self._popped.add(w.seq)

    def keep_old(self, w: Watch, old: dict[str, Any]) -> None:
        """What ``w``'s token restores from now on (part of the change could not be undone yet)."""
        if self._kept_seq(w.token) == w.seq:  # (the columns of a change kept are never cut)
            self._cols[3][w.seq - self._base] = dict(old)

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
        base = self._base
        self._fold(s, self._cols, [q - base for q in self._open if q >= base], retry, served, offered)
        if self._aside_at:
            aside = [self._aside_at[q] for q in self._open if 0 < q < base]
            self._fold(s, self._aside_cols, aside, retry, served, offered)

    def _fold(
        self, s: Sensing, cols: tuple[list, ...], watching: list[int], retry: np.ndarray, served: np.ndarray,
        offered: np.ndarray,
    ) -> None:  # fmt: skip
        """Add span ``s`` to the sums of the open watches at ``watching`` in ``cols`` (``retry``,
        ``served`` and ``offered``: the span's means per AP)."""
        if not watching:
            return
        _, nets, aps, _, _, _, _, _, starts, _, ticks, rsum, ssum, osum = cols
        t0, t1, window = s.t0_s, s.t0_s + s.ticks, self._window_s
        inside = []  # the common case: the whole span is inside the window
        for i in watching:
            start = starts[i]
            lo, hi = max(t0, start), min(t1, start + window)
            if hi <= lo:
                continue
            ticks[i] += int(hi - lo)
            if lo == t0 and hi == t1:
                inside.append(i)
            else:
                a, b, n, ap = int(lo - t0), int(hi - t0), nets[i], aps[i]
                rsum[i] += float(s.retry_rate[n, a:b, ap].sum())
                ssum[i] += float(s.throughput_mbps[n, a:b, ap].sum())
                osum[i] += float(s.demand_mbps[n, a:b, ap].sum())
        if inside:
            n_in = [nets[i] for i in inside]
            ap_in = [aps[i] for i in inside]
            totals = zip(
                (retry[n_in, ap_in] * s.ticks).tolist(),
                (served[n_in, ap_in] * s.ticks).tolist(),
                (offered[n_in, ap_in] * s.ticks).tolist(),
                strict=True,
            )
            for i, (r, sv, of) in zip(inside, totals, strict=True):
                rsum[i] += r
                ssum[i] += sv
                osum[i] += of

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
        is judged from here on (against the AP's baseline now). Returns its rollback token."""
        if len(old) == 1 == len(new) and type(old.get(_POWER)) is float and type(new.get(_POWER)) is float:
            return self.watch_power(network, ap, old[_POWER], new[_POWER], now_s, prefix, loop)
        return self._keep(network, ap, dict(old), dict(new), now_s, prefix, loop)

    def watch_power(
        self, network: int, ap: int, old_dbm: float, new_dbm: float, now_s: float, prefix: str = "rb",
        loop: str = "manual",
    ) -> str:  # fmt: skip
        """:meth:`watch` of a change of power alone, from ``old_dbm`` to ``new_dbm`` (floats)."""
        return self._keep(network, ap, old_dbm, new_dbm, now_s, prefix, loop)

    def _keep(self, network: int, ap: int, old: Any, new: Any, now_s: float, prefix: str, loop: str) -> str:
        seq = self._next
        self._next = seq + 1
        baseline = self._baseline_rows
        if baseline is None:  # Python numbers, once per span, for the per-change snapshots
            baseline = self._baseline_rows = (self._retry.tolist(), self._served.tolist(), self._offered.tolist())
        retry_row, served_row, offered_row = baseline[0][network], baseline[1][network], baseline[2][network]
        a = self._appends
        a[0](prefix)
        a[1](network)
        a[2](ap)
        a[3](old)
        a[4](new)
        a[5](retry_row[ap])
        a[6](served_row[ap])
        a[7](offered_row[ap])
        a[8](now_s)
        a[9](loop)
        a[10](0)
        a[11](0.0)
        a[12](0.0)
        a[13](0.0)
        self._open[network * self._num_aps + ap] = seq
        keep_from = seq + 1 - self.history_limit  # past the limit, the oldest token is forgotten
        if self._oldest < keep_from:
            self._oldest = keep_from
            if keep_from >= self._trim_at:
                self._trim()
        head = self._token_heads.get((prefix, network, ap))  # (_head's lookup inline: once per change)
        if head is None:
            head = self._head(prefix, network, ap)
        return head + str(seq).zfill(6)  # f"{seq:06d}", at a third of the cost

    def _trim(self) -> None:
        """Cut the columns of changes no longer kept; the open watches among them (an AP not
        changed since, the clock standing still) are held aside, so that the columns stay
        within a few thousand changes of the limit whatever the APs do."""
        keep_from = self._oldest
        cut = keep_from - self._base
        if cut > 0:
            behind = sorted(q for q in self._open if 0 < q < keep_from)
            rows = [self._where(q) for q in behind]
            self._aside_cols = tuple([cols[k][i] for cols, i in rows] for k in range(14))
            self._aside_at = {q: j for j, q in enumerate(behind)}
            for col in self._cols:
                del col[:cut]
            self._base = keep_from
            self._popped = {q for q in self._popped if q >= keep_from}
        self._trim_at = keep_from + self._TRIM

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
        starts, base, window = self._cols[8], self._base, self._window_s
        opened = self._open
        if self._aside_at:  # (rare: see _trim)
            done = sorted(q for q in opened if q and self._start(q) + window <= now_s)
        else:
            done = sorted(q for q in opened if q and starts[q - base] + window <= now_s)
        if not done:
            return []
        out = [self._watch(q) for q in done]
        for w in out:
            opened[w.network * self._num_aps + w.ap] = 0
        return out

    def forget_ap(self, network: int, ap: int) -> None:
        """Stop watching an AP's changes (an emergency move superseded them)."""
        self._open[network * self._num_aps + ap] = 0
