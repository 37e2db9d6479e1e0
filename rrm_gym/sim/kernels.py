"""Compiled kernels: the parts of a segment that numpy runs slowly, written as loops.

``solve_states`` is one pass of a segment's physics over every (network, state): attempt
success, airtime need, each transmitter's load, the max-min fair airtime, the airtime-fair
split and delivered throughput; ``adapt_rates`` is rate adaptation over hidden sources and
interferers; ``max_min_airtime`` and ``airtime_fair_split`` are the two solvers on their own.
Each is the same algorithm as its numpy reference in :mod:`rrm_gym.sim.medium` or
:mod:`rrm_gym.sim.simulation` (``USE_KERNELS = False`` runs those; the tests check that both
agree), compiled with numba and cached on disk after the first run. What they buy, in a
same-process A/B against the references, is printed by ``python benchmarks/ab_kernels.py``.

Threads: :func:`set_threads` (or ``$RRM_GYM_THREADS``, read by the first simulation) runs the
per-network pass of ``solve_states`` and the per-client search of ``adapt_rates`` on that many
threads (default 1, no threads). Each network's and each client's arithmetic is unchanged, so the results are the
same bit for bit. The threads are numba's; with its GNU OpenMP layer a process that has used
them must not ``fork`` another that uses them (use a ``spawn`` or ``forkserver`` start method, or
the batched vector env, whose networks are what the threads share).

Shapes: ``B`` networks, ``S`` states, ``W`` transmitters, ``K`` clients, ``N`` APs, ``M`` MCS,
``P`` hidden (client, source) pairs, ``H`` (client, interferer) hits.
"""

from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange

from rrm_gym.checks import is_int
from rrm_gym.sim.medium import AIRTIME_TOL, SPLIT_RTOL

THREADS_ENV_VAR = "RRM_GYM_THREADS"


@njit(cache=True)
def _max_min_one(load: np.ndarray, hears: np.ndarray, avail: np.ndarray, a: np.ndarray) -> None:  # pragma: no cover
    """Progressive filling of one (network, state): ``load``, ``avail``, ``a`` (written) ``[W]``,
    ``hears`` ``[W, W]``."""
    w = len(load)
    frozen = np.empty(w, dtype=np.bool_)
    full = np.empty(w, dtype=np.bool_)
    for i in range(w):
        a[i] = 0.0
        frozen[i] = load[i] <= 0.0 or avail[i] <= 0.0
    for _ in range(w + 1):
        done = True
        for i in range(w):
            if not frozen[i]:
                done = False
        if done:
            break
        step = np.inf
        for i in range(w):  # each medium: how soon it fills
            if avail[i] <= 0.0:
                continue
            used = a[i] / avail[i]
            rate = (0.0 if frozen[i] else 1.0) / avail[i]
            for j in range(w):
                if hears[i, j]:
                    used += a[j]
                    if not frozen[j]:
                        rate += 1.0
            if rate > 0.0:
                step = min(step, max(1.0 - used, 0.0) / rate)
        for j in range(w):
            if not frozen[j]:
                step = min(step, load[j] - a[j])
        if not np.isfinite(step):
            step = 0.0
        for j in range(w):
            if not frozen[j]:
                a[j] += step
        for i in range(w):
            full[i] = False
            if avail[i] > 0.0:
                used = a[i] / avail[i]
                for j in range(w):
                    if hears[i, j]:
                        used += a[j]
                full[i] = 1.0 - used <= AIRTIME_TOL
        for j in range(w):
            if a[j] >= load[j] - AIRTIME_TOL:
                frozen[j] = True
        for i in range(w):
            if full[i]:
                frozen[i] = True
                for j in range(w):
                    if hears[i, j]:
                        frozen[j] = True
    for j in range(w):
        a[j] = min(max(a[j], 0.0), load[j])


@njit(cache=True)
def max_min_airtime(load: np.ndarray, hears: np.ndarray, avail: np.ndarray) -> np.ndarray:  # pragma: no cover
    """:func:`rrm_gym.sim.medium.max_min_airtime`, one (network, state) at a time."""
    nb, ns, w = load.shape
    out = np.zeros_like(load)
    a = np.zeros(w)
    for b in range(nb):
        for s in range(ns):
            _max_min_one(load[b, s], hears[b], avail[b, s], a)
            out[b, s] = a
    return out


@njit(cache=True)
def _ap_members(ap: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """The clients of each AP: an order of ``ap`` ``[K]`` and each AP's range ``[N + 1]`` in it."""
    order = np.argsort(ap, kind="mergesort")
    start = np.zeros(n + 1, dtype=np.int64)
    for c in range(len(ap)):
        start[ap[c] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    return order, start


@njit(cache=True)
def _split_one(need: np.ndarray, members: np.ndarray, cap: float, out: np.ndarray) -> None:  # pragma: no cover
    """Water-filling of one AP's ``cap`` over the clients ``members`` of ``need``; writes ``out``."""
    m = len(members)
    if m == 0:
        return
    x = need[members]
    if x.sum() <= cap * (1.0 + SPLIT_RTOL):
        for c in members:
            out[c] = need[c]
        return
    xs = np.sort(x)
    spent = 0.0
    level = np.inf  # (rounding aside, the last client then breaks the loop)
    for r in range(m):  # xs[r] is met if everyone from r on could get it
        if spent + xs[r] * (m - r) <= cap:
            spent += xs[r]
        else:
            level = (cap - spent) / (m - r)
            break
    for c in members:
        out[c] = min(need[c], max(level, 0.0))


@njit(cache=True)
def airtime_fair_split(need: np.ndarray, ap: np.ndarray, budget: np.ndarray) -> np.ndarray:  # pragma: no cover
    """:func:`rrm_gym.sim.medium.airtime_fair_split` by sorting each AP's needs: the water level
    is where the clients still unmet split what the met ones leave. ``ap`` ``[B, K]`` each
    client's AP index (0..N-1)."""
    nb, ns, k = need.shape
    n = budget.shape[2]
    out = np.empty_like(need)
    for b in range(nb):
        order, start = _ap_members(ap[b], n)
        for s in range(ns):
            for i in range(n):
                _split_one(need[b, s], order[start[i] : start[i + 1]], budget[b, s, i], out[b, s])
    return out


@njit(cache=True)
def solve_states(
    mcs: np.ndarray,
    rate_tab: np.ndarray,
    clean_ok: np.ndarray,
    ul_rate: np.ndarray,
    ul_ok: np.ndarray,
    up: np.ndarray,
    off: np.ndarray,
    ap: np.ndarray,
    h_bk: np.ndarray,
    h_src: np.ndarray,
    h_exp: np.ndarray,
    per_factor: np.ndarray,
    act: np.ndarray,
    i_bk: np.ndarray,
    i_l: np.ndarray,
    i_loss: np.ndarray,
    on_s: np.ndarray,
    backlog: np.ndarray,
    hears: np.ndarray,
    tau_n: np.ndarray,
    tau: np.ndarray,
    beacon: np.ndarray,
    nb_load: np.ndarray,
    tx_on: np.ndarray,
    avail: np.ndarray,
    retry_limit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """One pass of :meth:`WirelessSimulation._segment`'s ``solve`` (its numpy reference), every
    (network, state) in turn: each client's attempt success, attempts, airtime need, each
    transmitter's load and max-min fair airtime, each client's airtime-fair share, served share
    and delivered throughput. ``clean_ok`` ``[B, K, M]``: an attempt's success on the clean
    link at each MCS; a hidden source's frame loss at MCS ``m`` is ``1 / (1 + h_exp[p] *
    per_factor[m])`` (:func:`rrm_gym.sim.links.per_all_mcs`), spoiling the client's frames ``act``
    ``[B, S, W]`` of the time (empty: no hidden-source losses yet);
    ``i_loss`` ``[H, M]``: an interferer's duty times the frame loss; ``backlog`` ``[B, S, W]``
    (empty: no collisions yet). Survival chances are multiplied where the reference sums their
    logs (the same to rounding). Returns ``(air, load, x, att, served, thr, rate)``."""
    nb, ns, k = off.shape
    w = hears.shape[1]
    n = w - nb_load.shape[1]
    keep = np.ones((nb, ns, k))  # the share of attempts hidden sources and interferers spare
    for q in range(len(i_bk)):  # interferers, while on
        b, c = i_bk[q] // k, i_bk[q] % k
        for s in range(ns):
            on = on_s[b, s, i_l[q]]
            if on > 0.0:
                spared = 1.0 - min(i_loss[q, mcs[b, s, c]], 0.999999)
                keep[b, s, c] *= spared if on == 1.0 else spared**on  # a power is dear: see docs/speed.md
    if act.shape[0]:
        for p in range(len(h_bk)):  # hidden sources, the share of the time they transmit
            b, c = h_bk[p] // k, h_bk[p] % k
            src = h_src[p] - b * w
            for s in range(ns):
                per = 1.0 / (1.0 + h_exp[p] * per_factor[mcs[b, s, c]])
                keep[b, s, c] *= 1.0 - min(act[b, s, src] * per, 0.999999)
    air = np.zeros((nb, ns, w))
    load = np.zeros((nb, ns, w))
    x = np.zeros((nb, ns, k))
    att = np.zeros((nb, ns, k))
    served = np.ones((nb, ns, k))
    thr = np.zeros((nb, ns, k))
    rate = np.zeros((nb, ns, k))
    for b in prange(nb):  # networks are independent: one thread each, with set_threads
        need = np.zeros(k)
        coll = np.zeros(w)
        cap = np.zeros(w)
        a = np.zeros(w)
        order, start = _ap_members(ap[b], n)
        for s in range(ns):
            if backlog.shape[0]:  # DCF collisions (medium.collision_probability)
                for i in range(w):
                    cont = 1.0
                    for j in range(w):
                        if hears[b, i, j]:
                            cont += backlog[b, s, j]
                    t = np.interp(cont, tau_n, tau)
                    clear = 1.0
                    for j in range(w):
                        if hears[b, i, j]:
                            clear *= 1.0 - min(backlog[b, s, j] * t, 0.999999)
                    coll[i] = 1.0 - clear
            for i in range(w):
                load[b, s, i] = 0.0
            for c in range(k):
                m = mcs[b, s, c]
                rate[b, s, c] = rate_tab[b, c, m]
                ok = clean_ok[b, c, m] * keep[b, s, c]
                uok = ul_ok[b, c]
                if backlog.shape[0]:
                    ok *= 1.0 - coll[ap[b, c]]
                    uok *= 1.0 - coll[ap[b, c]]
                # attempts and delivered share with the retry limit (radio.mac.attempts_and_delivery)
                ok = min(max(ok, 0.0), 1.0)
                uok = min(max(uok, 0.0), 1.0)
                got = 1.0 - (1.0 - ok) ** retry_limit
                ugot = 1.0 - (1.0 - uok) ** retry_limit
                att[b, s, c] = got / max(ok, 1e-9) if ok > 1e-9 else float(retry_limit)
                uatt = ugot / max(uok, 1e-9) if uok > 1e-9 else float(retry_limit)
                dl, ul = off[b, s, c] * (1.0 - up[b, c]), off[b, s, c] * up[b, c]
                need[c] = dl * att[b, s, c] / rate[b, s, c] + ul * uatt / ul_rate[b, c]
                load[b, s, ap[b, c]] += need[c]
                thr[b, s, c] = dl * got + ul * ugot  # delivered if served in full
            for j in range(w):
                if j >= n:
                    load[b, s, j] = nb_load[b, j - n]
                load[b, s, j] = load[b, s, j] + beacon[b, j] if tx_on[b, j] else 0.0
                cap[j] = min(load[b, s, j], avail[b, s, j])
            _max_min_one(cap, hears[b], avail[b, s], a)
            for j in range(w):
                air[b, s, j] = a[j]
            for i in range(n):
                _split_one(need, order[start[i] : start[i + 1]], max(a[i] - beacon[b, i], 0.0), x[b, s])
            for c in range(k):
                if need[c] > 0.0:
                    served[b, s, c] = min(1.0, x[b, s, c] / max(need[c], 1e-12))
                thr[b, s, c] *= served[b, s, c]
    return air, load, x, att, served, thr, rate


@njit(cache=True)
def adapt_rates(
    mcs: np.ndarray,
    clean_ok: np.ndarray,
    rate: np.ndarray,
    hit: np.ndarray,
    h_row: np.ndarray,
    h_src: np.ndarray,
    h_exp: np.ndarray,
    per_factor: np.ndarray,
    air: np.ndarray,
    i_row: np.ndarray,
    i_on: np.ndarray,
    i_loss: np.ndarray,
) -> None:  # pragma: no cover
    """Rate adaptation of :meth:`WirelessSimulation._adapt_rates` for the clients ``hit`` (flat
    (network, client)); writes ``mcs`` ``[S, B * K]`` (holding each client's clean MCS, the highest
    it can settle on: losses only grow with the MCS). ``clean_ok`` ``[B * K, M]`` an attempt's
    success on the clean link; ``h_row``, ``i_row``: each pair's and hit's row in ``hit``; a hidden
    source's frame loss at MCS ``m`` is ``1 / (1 + h_exp[p] * per_factor[m])``; ``air``
    ``[S, B * W]``; ``i_on`` ``[S, H]`` the interferer on in each state; ``i_loss`` ``[H, M]`` its
    duty times the frame loss at each MCS.

    Each client's MCS are tried from its clean choice down, and the search stops once no lower
    MCS could beat the best found even without losses (losses only lower the goodput): the same
    choice as trying every MCS, ties going to the lower MCS as there. Survival chances are
    multiplied where the reference sums their logs (the same to rounding)."""
    ns = mcs.shape[0]
    nh, m = len(hit), clean_ok.shape[1]
    h_order, h_start = _ap_members(h_row, nh)  # each row's pairs, in their order
    i_order, i_start = _ap_members(i_row, nh)
    for r in prange(nh):  # a client at a time, every state (its tables stay in cache)
        bound = np.empty(m)  # the best loss-free goodput of the MCS up to j
        c = hit[r]
        top = 0.0
        for j in range(m):
            top = max(top, rate[c, j] * clean_ok[c, j])
            bound[j] = top
        for s in range(ns):
            best, best_j = -1.0, 0
            for j in range(mcs[s, c], -1, -1):
                if bound[j] < best:
                    break
                keep = 1.0
                for t in range(h_start[r], h_start[r + 1]):
                    p = h_order[t]
                    per = 1.0 / (1.0 + h_exp[p] * per_factor[j])
                    keep *= 1.0 - min(air[s, h_src[p]] * per, 0.999999)
                for t in range(i_start[r], i_start[r + 1]):
                    q = i_order[t]
                    on = i_on[s, q]
                    if on > 0.0:
                        spared = 1.0 - min(i_loss[q, j], 0.999999)
                        keep *= spared if on == 1.0 else spared**on  # (as in solve_states)
                g = rate[c, j] * clean_ok[c, j] * keep
                if g >= best:
                    best, best_j = g, j
            mcs[s, c] = best_j


_SERIAL = {"solve_states": solve_states, "adapt_rates": adapt_rates}
_THREADED: dict[str, object] = {}  # compiled on first use (not cached on disk: the serial ones are)
_threads = 1


def set_threads(count: int) -> None:
    """Run the per-network and per-client loops of ``solve_states`` and ``adapt_rates`` on
    ``count`` threads (1: none, the default). More threads than numba allows (the CPU count, or
    ``$NUMBA_NUM_THREADS``) are refused."""
    if not is_int(count) or count < 1:
        raise ValueError(f"threads must be a whole number >= 1, got {count!r}")
    count = int(count)
    if count > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads {count} is more than numba allows here ({numba.config.NUMBA_NUM_THREADS})")
    global _threads
    kernels = _SERIAL
    if count > 1:
        if not _THREADED:
            _THREADED.update({name: njit(parallel=True)(f.py_func) for name, f in _SERIAL.items()})
        numba.set_num_threads(count)
        kernels = _THREADED
    globals().update(kernels)
    _threads = count


def threads() -> int:
    """The threads the kernels run on (see :func:`set_threads`)."""
    return _threads


_env_read = False


def threads_from_env() -> None:
    """Apply ``$RRM_GYM_THREADS`` (if set) the first time it is asked for: every
    :class:`~rrm_gym.sim.WirelessSimulation` asks, and so does the command line, which reports a
    bad value as an error. Later calls leave what :func:`set_threads` chose."""
    global _env_read
    if _env_read:
        return
    value = os.environ.get(THREADS_ENV_VAR, "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            raise ValueError(f"${THREADS_ENV_VAR} must be a whole number >= 1, got {value!r}") from None
        try:
            set_threads(count)
        except ValueError as e:
            raise ValueError(f"${THREADS_ENV_VAR}: {e}") from None
    _env_read = True
