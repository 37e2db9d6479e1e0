"""Indoor path loss (IEEE 802.11ax TGax channel models) and thermal noise."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# IEEE 802.11-14/0980r16 (TGax simulation scenarios), section 1.2.
# Enterprise (SS2): breakpoint 10 m, 7 dB per wall.
# Residential (SS1): breakpoint 5 m, 5 dB per wall, 18.3 F^((F+2)/(F+1) - 0.46) per F floors.
_MODELS = {
    "enterprise": {"breakpoint_m": 10.0, "wall_db": 7.0},
    "residential": {"breakpoint_m": 5.0, "wall_db": 5.0},
}
PATH_LOSS_MODELS = tuple(_MODELS)
THERMAL_NOISE_DBM_PER_HZ = -174.0


def path_loss_db(
    distance_m: ArrayLike,
    freq_ghz: ArrayLike,
    walls: ArrayLike = 0,
    model: str = "enterprise",
    floors: ArrayLike = 0,
) -> np.ndarray:
    """TGax indoor path loss in dB (no shadowing); arrays broadcast.

    ``PL = 40.05 + 20 log10(fc/2.4) + 20 log10(min(d, dBP)) + [d > dBP] 35 log10(d/dBP)
    + wall_db * walls (+ floor term, residential)``, with ``d = max(d, 1 m)``.
    """
    geom = geometric_loss_db(distance_m, walls, model, floors)
    return geom + frequency_loss_db(freq_ghz)


def frequency_loss_db(freq_ghz: ArrayLike) -> np.ndarray:
    """The frequency-dependent term ``20 log10(fc / 2.4 GHz)`` of the TGax models."""
    return 20.0 * np.log10(np.asarray(freq_ghz, dtype=float) / 2.4)


def geometric_loss_db(
    distance_m: ArrayLike, walls: ArrayLike = 0, model: str = "enterprise", floors: ArrayLike = 0
) -> np.ndarray:
    """The frequency-independent part of :func:`path_loss_db` (at 2.4 GHz)."""
    try:
        params = _MODELS[model]
    except KeyError:
        raise ValueError(f"unknown path-loss model {model!r}; choose one of {PATH_LOSS_MODELS}") from None
    d = np.maximum(np.asarray(distance_m, dtype=float), 1.0)
    bp = params["breakpoint_m"]
    loss = 40.05 + 20.0 * np.log10(np.minimum(d, bp))
    loss = loss + np.where(d > bp, 35.0 * np.log10(np.maximum(d, bp) / bp), 0.0)
    loss = loss + params["wall_db"] * np.asarray(walls, dtype=float)
    if model == "residential":
        f = np.asarray(floors, dtype=float)
        loss = loss + np.where(f > 0, 18.3 * f ** ((f + 2.0) / (f + 1.0) - 0.46), 0.0)
    return loss


def noise_floor_dbm(width_mhz: ArrayLike, noise_figure_db: float = 7.0) -> np.ndarray:
    """Receiver noise floor ``-174 dBm/Hz + 10 log10(BW) + NF`` (about -94 dBm at 20 MHz)."""
    bw_hz = np.asarray(width_mhz, dtype=float) * 1e6
    return THERMAL_NOISE_DBM_PER_HZ + 10.0 * np.log10(bw_hz) + noise_figure_db
