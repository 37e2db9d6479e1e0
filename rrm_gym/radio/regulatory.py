"""Bands, channels, bonding groups and regulatory domains.

A *slot* is one ``(primary channel, width)`` pair an AP radio can be tuned to.
Every slot gets an integer index so that simulation state can be held in
integer arrays; per-slot properties (centre frequency, occupied spectrum,
domain legality, DFS, CAC, EIRP limit) are precomputed numpy tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# --- DFS timings -----------------------------------------------------------
# FCC 47 CFR 15.407(h) / KDB 905462 and ETSI EN 301 893 clause 4.2.6.
DFS_CAC_S = 60.0  # channel availability check before first transmission
DFS_WEATHER_CAC_S = 600.0  # ETSI EN 301 893: 5600-5650 MHz (ch 120-128)
DFS_CHANNEL_MOVE_TIME_S = 10.0  # leave the channel within this after radar
DFS_NON_OCCUPANCY_S = 1800.0  # channel barred for 30 min after radar
# Channel closing transmission time: the transmissions allowed on the channel during the move
# time. FCC KDB 905462 D02: 200 ms, plus an aggregate of 60 ms over the rest of the 10 s; ETSI
# EN 301 893 (4.2.6): 1 s in all.
DFS_CLOSING_TIME_S = {"FCC": 0.26, "ETSI": 1.0}

# --- Clear-channel assessment (IEEE 802.11-2020 17.3.10.6, 27.3.20.6) --------
CCA_PREAMBLE_DETECT_DBM = -82.0  # a decodable Wi-Fi preamble in the primary 20 MHz
CCA_ENERGY_DETECT_DBM = -62.0  # any energy (non-Wi-Fi, partly overlapping Wi-Fi)

BAND_24 = 2.4
BAND_5 = 5.0

# OFDM transmit spectral mask (IEEE 802.11-2020 17.3.9.3 for 20 MHz; 19.3.18.1, 21.3.17.1 and
# 27.3.19.1 scale it with the width W): 0 dBr within +-(W/2 - 1) MHz, -20 dBr at +-(W/2 + 1),
# -28 dBr at +-W, -40 dBr at +-1.5 W and beyond, linear in dB between. Leakage is counted out
# to +-2.5 W (the next channel but one); further out, receiver selectivity and real transmitters
# (well inside the mask) make it negligible. 2.4 GHz uses the same OFDM mask: 802.11b's 22 MHz
# DSSS mask applies only to 802.11b rates.
_MASK_OFFSETS_W = (0.0, 0.5, 0.5, 1.0, 1.5, 2.5)  # in units of W; the 0.5 W points get -+1 MHz
_MASK_DBR = (0.0, 0.0, -20.0, -28.0, -40.0, -40.0)
_MASK_GRID_MHZ = 0.25

# 5 GHz bonding groups (IEEE 802.11-2020 Annex E, US/EU operating classes):
# first member channel of each group, by width.
_BONDING_STARTS = {
    40: (36, 44, 52, 60, 100, 108, 116, 124, 132, 140, 149, 157),
    80: (36, 52, 100, 116, 132, 149),
    160: (36, 100),
}
_CHANNELS_24 = tuple(range(1, 14))
_CHANNELS_5 = (36, 40, 44, 48, 52, 56, 60, 64, *range(100, 145, 4), 149, 153, 157, 161, 165)
WIDTHS_MHZ = (20, 40, 80, 160)


def channel_center_mhz(channel: int) -> float:
    """Centre frequency of a 20 MHz channel number (2.4 GHz: 1-13, 5 GHz: 36-165)."""
    if 1 <= channel <= 13:
        return 2407.0 + 5.0 * channel
    if 36 <= channel <= 177:
        return 5000.0 + 5.0 * channel
    raise ValueError(f"channel {channel} is not a 2.4 GHz (1-13) or 5 GHz (36-165) channel")


def band_of(channel: int) -> float:
    """``2.4`` or ``5.0`` (GHz) for a channel number."""
    return BAND_24 if channel <= 14 else BAND_5


def bonding_group(channel: int, width_mhz: int) -> tuple[int, ...]:
    """Member 20 MHz channels of the ``width_mhz`` group containing ``channel``.

    Raises ``ValueError`` if the channel cannot be bonded to that width.
    """
    if width_mhz == 20:
        if channel in _CHANNELS_24 or channel in _CHANNELS_5:
            return (channel,)
        raise ValueError(f"channel {channel} does not exist")
    if channel in _CHANNELS_24:
        raise ValueError(f"2.4 GHz channel {channel} supports only 20 MHz here, not {width_mhz}")
    n = width_mhz // 20
    for start in _BONDING_STARTS.get(width_mhz, ()):
        members = tuple(start + 4 * i for i in range(n))
        if channel in members:
            return members
    raise ValueError(f"channel {channel} has no {width_mhz} MHz bonding group")


@dataclass(frozen=True)
class Slot:
    """One tunable ``(primary channel, width)`` combination."""

    channel: int
    width_mhz: int
    members: tuple[int, ...]

    @property
    def band_ghz(self) -> float:
        return band_of(self.channel)

    @property
    def center_mhz(self) -> float:
        return 0.5 * (channel_center_mhz(self.members[0]) + channel_center_mhz(self.members[-1]))

    @property
    def span_mhz(self) -> tuple[float, float]:
        """Occupied spectrum ``(low, high)`` in MHz."""
        half = self.width_mhz / 2
        return (self.center_mhz - half, self.center_mhz + half)


def _all_slots() -> tuple[Slot, ...]:
    slots = [Slot(c, 20, (c,)) for c in _CHANNELS_24]
    for width in WIDTHS_MHZ:
        for c in _CHANNELS_5:
            try:
                slots.append(Slot(c, width, bonding_group(c, width)))
            except ValueError:
                continue
    return tuple(slots)


SLOTS: tuple[Slot, ...] = _all_slots()
NUM_SLOTS = len(SLOTS)
_SLOT_INDEX = {(s.channel, s.width_mhz): i for i, s in enumerate(SLOTS)}

# Per-slot tables, indexed by slot id.
SLOT_CHANNEL = np.array([s.channel for s in SLOTS], dtype=np.int16)
SLOT_WIDTH_MHZ = np.array([s.width_mhz for s in SLOTS], dtype=np.int16)
SLOT_CENTER_MHZ = np.array([s.center_mhz for s in SLOTS])
SLOT_FREQ_GHZ = SLOT_CENTER_MHZ / 1000.0
SLOT_BAND_GHZ = np.array([s.band_ghz for s in SLOTS])
# SLOT_MEMBERS[s, c]: slot s occupies 20 MHz channel number c (c < 200)
SLOT_MEMBERS = np.zeros((len(SLOTS), 200), dtype=bool)
for _i, _s in enumerate(SLOTS):
    SLOT_MEMBERS[_i, list(_s.members)] = True
SLOT_MEMBERS.setflags(write=False)


def slot_index(channel: int, width_mhz: int = 20) -> int:
    """Integer slot id of ``(channel, width_mhz)``; ``ValueError`` if it does not exist."""
    try:
        return _SLOT_INDEX[(int(channel), int(width_mhz))]
    except KeyError:
        bonding_group(int(channel), int(width_mhz))  # raises with the reason
        raise ValueError(f"channel {channel} at {width_mhz} MHz does not exist") from None


def mask_dbr(offset_mhz: np.ndarray, width_mhz: float) -> np.ndarray:
    """OFDM transmit spectral mask (dBr) at ``offset_mhz`` from the centre of a ``width_mhz``
    channel; ``-inf`` past the leakage counted (see ``_MASK_OFFSETS_W``)."""
    w = float(width_mhz)
    pts = np.array(_MASK_OFFSETS_W) * w + np.array([0.0, -1.0, 1.0, 0.0, 0.0, 0.0])
    f = np.abs(np.asarray(offset_mhz, dtype=float))
    return np.where(f <= pts[-1], np.interp(f, pts, _MASK_DBR), -np.inf)


def _overlap_matrix() -> np.ndarray:
    centre = np.array([s.center_mhz for s in SLOTS])
    width = np.array([s.width_mhz for s in SLOTS], dtype=float)
    grid = np.arange(2350.0, 5950.0, _MASK_GRID_MHZ) + _MASK_GRID_MHZ / 2  # [F] bin centres
    psd = np.stack([10.0 ** (mask_dbr(grid - c, w) / 10.0) for c, w in zip(centre, width, strict=True)])  # [S, F]
    psd /= psd.sum(axis=1, keepdims=True)
    inside = np.abs(grid[None, :] - centre[:, None]) < width[:, None] / 2  # [S, F] receive band of each slot
    return psd @ inside.T.astype(float)


# OVERLAP[i, j]: fraction of a transmitter's power on slot i that lands in the receive band of
# slot j, from the transmit spectral mask. Same slot: about 0.98 (the rest leaks out); 20 MHz
# neighbours 20 MHz apart (5 GHz): about -26 dB; 2.4 GHz channels 1 and 6: about -30 dB; an
# 80 MHz transmitter into one of its 20 MHz members: about 0.25.
OVERLAP: np.ndarray = _overlap_matrix()
OVERLAP.setflags(write=False)


def _shared_matrix() -> np.ndarray:
    lo = np.array([s.span_mhz[0] for s in SLOTS])
    hi = np.array([s.span_mhz[1] for s in SLOTS])
    shared = np.clip(np.minimum(hi[:, None], hi[None, :]) - np.maximum(lo[:, None], lo[None, :]), 0, None)
    return shared / (hi - lo)[:, None]


# SHARED[i, j]: fraction of slot i's nominal band (its width, centred) inside slot j's: what a
# channel plan counts as co-channel (1 for the same slot, 0.25 for 2.4 GHz channels 1 and 4, 0
# for 5 GHz neighbours). Leakage beyond the nominal band is in OVERLAP.
SHARED: np.ndarray = _shared_matrix()
SHARED.setflags(write=False)


def channel_overlap(a: int | tuple[int, int], b: int | tuple[int, int]) -> float:
    """Fraction of ``a``'s transmitted power that falls in ``b``'s band.

    ``a`` and ``b`` are channel numbers (20 MHz) or ``(channel, width_mhz)`` pairs.
    """
    ia = slot_index(*a) if isinstance(a, tuple) else slot_index(a)
    ib = slot_index(*b) if isinstance(b, tuple) else slot_index(b)
    return float(OVERLAP[ia, ib])


@dataclass(frozen=True)
class RegulatoryDomain:
    """Channels, DFS rules and EIRP limits of one regulatory domain."""

    name: str
    channels_24: tuple[int, ...]
    channels_5: tuple[int, ...]
    dfs_channels: frozenset[int]
    weather_channels: frozenset[int]
    # (first channel, last channel, max EIRP dBm) per sub-band
    eirp_table: tuple[tuple[int, int, float], ...]
    slot_allowed: np.ndarray = field(init=False, repr=False)
    slot_dfs: np.ndarray = field(init=False, repr=False)
    slot_cac_s: np.ndarray = field(init=False, repr=False)
    slot_max_eirp_dbm: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        legal = set(self.channels_24) | set(self.channels_5)
        allowed = np.array([all(m in legal for m in s.members) for s in SLOTS])
        dfs = np.array([any(m in self.dfs_channels for m in s.members) for s in SLOTS])
        weather = np.array([any(m in self.weather_channels for m in s.members) for s in SLOTS])
        cac = np.where(weather, DFS_WEATHER_CAC_S, np.where(dfs, DFS_CAC_S, 0.0))
        eirp = np.array([min(self._eirp(m) for m in s.members) for s in SLOTS])
        for name, arr in (("slot_allowed", allowed), ("slot_dfs", dfs), ("slot_cac_s", cac)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        eirp.setflags(write=False)
        object.__setattr__(self, "slot_max_eirp_dbm", eirp)

    def _eirp(self, channel: int) -> float:
        for first, last, limit in self.eirp_table:
            if first <= channel <= last:
                return limit
        return -np.inf

    @property
    def channels(self) -> tuple[int, ...]:
        return self.channels_24 + self.channels_5

    def allows(self, channel: int, width_mhz: int = 20) -> bool:
        """Whether every member channel of the slot is legal in this domain."""
        try:
            return bool(self.slot_allowed[slot_index(channel, width_mhz)])
        except ValueError:
            return False

    def is_dfs(self, channel: int, width_mhz: int = 20) -> bool:
        return bool(self.slot_dfs[slot_index(channel, width_mhz)])

    def cac_s(self, channel: int, width_mhz: int = 20) -> float:
        """Channel availability check before transmitting: 0, 60 s, or 600 s (ETSI weather)."""
        return float(self.slot_cac_s[slot_index(channel, width_mhz)])

    def max_eirp_dbm(self, channel: int, width_mhz: int = 20) -> float:
        return float(self.slot_max_eirp_dbm[slot_index(channel, width_mhz)])

    def allowed_widths(self, channel: int) -> tuple[int, ...]:
        return tuple(w for w in WIDTHS_MHZ if self.allows(channel, w))

    def allowed_slots(self, band_ghz: float, max_width_mhz: int = 160) -> np.ndarray:
        """Slot ids legal in this domain for a radio in ``band_ghz`` up to ``max_width_mhz``."""
        mask = self.slot_allowed & (SLOT_BAND_GHZ == band_ghz) & (SLOT_WIDTH_MHZ <= max_width_mhz)
        return np.flatnonzero(mask)


# FCC 47 CFR 15.247 (2.4 GHz, ch 1-11), 15.407 (U-NII-1 36-48 and U-NII-3
# 149-165 at 36 dBm EIRP; U-NII-2A 52-64 and U-NII-2C 100-144 at 30 dBm, DFS).
FCC = RegulatoryDomain(
    name="FCC",
    channels_24=tuple(range(1, 12)),
    channels_5=(36, 40, 44, 48, 52, 56, 60, 64, *range(100, 145, 4), 149, 153, 157, 161, 165),
    dfs_channels=frozenset((52, 56, 60, 64, *range(100, 145, 4))),
    weather_channels=frozenset(),
    eirp_table=((1, 11, 36.0), (36, 48, 36.0), (52, 64, 30.0), (100, 144, 30.0), (149, 165, 36.0)),
)

# ETSI EN 300 328 (2.4 GHz, ch 1-13, 20 dBm EIRP) and EN 301 893 (5150-5350 MHz
# 23 dBm, DFS on 52-64; 5470-5725 MHz 30 dBm, DFS, 10-min CAC on 120-128).
ETSI = RegulatoryDomain(
    name="ETSI",
    channels_24=tuple(range(1, 14)),
    channels_5=(36, 40, 44, 48, 52, 56, 60, 64, *range(100, 141, 4)),
    dfs_channels=frozenset((52, 56, 60, 64, *range(100, 141, 4))),
    weather_channels=frozenset((120, 124, 128)),
    eirp_table=((1, 13, 20.0), (36, 64, 23.0), (100, 140, 30.0)),
)

DOMAINS: dict[str, RegulatoryDomain] = {"FCC": FCC, "ETSI": ETSI}
