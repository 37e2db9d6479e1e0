"""802.11ax (HE) link abstraction: SINR -> MCS -> PHY rate, and packet error."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# IEEE 802.11ax-2021 Table 27-51 (HE minimum input sensitivity, 20 MHz, MCS 0-11).
HE_MIN_SENSITIVITY_20MHZ_DBM = np.array([-82, -79, -77, -74, -70, -66, -65, -64, -59, -57, -54, -52], dtype=float)
# The standard derives those sensitivities for a 10 dB noise figure and a 5 dB
# implementation margin over the 20 MHz thermal floor (-174 + 73 dBm); the
# difference is the SINR each MCS needs at 10 % PER, independent of width.
_REFERENCE_NOISE_DBM = -174.0 + 10.0 * np.log10(20e6) + 10.0 + 5.0
MCS_SINR_THRESHOLD_DB = HE_MIN_SENSITIVITY_20MHZ_DBM - _REFERENCE_NOISE_DBM
MCS_SINR_THRESHOLD_DB.setflags(write=False)
NUM_MCS = len(MCS_SINR_THRESHOLD_DB)

# IEEE 802.11ax-2021 Table 27-64 onwards: HE-SU rates, 1 spatial stream, 0.8 us GI, 20 MHz.
HE_RATE_20MHZ_1SS_MBPS = np.array([8.6, 17.2, 25.8, 34.4, 51.6, 68.8, 77.4, 86.0, 103.2, 114.7, 129.0, 143.4])
# Data subcarriers 234 / 468 / 980 / 1960 for 20 / 40 / 80 / 160 MHz.
WIDTH_RATE_FACTOR = {20: 1.0, 40: 2.0, 80: 980.0 / 234.0, 160: 1960.0 / 234.0}

# Client generations. HT (802.11n, IEEE 802.11-2020 Table 19-27) and VHT (802.11ac, Table 21-30)
# rates, 1 spatial stream, 0.8 us GI, 20 MHz, MCS 0-9 (HT stops at MCS 7); the same modulation and
# coding as HE MCS 0-9, so the same SINR thresholds. HE (802.11ax) as above.
GENERATIONS = ("n", "ac", "ax")
VHT_RATE_20MHZ_1SS_MBPS = np.array([6.5, 13.0, 19.5, 26.0, 39.0, 52.0, 58.5, 65.0, 78.0, 86.7])
MAX_MCS = {"n": 7, "ac": 9, "ax": 11}
# widest channel a client of each generation uses (HT: 40 MHz; VHT: 80 MHz in practice; HE: 160)
MAX_WIDTH_MHZ = {"n": 40, "ac": 80, "ax": 160}
# HT/VHT data subcarriers 52 / 108 / 234 / 468 for 20 / 40 / 80 / 160 MHz
VHT_WIDTH_RATE_FACTOR = {20: 1.0, 40: 108.0 / 52.0, 80: 234.0 / 52.0, 160: 468.0 / 52.0}


def generation_rate_table() -> np.ndarray:
    """``[G, 4, 12]`` PHY rate (Mb/s, 1 spatial stream) of generation ``GENERATIONS[g]`` at width
    index ``w`` (20/40/80/160 MHz, capped at the generation's widest) and MCS ``m``; 0 above the
    generation's highest MCS."""
    widths = (20, 40, 80, 160)
    out = np.zeros((len(GENERATIONS), len(widths), NUM_MCS))
    for g, gen in enumerate(GENERATIONS):
        for w, width in enumerate(widths):
            used = min(width, MAX_WIDTH_MHZ[gen])
            top = MAX_MCS[gen] + 1
            if gen == "ax":
                out[g, w, :top] = HE_RATE_20MHZ_1SS_MBPS[:top] * WIDTH_RATE_FACTOR[used]
            else:
                out[g, w, :top] = VHT_RATE_20MHZ_1SS_MBPS[:top] * VHT_WIDTH_RATE_FACTOR[used]
    return out


# PER is 10 % at the threshold (the sensitivity definition) and falls by about
# a decade per 2 dB above it: PER = 1 / (1 + 9 exp(slope (SINR - threshold))).
PER_SLOPE_PER_DB = 1.2


def mcs_index(sinr_db: ArrayLike) -> np.ndarray:
    """Highest MCS whose SINR threshold is cleared; ``-1`` below MCS 0 and for NaN (no link)."""
    x = np.asarray(sinr_db, dtype=float)
    m = MCS_SINR_THRESHOLD_DB.searchsorted(x, side="right") - 1
    return np.where(np.isnan(x), -1, m)


def _width_factor(width_mhz: ArrayLike) -> np.ndarray:
    w = np.asarray(width_mhz)
    return np.select([w == 20, w == 40, w == 80, w == 160], list(WIDTH_RATE_FACTOR.values()), np.nan)


def rate_for_mcs_mbps(mcs: ArrayLike, width_mhz: ArrayLike, nss: ArrayLike = 1) -> np.ndarray:
    """HE PHY rate of ``mcs`` (``-1`` gives 0) at ``width_mhz`` with ``nss`` streams."""
    m = np.asarray(mcs)
    base = np.where(m >= 0, HE_RATE_20MHZ_1SS_MBPS[np.clip(m, 0, NUM_MCS - 1)], 0.0)
    return base * _width_factor(width_mhz) * np.asarray(nss)


def phy_rate_mbps(sinr_db: ArrayLike, width_mhz: ArrayLike, nss: ArrayLike = 1) -> np.ndarray:
    """PHY rate rate adaptation would pick at ``sinr_db``: 0 below MCS 0's threshold."""
    return rate_for_mcs_mbps(mcs_index(sinr_db), width_mhz, nss)


def packet_error_rate(sinr_db: ArrayLike, mcs: ArrayLike) -> np.ndarray:
    """Probability a frame sent at ``mcs`` fails at ``sinr_db`` (1 for ``mcs == -1``)."""
    m = np.asarray(mcs)
    margin = np.asarray(sinr_db, dtype=float) - MCS_SINR_THRESHOLD_DB[np.clip(m, 0, NUM_MCS - 1)]
    per = 1.0 / (1.0 + 9.0 * np.exp(np.clip(PER_SLOPE_PER_DB * margin, -50.0, 50.0)))
    return np.where(m >= 0, per, 1.0)
