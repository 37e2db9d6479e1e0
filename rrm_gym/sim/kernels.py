"""Compiled kernels: the three loops of a segment that numpy runs slowly, written as loops.

Each is the same algorithm as its numpy reference in :mod:`rrm_gym.sim.medium` or
:mod:`rrm_gym.sim.simulation` (the tests check that they agree), compiled with numba and cached
on disk after the first run. They are the simulator's only speed devices; what each buys, in a
same-process A/B against its reference, is printed by ``python benchmarks/ab_kernels.py``.

Shapes: ``B`` networks, ``S`` states, ``W`` transmitters, ``K`` clients, ``N`` APs, ``M`` MCS,
``P`` hidden (client, source) pairs, ``H`` (client, interferer) hits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_TOL = 1e-9  # as medium._AIRTIME_TOL
_SPLIT_RTOL = 1e-12  # as medium._SPLIT_RTOL


@njit(cache=True)
def max_min_airtime(load: np.ndarray, hears: np.ndarray, avail: np.ndarray) -> np.ndarray:  # pragma: no cover
    """:func:`rrm_gym.sim.medium.max_min_airtime`, one (network, state) at a time."""
    nb, ns, w = load.shape
    out = np.zeros_like(load)
    a = np.zeros(w)
    frozen = np.zeros(w, dtype=np.bool_)
    full = np.zeros(w, dtype=np.bool_)
    for b in range(nb):
        for s in range(ns):
            for i in range(w):
                a[i] = 0.0
                frozen[i] = load[b, s, i] <= 0.0 or avail[b, s, i] <= 0.0
            for _ in range(w + 1):
                done = True
                for i in range(w):
                    if not frozen[i]:
                        done = False
                if done:
                    break
                step = np.inf
                for i in range(w):  # each medium: how soon it fills
                    if avail[b, s, i] <= 0.0:
                        continue
                    used = a[i] / avail[b, s, i]
                    rate = (0.0 if frozen[i] else 1.0) / avail[b, s, i]
                    for j in range(w):
                        if hears[b, i, j]:
                            used += a[j]
                            if not frozen[j]:
                                rate += 1.0
                    if rate > 0.0:
                        step = min(step, max(1.0 - used, 0.0) / rate)
                for j in range(w):
                    if not frozen[j]:
                        step = min(step, load[b, s, j] - a[j])
                if not np.isfinite(step):
                    step = 0.0
                for j in range(w):
                    if not frozen[j]:
                        a[j] += step
                for i in range(w):
                    full[i] = False
                    if avail[b, s, i] > 0.0:
                        used = a[i] / avail[b, s, i]
                        for j in range(w):
                            if hears[b, i, j]:
                                used += a[j]
                        full[i] = 1.0 - used <= _TOL
                for j in range(w):
                    if a[j] >= load[b, s, j] - _TOL:
                        frozen[j] = True
                for i in range(w):
                    if full[i]:
                        frozen[i] = True
                        for j in range(w):
                            if hears[b, i, j]:
                                frozen[j] = True
            for j in range(w):
                out[b, s, j] = min(max(a[j], 0.0), load[b, s, j])
    return out


@njit(cache=True)
def airtime_fair_split(need: np.ndarray, ap: np.ndarray, budget: np.ndarray) -> np.ndarray:  # pragma: no cover
    """:func:`rrm_gym.sim.medium.airtime_fair_split` by sorting each AP's needs: the water level
    is where the clients still unmet split what the met ones leave. ``ap`` ``[B, K]`` each
    client's AP index (0..N-1)."""
    nb, ns, k = need.shape
    n = budget.shape[2]
    out = np.empty_like(need)
    # clients of each AP, as [B, N] ranges of an order
    for b in range(nb):
        order = np.argsort(ap[b], kind="mergesort")
        start = np.zeros(n + 1, dtype=np.int64)
        for c in range(k):
            start[ap[b, c] + 1] += 1
        for i in range(n):
            start[i + 1] += start[i]
        for s in range(ns):
            for i in range(n):
                lo, hi = start[i], start[i + 1]
                if hi == lo:
                    continue
                members = order[lo:hi]
                x = need[b, s, members]
                total = x.sum()
                cap = budget[b, s, i]
                if total <= cap * (1.0 + _SPLIT_RTOL):
                    for c in members:
                        out[b, s, c] = need[b, s, c]
                    continue
                xs = np.sort(x)
                m = hi - lo
                spent = 0.0
                level = np.inf  # (rounding aside, the last client then breaks the loop)
                for r in range(m):  # xs[r] is met if everyone from r on could get it
                    if spent + xs[r] * (m - r) <= cap:
                        spent += xs[r]
                    else:
                        level = (cap - spent) / (m - r)
                        break
                for c in members:
                    out[b, s, c] = min(need[b, s, c], max(level, 0.0))
    return out


@njit(cache=True)
def adapt_rates(
    mcs: np.ndarray,
    clean_log: np.ndarray,
    rate: np.ndarray,
    hit: np.ndarray,
    h_row: np.ndarray,
    h_src: np.ndarray,
    h_per: np.ndarray,
    air: np.ndarray,
    i_row: np.ndarray,
    i_on: np.ndarray,
    i_loss: np.ndarray,
) -> None:  # pragma: no cover
    """Rate adaptation of :meth:`WirelessSimulation._adapt_rates` for the clients ``hit`` (flat
    (network, client)); writes ``mcs`` ``[S, B * K]`` (holding each client's clean MCS, the highest
    it can settle on: losses only grow with the MCS). ``h_row``, ``i_row``: each pair's and hit's
    row in ``hit``; ``air`` ``[S, B * W]``; ``i_on`` ``[S, H]`` the interferer on in each state;
    ``i_loss`` ``[H, M]`` its duty times the frame loss at each MCS."""
    ns = mcs.shape[0]
    nh, m = len(hit), clean_log.shape[1]
    acc = np.empty((nh, m))
    for s in range(ns):
        for r in range(nh):
            for j in range(m):
                acc[r, j] = clean_log[hit[r], j]
        for p in range(len(h_row)):
            r = h_row[p]
            top = mcs[s, hit[r]]
            act = air[s, h_src[p]]
            if act <= 0.0:
                continue
            for j in range(top + 1):
                x = act * h_per[p, j]
                if x > 1e-12:  # (below, log1p(-x) is -x to the last bit and changes no choice)
                    acc[r, j] += np.log1p(-min(x, 0.999999))
        for q in range(len(i_row)):
            r = i_row[q]
            top = mcs[s, hit[r]]
            on = i_on[s, q]
            if on <= 0.0:
                continue
            for j in range(top + 1):
                if i_loss[q, j] > 1e-12:
                    acc[r, j] += on * np.log1p(-min(i_loss[q, j], 0.999999))
        for r in range(nh):
            c = hit[r]
            best, best_j = -1.0, 0
            for j in range(mcs[s, c] + 1):
                g = rate[c, j] * np.exp(acc[r, j])
                if g > best:
                    best, best_j = g, j
            mcs[s, c] = best_j
