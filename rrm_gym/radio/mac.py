"""802.11 medium access as numbers: DCF collisions (Bianchi's model), retry limit, beacon
airtime and the EDCA figures the latency model uses. Pure functions and constant tables."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# IEEE 802.11-2020 Table 17-21 (OFDM PHY) and 10.3.2.3 / 10.2.4.2: best-effort access category.
CW_MIN = 15
BACKOFF_STAGES = 6  # CWmax = 1023 = (CWmin + 1) * 2^6 - 1
# dot11ShortRetryLimit / dot11LongRetryLimit default 7 / 4; a frame is dropped after 7 attempts.
RETRY_LIMIT = 7
# A best-effort TXOP: one A-MPDU of up to 5.484 ms (HE PPDU limit); enterprise APs' mean
# downlink PPDU is shorter, about 2 ms (measured A-MPDU sizes of 20-40 frames at mid MCS).
TXOP_S = 2.0e-3
# Beacons: every 102.4 TU per SSID, about 350 bytes with the IEs of a modern enterprise SSID,
# sent at the lowest basic rate with a 20 us legacy preamble (17.3.2).
BEACON_INTERVAL_S = 0.1024
BEACON_BYTES = 350
LEGACY_PREAMBLE_S = 20e-6
DSSS_PREAMBLE_S = 192e-6  # long DSSS preamble, used at 1 and 2 Mb/s
PACKET_BITS = 1500 * 8  # one MTU-sized packet, for per-packet service times


def beacon_airtime_frac(ssids: ArrayLike, basic_rate_mbps: ArrayLike) -> np.ndarray:
    """Share of the medium one AP's beacons take: ``ssids`` beacons every 102.4 ms at the basic
    rate. At 6 Mb/s about 0.48 % per SSID; at 1 Mb/s (802.11b basic rates) about 2.9 %."""
    rate = np.asarray(basic_rate_mbps, dtype=float)
    preamble = np.where(rate <= 2.0, DSSS_PREAMBLE_S, LEGACY_PREAMBLE_S)
    per_beacon_s = preamble + BEACON_BYTES * 8 / (rate * 1e6)
    return np.asarray(ssids, dtype=float) * per_beacon_s / BEACON_INTERVAL_S


def _tau_of_p(p: np.ndarray) -> np.ndarray:
    """Bianchi (IEEE JSAC 18(3), 2000), eq. (7): a saturated station's chance to transmit in a
    slot, given the chance ``p`` that a transmission collides."""
    w, m = CW_MIN + 1, BACKOFF_STAGES
    return 2.0 * (1.0 - 2.0 * p) / ((1.0 - 2.0 * p) * (w + 1) + p * w * (1.0 - (2.0 * p) ** m))


def saturated_tau(n: ArrayLike) -> np.ndarray:
    """Per-slot transmit probability of each of ``n`` saturated DCF stations (n >= 1, may be
    fractional): the fixed point of eq. (7) with ``p = 1 - (1 - tau)^(n - 1)``, by bisection on p."""
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    lo, hi = np.zeros_like(n), np.full_like(n, 0.999)
    for _ in range(60):  # p - (1 - (1 - tau(p))^(n-1)) increases in p
        mid = 0.5 * (lo + hi)
        gap = mid - (1.0 - (1.0 - _tau_of_p(mid)) ** (n - 1.0))
        lo, hi = np.where(gap < 0, mid, lo), np.where(gap < 0, hi, mid)
    return _tau_of_p(0.5 * (lo + hi))


# tau tabulated for 1..64 contenders (interpolated in between, flat beyond)
TAU_CONTENDERS = np.arange(1, 65, dtype=float)
TAU = saturated_tau(TAU_CONTENDERS)


def tau_table(n: ArrayLike) -> np.ndarray:
    """:func:`saturated_tau` from a table (1 to 64 contenders)."""
    return np.interp(n, TAU_CONTENDERS, TAU)


def collision_probability(n_saturated: ArrayLike) -> np.ndarray:
    """Per-frame collision probability of a saturated station among ``n_saturated`` (Bianchi):
    about 0.10 / 0.23 / 0.35 / 0.48 for 2 / 4 / 8 / 20 (CWmin 15, 6 backoff stages)."""
    n = np.asarray(n_saturated, dtype=float)
    return 1.0 - (1.0 - tau_table(n)) ** (n - 1.0)


def attempts_and_delivery(success: ArrayLike, retry_limit: int = RETRY_LIMIT) -> tuple[np.ndarray, np.ndarray]:
    """Expected transmissions per frame and the share of frames delivered, when each attempt
    succeeds with probability ``success`` and a frame is dropped after ``retry_limit`` attempts:
    ``(1 - (1 - s)^R) / s`` and ``1 - (1 - s)^R`` (``R`` attempts where ``s = 0``)."""
    s = np.clip(np.asarray(success, dtype=float), 0.0, 1.0)
    fail_all = (1.0 - s) ** retry_limit
    delivered = 1.0 - fail_all
    attempts = np.where(s > 1e-9, delivered / np.maximum(s, 1e-9), float(retry_limit))
    return attempts, delivered
