"""Medium access: how the transmitters that hear each other share the air, how an AP shares its
airtime among its clients, and what contention costs in collisions and waiting.

Shapes: ``B`` networks, ``S`` states (sets of conditions within a segment), ``W`` transmitters
(managed APs, then unmanaged neighbours), ``K`` clients.
"""

from __future__ import annotations

import numpy as np

from rrm_gym.radio.mac import TXOP_S, tau_table

# no transmitter's airtime changes by more than this once the max-min fair solution is reached
AIRTIME_TOL = 1e-9
SPLIT_RTOL = 1e-12  # an AP whose clients need its airtime to this precision meets every need
LATENCY_CAP_MS = 500.0  # a queue that grows without bound is capped by the AP's buffer
_RHO_MAX = 0.98  # waiting time at busier media is read at this utilisation


def max_min_airtime(load: np.ndarray, hears: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """Max-min fair airtime of every transmitter, ``[B, S, W]``.

    ``load`` ``[B, S, W]`` airtime each wants (share of time); ``hears[b, i, j]`` (bool) that i
    defers to j; ``avail`` ``[B, S, W]`` the share of time i's medium is free of non-Wi-Fi energy
    above energy detect. Transmitter i sends only while it senses the medium idle: neither a
    transmitter it defers to nor that energy (taken as independent of each other), so its
    *medium* holds ``a_i / avail_i + sum_j hears_ij a_j <= 1``. Progressive filling (Bertsekas
    and Gallager, *Data Networks*, 6.5.2) raises every unfrozen transmitter's airtime together
    and freezes a transmitter once it has its load or a medium it belongs to is full; so no
    medium is handed more than it has, and a transmitter gets less than its load only where some
    medium it shares is full. E.g. a 3-clique wanting 0.2 / 0.9 / 0.9 gets 0.2 / 0.4 / 0.4. A
    transmitter whose medium is always blocked (``avail_i = 0``) sends nothing and limits no one."""
    w = hears.shape[1]
    blocked = avail <= 0  # [B, S, W]
    # m[b, s, i, j]: the weight of j's airtime in i's medium
    m = np.broadcast_to(hears[:, None].astype(float), (*avail.shape, w)).copy()
    m[..., np.arange(w), np.arange(w)] = 1.0 / np.maximum(avail, 1e-12)
    m[blocked] = 0.0  # a blocked transmitter's medium binds nobody
    a = np.zeros_like(load)
    frozen = (load <= 0) | blocked
    for _ in range(w + 1):
        if frozen.all():
            break
        live = (~frozen).astype(float)
        used = np.einsum("bsij,bsj->bsi", m, a)
        slack = np.maximum(1.0 - used, 0.0)
        rate = np.einsum("bsij,bsj->bsi", m, live)  # how fast each medium fills
        step = np.where(rate > 0, slack / np.maximum(rate, 1e-12), np.inf).min(axis=2)
        step = np.minimum(step, np.where(frozen, np.inf, load - a).min(axis=2))  # [B, S]
        step = np.where(np.isfinite(step), step, 0.0)
        a = a + step[..., None] * live
        full = (1.0 - np.einsum("bsij,bsj->bsi", m, a) <= AIRTIME_TOL) & ~blocked  # media with no room left
        in_full = np.einsum("bsi,bsij->bsj", full.astype(float), m) > 0
        frozen = frozen | (a >= load - AIRTIME_TOL) | in_full
    return np.clip(a, 0.0, load)


def collision_probability(backlog: np.ndarray, hears: np.ndarray) -> np.ndarray:
    """Per-attempt collision probability at each transmitter, ``[B, S, W]``.

    ``backlog`` ``[B, S, W]`` is the chance each has a frame queued (its load, at most 1). With
    ``n_i = 1 + sum_j hears_ij q_j`` contenders, each contender j transmits in a slot with
    probability ``q_j tau(n_i)`` (Bianchi's saturated tau), and i's frame collides unless none
    of them picks the same slot: ``1 - prod_j (1 - q_j tau(n_i))``. For n saturated stations that
    hear each other this is Bianchi's ``1 - (1 - tau)^(n-1)``."""
    h = hears.astype(float).transpose(0, 2, 1)  # [B, W(j), W(i)]
    n = 1.0 + backlog @ h  # [B, S, W]
    tau = tau_table(n)
    # log of prod_j (1 - q_j tau_i): sum_j hears_ij log(1 - q_j tau_i), one i at a time over j
    q = backlog[..., None, :]  # [B, S, 1, W(j)]
    log_ok = (np.log1p(-np.minimum(q * tau[..., :, None], 0.999999)) * hears[:, None].astype(float)).sum(axis=-1)
    return 1.0 - np.exp(log_ok)


def airtime_fair_split(need: np.ndarray, cell: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Each client's airtime under airtime fairness, ``[B, S, K]``.

    ``need`` ``[B, S, K]`` the airtime each client's traffic needs; ``cell`` ``[B, K]`` its AP as a
    flat ``(network, AP)`` index; ``budget`` ``[B, S, N]`` the airtime each AP won. Within an AP,
    clients that need less than an equal share get what they need and the rest split what is
    left equally (water-filling), so a client the AP can hardly reach costs its cell-mates no
    more than one share. The water level ``L`` of an AP solves ``sum_k min(need_k, L) = budget``;
    starting from an equal split, ``L <- (budget - sum of needs below L) / (clients at or above L)``
    rises to it exactly, one step per set of clients newly met (a few steps in practice)."""
    b, s, k = need.shape
    n = budget.shape[2]
    group = ((np.arange(b)[:, None, None] * s + np.arange(s)[None, :, None]) * n + (cell % n)[:, None, :]).ravel()
    x = need.ravel()
    groups = b * s * n
    cap = budget.ravel()
    total = np.bincount(group, x, groups)
    count = np.bincount(group, minlength=groups)
    short = total > cap * (1.0 + SPLIT_RTOL)  # [groups] APs that cannot meet every need
    level = np.where(short, cap / np.maximum(count, 1), np.inf)  # inf: every need met
    for _ in range(k + 1):
        under = x < level[group]
        met = np.bincount(group, np.where(under, x, 0.0), groups)
        left = count - np.bincount(group, under, groups)
        new = np.where(short & (left > 0), (cap - met) / np.maximum(left, 1), np.inf)
        if np.array_equal(new, level):
            break
        level = new
    return np.minimum(x, np.maximum(level[group], 0.0)).reshape(b, s, k)


def access_wait_ms(busy: np.ndarray, elastic_queues: np.ndarray) -> np.ndarray:
    """Mean wait for the medium (ms) of a frame at each AP, ``[B, S, N]``.

    A documented queueing approximation: the medium as one server whose service is a TXOP
    (:data:`rrm_gym.radio.mac.TXOP_S`), busy a share ``busy`` of the time with inelastic traffic,
    beacons and non-Wi-Fi energy, so an M/M/1 wait ``rho / (1 - rho)`` TXOPs (``rho`` read at
    most at 0.98); plus, for each backlogged elastic queue sharing the medium
    (``elastic_queues``), half a TXOP: elastic TCP flows fill every gap, and round-robin
    scheduling (per-station queues, airtime fairness) lets each send one TXOP per round."""
    rho = np.clip(busy, 0.0, _RHO_MAX)
    return 1e3 * TXOP_S * (rho / (1.0 - rho) + 0.5 * elastic_queues)
