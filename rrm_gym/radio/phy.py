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

# PER is 10 % at the threshold (the sensitivity definition) and falls by about
# a decade per 2 dB above it: PER = 1 / (1 + 9 exp(slope (SINR - threshold))).
PER_SLOPE_PER_DB = 1.2


# mcs_index on large arrays: the thresholds share one fractional part (the sensitivities are whole
# dB), so floor(SINR - that fraction) names the MCS through a table: the binary search's answer at
# a fraction of its cost (a binary search over 12 thresholds mispredicts its branches on random
# SINRs). Rounding could only move the floor across a threshold within a few ulps of it, and
# floor(x - fraction) never decreases as x grows, so agreeing with the binary search on every float
# within 64 ulps of every threshold makes the table exact everywhere; that is checked here, once.
_FRACTION = float(MCS_SINR_THRESHOLD_DB[0] - np.floor(MCS_SINR_THRESHOLD_DB[0]))
_WHOLE = np.rint(MCS_SINR_THRESHOLD_DB - _FRACTION).astype(int)
_WHOLE_LO, _WHOLE_HI = int(_WHOLE[0]) - 1, int(_WHOLE[-1])
_MCS_OF_WHOLE = np.array([(_WHOLE <= j).sum() - 1 for j in range(_WHOLE_LO, _WHOLE_HI + 1)])  # floor -> MCS
MCS_LOOKUP_MIN_SIZE = 8_000  # below this many values the binary search is as fast (timed at 500 to 32,000)


def _mcs_lookup(x: np.ndarray) -> np.ndarray:
    y = x - _FRACTION
    np.floor(y, out=y)
    np.clip(y, _WHOLE_LO, _WHOLE_HI, out=y)
    return _MCS_OF_WHOLE.take(y.astype(np.intp) - _WHOLE_LO)


def _lookup_is_exact() -> bool:
    t = MCS_SINR_THRESHOLD_DB
    near = (t[:, None] + np.arange(-64, 65) * np.spacing(t)[:, None]).ravel()
    return bool(np.array_equal(_mcs_lookup(near), np.searchsorted(t, near, side="right") - 1))


_LOOKUP_EXACT = _lookup_is_exact()


def mcs_index(sinr_db: ArrayLike) -> np.ndarray:
    """Highest MCS whose SINR threshold is cleared; ``-1`` below MCS 0."""
    x = np.asarray(sinr_db, dtype=float)
    if x.size >= MCS_LOOKUP_MIN_SIZE and _LOOKUP_EXACT and not np.isnan(x).any():  # NaN: above every threshold
        return _mcs_lookup(x)
    return MCS_SINR_THRESHOLD_DB.searchsorted(x, side="right") - 1  # the method: np.searchsorted adds a wrapper


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
