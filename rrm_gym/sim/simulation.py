"""WirelessSimulation: the world state of B networks of one scenario, and its clock.

Time advances in *segments* of constant configuration. Client positions and
offered load change only at *epoch* boundaries (``loops.epoch_s``); non-Wi-Fi
interferers, radars and channel-change outages vary per 1 s tick. Inside a
segment every quantity is a numpy array; Python runs per segment, never per
tick, AP or client.

Shapes: ``B`` networks, ``T`` ticks, ``N`` managed APs, ``M`` unmanaged
neighbour APs, ``W = N + M`` Wi-Fi transmitters, ``K`` clients, ``I``
non-Wi-Fi interferers, ``R`` radars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rrm_gym.config import Scenario, load_scenario
from rrm_gym.config.schema import INTERFERER_DEFAULTS, Schedule
from rrm_gym.radio.phy import (
    HE_RATE_20MHZ_1SS_MBPS,
    MCS_SINR_THRESHOLD_DB,
    PER_SLOPE_PER_DB,
    WIDTH_RATE_FACTOR,
    mcs_index,
)
from rrm_gym.radio.propagation import frequency_loss_db, geometric_loss_db, noise_floor_dbm
from rrm_gym.radio.regulatory import (
    CCA_ENERGY_DETECT_DBM,
    CCA_PREAMBLE_DETECT_DBM,
    DOMAINS,
    OVERLAP,
    SLOT_BAND_GHZ,
    SLOT_CHANNEL,
    SLOT_FREQ_GHZ,
    SLOT_WIDTH_MHZ,
    SLOTS,
    slot_index,
)
from rrm_gym.sim.geometry import LossRaster, WallRaster, place_clients, wall_segments, walls_crossed

MAC_EFFICIENCY = 0.7  # HE A-MPDU aggregation, block ack, contention overhead
REASSOCIATION_OUTAGE_S = 2.0  # clients of an AP that changes channel without CSA
CLIENT_SENSITIVITY_DBM = -82.0  # MCS 0 sensitivity: weaker than this and a client cannot associate
NEIGHBOR_REPORT_DBM = -90.0  # weakest neighbour AP a radio still reports (beacons, NDP)
NONWIFI_DETECT_DBM = -95.0  # spectrum-analysis sensitivity for non-Wi-Fi classification
# IEEE 802.11-2020 21.3.18.5.4: a Wi-Fi signal in a secondary channel at -72 dBm or more (20 MHz).
CCA_SECONDARY_DBM = -72.0
# Chance that a frame collides with one busy contender's frame (same backoff slot):
# about 2 / (CWmin + 1) for CWmin = 15 (Bianchi, IEEE JSAC 2000), scaled by its airtime.
CSMA_COLLISION_PER_CONTENDER = 0.12
# Interference this far under the 20 MHz noise floor changes SINR by < 0.4 dB: ignored.
HIDDEN_NODE_FLOOR_DBM = -105.0
INTERFERER_KINDS = ("microwave", "video_bridge", "bluetooth", "generic")
_FIXED_POINT_ITERATIONS = 4
_NEG = -300.0  # "no power" in dB, finite so that arithmetic stays warning-free

# Hourly probability that a client is active (hour 0..23).
DIURNAL_PROFILES = {
    "office": (0.05,) * 7 + (0.3, 0.6, 0.85, 0.85, 0.85, 0.6, 0.85, 0.85, 0.85, 0.85, 0.5, 0.25) + (0.08,) * 5,
    "residential": (0.15,) * 7 + (0.4, 0.4) + (0.3,) * 8 + (0.5, 0.85, 0.85, 0.85, 0.85, 0.85, 0.4),
    "flat": (0.8,) * 24,
}

with np.errstate(divide="ignore"):
    _OVERLAP_DB = np.maximum(10.0 * np.log10(OVERLAP), _NEG).astype(np.float32)
_SLOT_FREQ_LOSS_DB = frequency_loss_db(SLOT_FREQ_GHZ)
_SLOT_NOISE_MW = 10.0 ** (noise_floor_dbm(SLOT_WIDTH_MHZ) / 10.0)
_SLOT_PER20_DB = 10.0 * np.log10(SLOT_WIDTH_MHZ / 20.0)  # power per 20 MHz below the total
_PRIMARY20 = np.array([slot_index(c) for c in SLOT_CHANNEL])  # slot of each slot's primary 20 MHz
# _PRIMARY_DECODES[i, j]: j's band covers all of i's primary 20 MHz, so i can decode j's preamble
_PRIMARY_DECODES = OVERLAP[_PRIMARY20][:, :] >= 0.999
# _INSIDE[i, j]: all of j's power falls within i's band (e.g. j on one of i's secondary channels)
_INSIDE = OVERLAP.T >= 0.999
_SLOT_CHANNEL_INT = [int(c) for c in SLOT_CHANNEL]
_SLOT_WIDTH_INT = [int(w) for w in SLOT_WIDTH_MHZ]
_SLOT_RATE_FACTOR = np.array([WIDTH_RATE_FACTOR[int(w)] for w in SLOT_WIDTH_MHZ])


def _over_ticks(x: np.ndarray, ticks: int) -> np.ndarray:
    """Read-only ``[B, ticks, ...]`` view of a contiguous ``[B, 1, ...]`` array, each tick the same
    row: what ``np.broadcast_to`` returns, built at a fifth of its cost (this runs a dozen times a
    segment)."""
    x = np.ascontiguousarray(x)
    shape = (x.shape[0], ticks, *x.shape[2:])
    view = np.ndarray(shape, x.dtype, x, 0, (x.strides[0], 0, *x.strides[2:]))
    view.flags.writeable = False
    return view


# below this many hidden sources (or possible collisions) per client, the segment computes the
# SINR (or the collision loss) of the clients that have them alone: the others' equal their links'
_FEW_HIDDEN = 0.5

# from this many clients in all networks on, the links of the clients that moved in an epoch are
# redone row by row (in place); below it, every client's (a few calls on small arrays: cheaper)
_ROWS_MIN_CLIENTS = 2048

# room the hidden-node lists keep for appended entries, as a share of their length when built in
# order: past it they are built in order again (see _HiddenLists)
_HIDDEN_SLACK = 0.25

# interferer readings kept per configuration: at most this many states or sets of states
_SENSED_KEPT = 256

# a hidden source can cause collisions only where the SINR while it transmits is below the top
# MCS's threshold plus a margin where its PER is < 1e-5 (see rrm_gym.radio.phy)
_COLLISION_SINR_DB = float(MCS_SINR_THRESHOLD_DB[-1]) + 8.0


def _nonzero_2d(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D array; from the flat indices where it holds a few thousand values or
    more (several times cheaper then; the same indices)."""
    if mask.size < 2048:
        return np.nonzero(mask)
    return np.divmod(mask.reshape(-1).nonzero()[0], mask.shape[1])


# below this many rows _put_rows assigns them the plain way (cheaper at that size)
_PUT_ROWS_MIN = 64


def _put_rows(x: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``x.reshape(-1, J)[rows] = values`` for a contiguous ``x`` ``[..., J]`` and flat row indices
    ``rows``: each row is put whole, as one opaque item (several times cheaper than numpy's
    assignment of rows; the same bytes, ``values`` cast to ``x``'s type as that assignment casts)."""
    j = x.shape[-1]
    if len(rows) < _PUT_ROWS_MIN:
        x.reshape(-1, j)[rows] = values  # (a few rows: the plain assignment costs less)
        return
    item = np.dtype((np.void, j * x.itemsize))
    values = np.ascontiguousarray(values, dtype=x.dtype).reshape(-1, j)
    x.reshape(-1, j).view(item).reshape(-1).put(rows, values.view(item).reshape(-1))


def _distinct(sorted_ints: np.ndarray) -> np.ndarray:
    """The distinct values of a non-decreasing integer array, in order (``np.unique`` without its sort)."""
    if len(sorted_ints) < 2:
        return sorted_ints.copy()
    keep = np.empty(len(sorted_ints), dtype=bool)
    keep[0] = True
    np.not_equal(sorted_ints[1:], sorted_ints[:-1], out=keep[1:])
    return sorted_ints[keep]


def _link_terms(
    r: _RadioState, assoc: np.ndarray, a: np.ndarray, cell: np.ndarray, signal: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Each client's link to its AP from its association ``assoc`` (``-1``: none), serving AP ``a``
    (0 when none), flat (network, AP) ``cell`` and received ``signal`` (dBm), any shape alike:
    ``(linked, a, signal, cell, noise_mw, rate_factor, snr_db, mcs0, rate0)``, ``mcs0`` and
    ``rate0`` the interference-free MCS and goodput (see ``WirelessSimulation._segment``)."""
    snr_db = signal - r.ap_noise_db.take(cell)
    mcs0 = mcs_index(snr_db)
    rate_factor = r.ap_rate_factor.take(cell)
    rate0 = HE_RATE_20MHZ_1SS_MBPS[np.maximum(mcs0, 0)] * rate_factor
    return assoc >= 0, a, signal, cell, r.ap_noise_mw.take(cell), rate_factor, snr_db, mcs0, rate0


def _clean_terms(
    linked: np.ndarray, rate_factor: np.ndarray, sinr_db: np.ndarray, mcs: np.ndarray, frame_loss: bool = True
) -> tuple[np.ndarray, ...]:
    """What a client's ``sinr_db`` and ``mcs`` give before collisions: ``(served, mcs_c, rate,
    per)``, served (linked, and decoding MCS 0), the MCS used (0 at least), the goodput without
    retries and the frame loss at that MCS (``None`` unless ``frame_loss``)."""
    served = linked & (mcs >= 0)
    mcs_c = np.maximum(mcs, 0)
    rate = np.where(served, HE_RATE_20MHZ_1SS_MBPS[mcs_c] * rate_factor, 0.0)
    return served, mcs_c, rate, _per(sinr_db, mcs_c) if frame_loss else None


def _per(sinr_db: np.ndarray, mcs: np.ndarray) -> np.ndarray:
    """Packet error of frames at ``mcs`` (>= 0) and ``sinr_db``; see :mod:`rrm_gym.radio.phy`.
    ``1 / (1 + 9 exp(min(slope (sinr - threshold), 50)))``, each step in one buffer (these arrays
    hold every client or hidden pair of B networks)."""
    x = np.subtract(sinr_db, MCS_SINR_THRESHOLD_DB.take(mcs))
    np.multiply(PER_SLOPE_PER_DB, x, out=x)
    np.minimum(x, 50.0, out=x)
    np.exp(x, out=x)
    np.multiply(9.0, x, out=x)
    np.add(1.0, x, out=x)
    return np.divide(1.0, x, out=x)


@dataclass(frozen=True)
class _RadioState:
    tx_eff: np.ndarray  # [B, W] transmit power less the frequency term of path loss
    ov_db: np.ndarray  # [B, W, W] share of j's power in i's band, dB
    hears: np.ndarray  # [B, W, W] i defers to j (CCA)
    hears_t: np.ndarray  # [B, W, W] float, transposed: hears_t[b, j, i]
    neighbor_rssi_dbm: np.ndarray  # [B, N, N]
    foreign_rssi_dbm: np.ndarray  # [B, N, M]
    radar_on: np.ndarray  # [B, R, N] AP's band covers the radar channel and it is in range
    if_ed: np.ndarray  # [B, I, N] duty of interferer energy above energy detect
    if_conf: np.ndarray  # [B, I, N] classifier confidence when the interferer is on
    if_duty_seen: np.ndarray  # [B, I, N]
    hidden_cand: np.ndarray  # [B, N, C] transmitters AP n cannot hear but that share its band, -1 pad
    any_hidden_cand: bool  # some AP has one
    # per managed AP, for its clients: flat [B * N] noise floor (mW and dB) and rate factor of its
    # slot (width, spatial streams, MAC efficiency); [B * N, I] frequency term plus the interferers'
    # in-band share (dB) and their duty in its band
    ap_noise_mw: np.ndarray
    ap_freq_loss_db: np.ndarray
    ap_noise_db: np.ndarray
    ap_rate_factor: np.ndarray
    ap_if_db: np.ndarray
    ap_if_duty: np.ndarray
    if_sensed_bits: int  # interferers some AP senses (energy detect or classifier), as bits


class _HiddenLists:
    """The hidden-node lists of :meth:`WirelessSimulation._hidden` kept with room to grow, so that
    after an epoch only the moved clients' entries are touched: their old entries stay where they
    are with their source set to ``silent`` (a transmitter index past the last, whose airtime the
    segment holds at 0, so each adds an exact 0.0 to its client's sums) and their new ones are
    appended. Each client's live entries stay in candidate order and every sum over a client's
    entries (``np.bincount``) meets them in that order after zeros only, so the sums are those of
    the lists built in order, bit for bit. ``pos`` and ``c_pos`` give each (network, client,
    candidate)'s entry in the lists, ``-1`` where none."""

    def __init__(
        self, lists: tuple[np.ndarray, ...], flat: np.ndarray, coll: np.ndarray, size: int, silent: int
    ) -> None:
        self.silent = silent
        self.bufs = []
        for x in lists[:6]:
            buf = np.empty(len(x) + max(256, int(len(x) * _HIDDEN_SLACK)), dtype=x.dtype)
            buf[: len(x)] = x
            self.bufs.append(buf)
        self.n_h, self.n_c = len(lists[0]), len(lists[3])
        self.live_h, self.live_c = self.n_h, self.n_c
        self.pos = np.full(size, -1, dtype=np.intp)
        self.pos.put(flat, np.arange(self.n_h))
        self.c_pos = np.full(size, -1, dtype=np.intp)
        self.c_pos.put(flat.take(coll), np.arange(self.n_c))

    def patch(
        self,
        slots: np.ndarray,
        flat_p: np.ndarray,
        c: int,
        h_src: np.ndarray,
        h_mw: np.ndarray,
        sinr_db: np.ndarray,
        few: float,
    ) -> tuple[np.ndarray, ...] | None:
        """Replace the entries of the (network, client, candidate) ``slots`` of the redone rows by
        the hidden sources ``flat_p`` among them, with their source, power and SINR; the lists, or
        ``None`` (nothing changed) where they would outgrow their room or fall under ``few``."""
        old, old_c = self.pos.take(slots), self.c_pos.take(slots)
        old, old_c = old[old >= 0], old_c[old_c >= 0]
        coll = np.flatnonzero(sinr_db < _COLLISION_SINR_DB)
        m, m_c = len(flat_p), len(coll)
        h_client, h_srcs, h_mws, c_client, c_srcs, c_sinr = self.bufs
        live_h, live_c = self.live_h - len(old) + m, self.live_c - len(old_c) + m_c
        if self.n_h + m > len(h_client) or self.n_c + m_c > len(c_client) or min(live_h, live_c) < few:
            return None
        h_srcs[old] = self.silent
        c_srcs[old_c] = self.silent
        self.pos[slots] = -1
        self.c_pos[slots] = -1
        i, j = self.n_h, self.n_c
        client = flat_p // c
        h_client[i : i + m] = client
        h_srcs[i : i + m] = h_src
        h_mws[i : i + m] = h_mw
        self.pos.put(flat_p, np.arange(i, i + m))
        c_client[j : j + m_c] = client.take(coll)
        c_srcs[j : j + m_c] = h_src.take(coll)
        c_sinr[j : j + m_c] = sinr_db.take(coll)
        self.c_pos.put(flat_p.take(coll), np.arange(j, j + m_c))
        self.n_h, self.n_c, self.live_h, self.live_c = i + m, j + m_c, live_h, live_c
        n_h, n_c = self.n_h, self.n_c
        return (h_client[:n_h], h_srcs[:n_h], h_mws[:n_h], c_client[:n_c], c_srcs[:n_c], c_sinr[:n_c], None, None)


@dataclass(frozen=True)
class Sensing:
    """What the APs and the controller measured over one span of ticks.

    Per-tick arrays are ``[B, T, N]``; per-client arrays ``[B, K]`` are the
    mean over the span (throughput, demand) or its last tick (association, RSSI).
    A reading held over several ticks may come as a read-only view repeating one
    row, and a per-client array as a read-only view that later spans share (the
    association, the offered load): copy an array before writing into it.
    """

    t0_s: float
    cca_busy_frac: np.ndarray  # [B, T, N] medium busy (other Wi-Fi heard + non-Wi-Fi energy)
    airtime_frac: np.ndarray  # [B, T, N] own transmit time
    retry_rate: np.ndarray  # [B, T, N] traffic-weighted frame retry probability
    throughput_mbps: np.ndarray  # [B, T, N] served by each AP
    nonwifi_duty_frac: np.ndarray  # [B, T, N] duty cycle of detected non-Wi-Fi energy
    nonwifi_confidence: np.ndarray  # [B, T, N] classifier confidence in [0, 1]
    nonwifi_kind: np.ndarray  # [B, T, N] index into INTERFERER_KINDS, -1 none
    radar_detected: np.ndarray  # [B, T, N] bool
    demand_mbps: np.ndarray  # [B, T, N] traffic offered to each AP by its associated clients
    transmitting: np.ndarray  # [B, T, N] bool: the radio is on (beacons at least)
    radar_burst: np.ndarray  # [B, T, R] ground truth of radar pulses, for compliance monitoring only
    client_ap: np.ndarray  # [B, K] serving AP, -1 unassociated
    client_rssi_dbm: np.ndarray  # [B, K]
    client_snr_db: np.ndarray  # [B, K]
    client_throughput_mbps: np.ndarray  # [B, K] mean over the span
    client_demand_mbps: np.ndarray  # [B, K] mean offered load over the span
    clients_per_ap: np.ndarray  # [B, N]
    neighbor_rssi_dbm: np.ndarray  # [B, N, N] RSSI at AP i of managed AP j, NaN if not heard
    foreign_rssi_dbm: np.ndarray  # [B, N, M] RSSI at AP i of unmanaged AP m, NaN if not heard
    foreign_channel: np.ndarray  # [M] primary channel of each unmanaged AP
    foreign_slot: np.ndarray  # [M] its slot (channel and width), as an off-channel scan reports it

    @property
    def ticks(self) -> int:
        return self.cca_busy_frac.shape[1]

    def kpis(self) -> dict[str, np.ndarray]:
        """Network KPIs per network ``[B]``: client throughput mean/p5 (active clients), CCA busy, retry."""
        active = self.client_demand_mbps > 0  # [B, K]
        count = active.sum(axis=1)
        mean = np.where(active, self.client_throughput_mbps, 0.0).sum(axis=1) / np.maximum(count, 1)
        # 5th percentile over active clients (linear interpolation, as np.percentile): inactive
        # ones sort to the end as +inf; a column of zeros keeps networks without clients indexable
        ranked = np.sort(np.where(active, self.client_throughput_mbps, np.inf), axis=1)
        ranked = np.concatenate([ranked, np.zeros((len(count), 1))], axis=1)
        pos = np.clip(0.05 * (count - 1), 0, None)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        rows = np.arange(len(count))
        frac = pos - lo
        p5 = np.where(count > 0, ranked[rows, lo] * (1 - frac) + np.where(frac > 0, ranked[rows, hi], 0) * frac, 0.0)
        return {
            "throughput_mean_mbps": mean,
            "throughput_p5_mbps": p5,
            "cca_busy_mean": self.cca_busy_frac.mean(axis=(1, 2), dtype=np.float64),
            "retry_rate_mean": self.retry_rate.mean(axis=(1, 2), dtype=np.float64),
        }

    @staticmethod
    def concat(parts: list[Sensing]) -> Sensing:
        """Join consecutive spans into one."""
        join = _SpanJoin(sum(p.ticks for p in parts))
        for p in parts:
            join.add(p)
        return join.result()


# the per-tick readings of a span ([B, T, ...]), and its per-client means over the span
_TICK_FIELDS = (
    "cca_busy_frac",
    "airtime_frac",
    "retry_rate",
    "throughput_mbps",
    "nonwifi_duty_frac",
    "nonwifi_confidence",
    "nonwifi_kind",
    "radar_detected",
    "demand_mbps",
    "transmitting",
    "radar_burst",
)
_MEAN_FIELDS = ("client_throughput_mbps", "client_demand_mbps")


class _TickJoin:
    """One per-tick reading of consecutive spans of ``ticks`` ticks in all, joined along the tick
    axis as they come: what ``np.concatenate`` of the spans gives. A reading held over a span (a
    view repeating one row) is kept as that row, in one buffer for all spans, and from the first
    span that is not held on, every span is written into the joined array as it comes. (Each
    span's own arrays, kept till the join among its segments' large ones, would leave the memory
    those free in pieces, so that every segment of a long run took fresh memory.)"""

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks
        self.first: np.ndarray | None = None
        self.same = True  # every span's reading is the first's (one held view)
        self.spans: list[int] = []  # ticks of each held span so far, while nothing is written
        self.rows: np.ndarray | None = None  # [B, room, ...] their rows, in order
        self.out: np.ndarray | None = None  # the joined reading, once a span is not held
        self.at = 0  # ticks joined so far

    def add(self, x: np.ndarray) -> None:
        if self.first is None:
            self.first = x
        elif x is not self.first:
            self.same = False
        t = x.shape[1]
        if self.out is None:
            if t > 1 and x.strides[1] == 0:
                used = len(self.spans)
                if self.rows is None or used == self.rows.shape[1]:
                    grown = np.empty((x.shape[0], max(8, 2 * used), *x.shape[2:]), x.dtype)
                    if self.rows is not None:
                        grown[:, :used] = self.rows
                    self.rows = grown
                self.rows[:, used] = x[:, 0]
                self.spans.append(t)
                self.at += t
                return
            self.out = np.empty((x.shape[0], self.ticks, *x.shape[2:]), x.dtype)
            at = 0
            for j, held in enumerate(self.spans):  # the held spans so far
                self.out[:, at : at + held] = self.rows[:, j : j + 1]
                at += held
        self.out[:, self.at : self.at + t] = x
        self.at += t

    def result(self) -> np.ndarray:
        if self.out is not None:
            return self.out
        if self.same:
            # one reading held over every span (a steady state's view): held over all of them
            return _over_ticks(self.first[:, :1], self.at)
        # spans holding one reading each give it once, repeated: several times cheaper than
        # copying the views tick by tick
        return np.repeat(self.rows[:, : len(self.spans)], self.spans, axis=1)


class _SpanJoin:
    """:meth:`Sensing.concat` of consecutive spans of ``ticks`` ticks in all, given one at a time.

    The tick-weighted client means are summed as the spans come, part by part in order (what
    stacking the parts and summing over the leading axis gives: that reduction adds its rows one
    after another), the per-tick readings are joined by :class:`_TickJoin`, and of the rest only
    the last span's is kept: a long run holds no span's per-client arrays."""

    def __init__(self, ticks: int) -> None:
        self._ticks = float(ticks)
        self._count = 0
        self._first: Sensing | None = None  # while it is the only span
        self._t0_s = 0.0
        self._last: Sensing | None = None
        self._per_tick: dict[str, _TickJoin] | None = None  # made with the second span
        self._sums: list[np.ndarray] = []
        self._term: list[np.ndarray] = []

    def add(self, part: Sensing) -> None:
        self._count += 1
        self._last = part
        if self._count == 1:  # (one span is returned as it is)
            self._first, self._t0_s = part, part.t0_s
            return
        if self._first is not None:
            self._fold(self._first)
            self._first = None
        self._fold(part)

    def _fold(self, part: Sensing) -> None:
        if self._per_tick is None:
            self._per_tick = {name: _TickJoin(int(self._ticks)) for name in _TICK_FIELDS}
        for name, join in self._per_tick.items():
            join.add(getattr(part, name))
        w = part.ticks / self._ticks  # as numpy divides the spans' ticks by their sum
        if not self._sums:
            self._sums = [np.multiply(w, getattr(part, name)) for name in _MEAN_FIELDS]
            self._term = [np.empty_like(x) for x in self._sums]
            return
        for name, total, term in zip(_MEAN_FIELDS, self._sums, self._term, strict=True):
            np.add(total, np.multiply(w, getattr(part, name), out=term), out=total)

    def result(self) -> Sensing:
        if self._count == 1:
            return self._last
        last = self._last
        return Sensing(
            t0_s=self._t0_s,
            **{name: join.result() for name, join in self._per_tick.items()},
            client_ap=last.client_ap,
            client_rssi_dbm=last.client_rssi_dbm,
            client_snr_db=last.client_snr_db,
            client_throughput_mbps=self._sums[0],
            client_demand_mbps=self._sums[1],
            clients_per_ap=last.clients_per_ap,
            neighbor_rssi_dbm=last.neighbor_rssi_dbm,
            foreign_rssi_dbm=last.foreign_rssi_dbm,
            foreign_channel=last.foreign_channel,
            foreign_slot=last.foreign_slot,
        )


# how many values a long random draw takes at a time (see _draw_buffer)
_DRAW_VALUES = 1 << 16


def _draw_buffer(shape: tuple[int, ...]) -> np.ndarray:
    """A float buffer for drawing ``shape`` values a few rows of the leading axis at a time
    (about :data:`_DRAW_VALUES` values, one row at least)."""
    per_row = math.prod(shape[1:])
    return np.empty((min(shape[0], max(1, _DRAW_VALUES // max(1, per_row))), *shape[1:]))


def _uniform_below(
    rng: np.random.Generator, shape: tuple[int, ...], p: np.ndarray | float, buf: np.ndarray | None = None
) -> np.ndarray:
    """``rng.random(shape) < p`` (``p`` broadcast over the trailing axes), drawn a few rows of the
    leading axis at a time into ``buf`` (made if not given): the same stream and the same result,
    without a float array of ``shape`` taken as fresh memory."""
    buf = _draw_buffer(shape) if buf is None else buf
    out = np.empty(shape, dtype=bool)
    step = len(buf)
    for i in range(0, shape[0], step):
        x = buf[: min(step, shape[0] - i)]
        rng.random(out=x)
        np.less(x, p, out=out[i : i + len(x)])
    return out


class _OnOff:
    """Per-tick on/off of E scheduled sources in B networks (always, intervals, random sessions)."""

    def __init__(self, schedules: list[Schedule], num_networks: int, start_hour: float) -> None:
        self.always = np.array([s.always for s in schedules], dtype=bool)
        self.intervals = [np.asarray(s.intervals_s, dtype=float).reshape(-1, 2) for s in schedules]
        self.rate_per_s = np.array([s.sessions_per_hour / 3600.0 for s in schedules])
        self.mean_session_s = np.array([s.mean_session_s for s in schedules])
        self.hours = np.array([s.active_hours for s in schedules], dtype=float).reshape(-1, 2)
        self.start_hour = start_hour
        self.session_end_s = np.full((num_networks, len(schedules)), -np.inf)  # [B, E]

    def sample(self, t0_s: float, ticks: int, rng: np.random.Generator) -> np.ndarray:
        """``[B, T, E]`` bool for ticks starting at ``t0_s``.

        The draws are made a few networks at a time into one reused buffer: what one draw of
        ``[B, T, E]`` values gives (the stream fills networks in order), without the ``[B, T, E]``
        float temporaries that an hour of 64 networks would take as fresh memory each block."""
        b, e = self.session_end_s.shape
        t = t0_s + np.arange(ticks, dtype=float)  # [T]
        on = np.broadcast_to(self.always, (ticks, e)).copy()
        for j, iv in enumerate(self.intervals):
            if len(iv):
                on[:, j] |= ((t[:, None] >= iv[:, 0]) & (t[:, None] < iv[:, 1])).any(axis=1)
        if not self.rate_per_s.any():
            return np.broadcast_to(on, (b, ticks, e))
        hour = (self.start_hour + t / 3600.0) % 24.0
        window = (hour[:, None] >= self.hours[:, 0]) & (hour[:, None] < self.hours[:, 1])  # [T, E]
        rate = self.rate_per_s * window
        buf = _draw_buffer((b, ticks, e))
        starts = _uniform_below(rng, (b, ticks, e), rate, buf)
        out = np.empty((b, ticks, e), dtype=bool)
        t_col = t[:, None]
        step = len(buf)
        for i in range(0, b, step):
            ends = buf[: min(step, b - i)]
            m = len(ends)
            # a session of random length from each start: exponential(scale) draws scale times a
            # standard exponential, from the same stream
            rng.standard_exponential(out=ends)
            np.multiply(ends, self.mean_session_s, out=ends)
            np.add(ends, t_col, out=ends)
            np.copyto(ends, -np.inf, where=~starts[i : i + m])
            ends[:, 0] = np.maximum(ends[:, 0], self.session_end_s[i : i + m])
            np.maximum.accumulate(ends, axis=1, out=ends)
            self.session_end_s[i : i + m] = ends[:, -1]
            np.greater(ends, t_col, out=out[i : i + m])
        return np.bitwise_or(out, on, out=out)


class WirelessSimulation:
    """B independent draws of one scenario's WLAN, advanced together.

    ``sim.run(duration_s)`` advances the clock and returns :class:`Sensing`.
    ``set_channel`` / ``set_power`` change one AP's configuration between runs
    (the event loop is their caller). ``channel``, ``width_mhz`` and
    ``power_dbm`` are read-only ``[B, N]`` views of the current configuration.
    Same scenario and seed give bit-identical sensing.
    """

    def __init__(self, scenario: Scenario | str | Path, seed: int = 0, num_networks: int = 1) -> None:
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        if num_networks < 1:
            raise ValueError(f"num_networks must be >= 1, got {num_networks}")
        self.scenario = scenario
        self.seed = seed
        self.domain = DOMAINS[scenario.regulatory_domain]
        self.num_networks = b = num_networks
        self._rng = np.random.default_rng(seed)
        rng = self._rng
        sc = scenario
        self.num_aps = n = len(sc.aps)
        self.num_neighbors = m = len(sc.neighbors)
        self.num_clients = k = sc.clients.count
        self.epoch_s = sc.loops.epoch_s
        self.time_s = 0.0
        self._walls = wall_segments(sc)
        self._model = sc.propagation.model
        self._sigma = sc.propagation.shadowing_sigma_db

        # --- transmitters: managed APs then unmanaged neighbours ------------------------
        self.ap_xy = np.array([ap.position for ap in sc.aps], dtype=float).reshape(n, 2)
        nb_xy = np.array([nb.position for nb in sc.neighbors], dtype=float).reshape(m, 2)
        self._tx_xy = np.concatenate([self.ap_xy, nb_xy])  # [W, 2]
        self.ap_band_ghz = np.array([SLOT_BAND_GHZ[slot_index(ap.channel, ap.width_mhz)] for ap in sc.aps])
        self.ap_min_power_dbm = np.array([ap.min_power_dbm for ap in sc.aps])
        self.ap_max_power_dbm = np.array([ap.max_power_dbm for ap in sc.aps])
        self._power_range = [(float(ap.min_power_dbm), float(ap.max_power_dbm)) for ap in sc.aps]  # per AP
        self.ap_max_width_mhz = np.array([ap.max_width_mhz or ap.width_mhz for ap in sc.aps])
        self._ap_nss = np.array([ap.spatial_streams for ap in sc.aps])
        slots = [slot_index(ap.channel, ap.width_mhz) for ap in sc.aps]
        slots += [slot_index(nb.channel, nb.width_mhz) for nb in sc.neighbors]
        self._slot = np.tile(np.array(slots, dtype=np.intp), (b, 1))  # [B, W]
        powers = [ap.power_dbm for ap in sc.aps] + [nb.power_dbm for nb in sc.neighbors]
        self._power = np.tile(np.array(powers, dtype=float), (b, 1))  # [B, W]
        self._nb_load = np.array([nb.load for nb in sc.neighbors], dtype=float)  # [M]
        self._tx_on = np.ones((b, n + m), dtype=bool)  # radio on; off while silent (e.g. during CAC)
        self._outage_until_s = np.full((b, n), -np.inf)
        self._last_outage_until_s = -np.inf

        d_tt = np.linalg.norm(self._tx_xy[:, None] - self._tx_xy[None], axis=-1)
        geo_tt = geometric_loss_db(
            d_tt, walls_crossed(self._tx_xy[:, None], self._tx_xy[None], self._walls), self._model
        )
        shadow = rng.normal(0.0, self._sigma, (b, n + m, n + m))
        shadow = np.triu(shadow, 1)
        # link budgets are held in float32: dB values need no more, and it halves memory traffic
        self._pl_tt = (geo_tt + shadow + shadow.transpose(0, 2, 1)).astype(np.float32)  # [B, W, W] symmetric

        # --- non-Wi-Fi interferers --------------------------------------------------------
        its = sc.interferers
        self.num_interferers = len(its)
        spec = [self._interferer_spec(it) for it in its]
        self._if_kind = np.array([INTERFERER_KINDS.index(it.kind) for it in its], dtype=np.int8)
        self._if_power = np.array([s[2] for s in spec], dtype=float)
        self._if_duty = np.array([s[3] for s in spec], dtype=float)
        # fraction of each interferer's spectrum inside each slot's band -> [I, S]
        lo = np.array([s[0] - s[1] / 2 for s in spec]).reshape(-1, 1)
        hi = np.array([s[0] + s[1] / 2 for s in spec]).reshape(-1, 1)
        slo = np.array([sl.span_mhz[0] for sl in SLOTS])
        shi = np.array([sl.span_mhz[1] for sl in SLOTS])
        frac = np.clip(np.minimum(hi, shi) - np.maximum(lo, slo), 0.0, None) / np.maximum(hi - lo, 1e-9)
        hopper = np.array([it.kind == "bluetooth" for it in its], dtype=bool).reshape(-1, 1)
        # a hopper puts full power in the band for the share of hops that land there;
        # a fixed-frequency source puts that share of its power there all the time
        with np.errstate(divide="ignore"):
            self._if_band_db = np.where(hopper, np.where(frac > 0, 0.0, _NEG), np.maximum(10 * np.log10(frac), _NEG))
        self._if_band_duty = np.where(hopper, frac, frac > 0) * self._if_duty.reshape(-1, 1)  # [I, S]
        if_xy = np.array([it.position for it in its], dtype=float).reshape(-1, 2)
        self._if_xy = if_xy
        d_it = np.linalg.norm(if_xy[:, None] - self.ap_xy[None], axis=-1)
        geo_it = geometric_loss_db(d_it, walls_crossed(if_xy[:, None], self.ap_xy[None], self._walls), self._model)
        self._pl_if_ap = geo_it + rng.normal(0.0, self._sigma, (b, len(its), n))  # [B, I, N]
        self._if_onoff = _OnOff([it.schedule for it in its], b, sc.start_hour)

        # --- radars -----------------------------------------------------------------------
        rd = sc.radars
        self._radar_slot = np.array([slot_index(r.channel) for r in rd], dtype=np.intp)
        cover = np.ones((len(rd), n), dtype=bool)
        for j, r in enumerate(rd):
            if r.position is not None:
                cover[j] = np.linalg.norm(self.ap_xy - np.asarray(r.position), axis=1) <= r.range_m
        self._radar_cover = cover  # [R, N]
        self._radar_at = [np.floor(np.asarray(r.at_s)).astype(int) for r in rd]
        self._radar_rate_per_s = np.array([r.rate_per_hour / 3600.0 for r in rd])

        # --- clients ----------------------------------------------------------------------
        cl = sc.clients
        profile = cl.demand.hourly or DIURNAL_PROFILES[cl.demand.profile]
        self._profile_wrap = [float(v) for v in profile] + [float(profile[0])]
        self.client_xy = place_clients(sc, rng, (b, k))  # [B, K, 2]
        self._mobile = rng.random((b, k)) < cl.mobility.mobile_fraction
        mu = np.log(cl.demand.mean_mbps) - 0.5 * cl.demand.sigma**2  # log-normal with that mean
        self._base_demand = rng.lognormal(mu, cl.demand.sigma, (b, k))
        self._client_nss = cl.spatial_streams
        self._pl_ct = np.empty((b, k, n + m), dtype=np.float32)  # [B, K, W]
        self._pl_ci = np.empty((b, k, len(its)), dtype=np.float32)  # [B, K, I]
        self._links_stale = True
        self._moved = np.zeros((b, k), dtype=bool)
        self._moved_rows: np.ndarray | bool | None = None  # flat indices of _moved, if known; None: none
        self._sources = [(self._pl_ct, self._tx_xy), (self._pl_ci, self._if_xy)]
        self._loss_rasters = [
            LossRaster.cached(xy, self._walls, sc.area.width_m, sc.area.height_m, self._model)
            for _, xy in self._sources
        ]
        self._rasters = [
            WallRaster.cached(xy, self._walls, sc.area.width_m, sc.area.height_m) if lr is None else None
            for (_, xy), lr in zip(self._sources, self._loss_rasters, strict=True)
        ]
        self._relink(np.ones((b, k), dtype=bool))
        self._assoc = np.full((b, k), -1, dtype=np.intp)
        self._demand = np.zeros((b, k))
        self._next_epoch_s = 0.0
        # interferer and radar activity is drawn a block of epochs at a time
        self._block_s = self.epoch_s * max(1, 3600 // self.epoch_s)
        self._block_t0 = -np.inf
        self._block_if_code = np.zeros((b, 0), dtype=np.int64)  # [B, block ticks]
        self._if_sensed_of: _RadioState | None = None  # the radio state _if_sensed belongs to
        # per steady state, or set of states
        self._if_sensed: dict[int | tuple[int, bytes], tuple[np.ndarray, ...]] = {}
        self._if_views: dict[tuple[int, int], tuple] = {}  # per (state, ticks): its per-tick views
        self._on_of: dict[int, np.ndarray] = {}  # interferer state (bits) -> [1, I] on/off
        self._block_radar = np.zeros((b, 0, len(rd)), dtype=bool)  # [B, block ticks, R]
        self._rows = np.arange(b)[:, None]
        self._nb_load_b = np.broadcast_to(self._nb_load, (b, m))
        self._steer_db = np.where(self.ap_band_ghz == 5.0, cl.band_steering_db, 0.0)
        self._radio_cache: _RadioState | None = None
        self._client_links_of: np.ndarray | None = None  # the association _client_links belongs to
        self._client_links: tuple[np.ndarray, ...] = ()
        self._link_clean: tuple[np.ndarray, ...] | None = None  # _clean_terms of the links (see _segment)
        self._link_counts: np.ndarray | None = None  # linked clients per flat (network, AP) of the links
        self._if_links_of: np.ndarray | None = None  # the association _if_links belongs to
        self._if_links: tuple[np.ndarray, ...] = ()
        self._pick_base: dict[int, np.ndarray] = {}  # per last-axis length: flat offset of each [b, k] row
        self._hidden_holes: _HiddenLists | None = None  # the hidden-node lists, when patched in place
        self._hidden_index: tuple[np.ndarray, np.ndarray] | None = None  # flat, coll of the lists built last
        # the collision lists' SINR (or its buffer), and the MCS and frame loss of their entries
        self._collision_kept: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ configuration
    @property
    def channel(self) -> np.ndarray:
        """Primary channel of each managed AP, ``[B, N]`` (read-only)."""
        return self._readonly(SLOT_CHANNEL[self._slot[:, : self.num_aps]])

    @property
    def width_mhz(self) -> np.ndarray:
        """Channel width of each managed AP, ``[B, N]`` (read-only)."""
        return self._readonly(SLOT_WIDTH_MHZ[self._slot[:, : self.num_aps]])

    @property
    def power_dbm(self) -> np.ndarray:
        """Transmit power (EIRP) of each managed AP, ``[B, N]`` (read-only)."""
        return self._readonly(self._power[:, : self.num_aps])

    @property
    def slot(self) -> np.ndarray:
        """Slot id (see :mod:`rrm_gym.radio.regulatory`) of each managed AP, ``[B, N]``."""
        return self._readonly(self._slot[:, : self.num_aps])

    def ap_config(self, ap: int, network: int = 0) -> dict[str, float | int]:
        """One AP's ``channel``, ``width_mhz`` and ``power_dbm`` as Python numbers."""
        s = self._slot.item(network, ap)
        return {
            "channel": _SLOT_CHANNEL_INT[s],
            "width_mhz": _SLOT_WIDTH_INT[s],
            "power_dbm": self._power.item(network, ap),
        }

    def ap_power_dbm(self, ap: int, network: int = 0) -> float:
        """One AP's transmit power (``sim.power_dbm[network, ap]`` without building the view)."""
        return self._power.item(network, ap)

    def ap_slot(self, ap: int, network: int = 0) -> int:
        """One AP's slot id (``sim.slot[network, ap]`` without building the view)."""
        return self._slot.item(network, ap)

    @staticmethod
    def _readonly(a: np.ndarray) -> np.ndarray:
        v = a.view()
        v.setflags(write=False)
        return v

    def _check_ap(self, ap: int, network: int) -> None:
        if not 0 <= ap < self.num_aps:
            raise ValueError(f"AP index {ap} out of range [0, {self.num_aps})")
        if not 0 <= network < self.num_networks:
            raise ValueError(f"network index {network} out of range [0, {self.num_networks})")

    def set_channel(
        self, ap: int, channel: int, width_mhz: int | None = None, *, network: int = 0, csa: bool = False
    ) -> None:
        """Retune AP ``ap`` of network ``network``; its clients lose service for a short
        re-association outage unless the move is announced with a channel switch announcement."""
        self._check_ap(ap, network)
        width = int(width_mhz if width_mhz is not None else SLOT_WIDTH_MHZ[self._slot[network, ap]])
        s = slot_index(channel, width)
        if not self.domain.allows(channel, width):
            raise ValueError(f"channel {channel} at {width} MHz is not allowed in {self.domain.name}")
        if SLOT_BAND_GHZ[s] != self.ap_band_ghz[ap]:
            raise ValueError(f"AP {ap} is a {self.ap_band_ghz[ap]:g} GHz radio; channel {channel} is not")
        if width > self.ap_max_width_mhz[ap]:
            raise ValueError(f"AP {ap} supports at most {self.ap_max_width_mhz[ap]} MHz, not {width}")
        if s != self._slot[network, ap] and not csa:
            self._outage_until_s[network, ap] = self.time_s + REASSOCIATION_OUTAGE_S
            self._last_outage_until_s = self.time_s + REASSOCIATION_OUTAGE_S
        self._slot[network, ap] = s
        self._radio_cache = None

    def set_power(self, ap: int, power_dbm: float, *, network: int = 0) -> None:
        """Set AP ``ap``'s transmit power; must lie within its hardware range."""
        if not (0 <= ap < self.num_aps and 0 <= network < self.num_networks):
            self._check_ap(ap, network)
        lo, hi = self._power_range[ap]  # (Python numbers: the event loop sets powers one at a time)
        if not lo <= power_dbm <= hi:
            raise ValueError(f"power {power_dbm} dBm for AP {ap} is outside its range [{lo}, {hi}] dBm")
        self._power[network, ap] = power_dbm
        self._radio_cache = None

    def set_power_many(self, aps: np.ndarray, powers_dbm: np.ndarray, *, networks: np.ndarray | int = 0) -> None:
        """:meth:`set_power` for many APs at once (``aps``, ``powers_dbm`` and ``networks`` broadcast)."""
        aps, powers, networks = np.asarray(aps), np.asarray(powers_dbm, float), np.asarray(networks)
        if not aps.shape == powers.shape == networks.shape:
            aps, powers, networks = np.broadcast_arrays(aps, powers, networks)
        if ((aps < 0) | (aps >= self.num_aps)).any() or ((networks < 0) | (networks >= self.num_networks)).any():
            raise ValueError(
                f"AP or network index out of range (APs [0, {self.num_aps}), networks [0, {self.num_networks}))"
            )
        lo, hi = self.ap_min_power_dbm[aps], self.ap_max_power_dbm[aps]
        bad = ~((lo <= powers) & (powers <= hi))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"power {powers[i]} dBm for AP {aps[i]} is outside its range [{lo[i]}, {hi[i]}] dBm")
        self._power[networks, aps] = powers
        self._radio_cache = None

    def set_tx_enabled(self, ap: int, enabled: bool, *, network: int = 0) -> None:
        """Switch AP ``ap``'s radio on or off. An AP that is off (silent during a channel
        availability check) still listens, so it detects radar, but serves no client."""
        self._check_ap(ap, network)
        if bool(enabled) != bool(self._tx_on[network, ap]):
            self._tx_on[network, ap] = bool(enabled)
            self._radio_cache = None

    @property
    def tx_enabled(self) -> np.ndarray:
        """Whether each managed AP's radio is on, ``[B, N]`` (read-only)."""
        return self._readonly(self._tx_on[:, : self.num_aps])

    def set_powers(self, power_dbm: np.ndarray) -> None:
        """Set every managed AP's power at once, ``[B, N]`` dBm within each AP's range."""
        p = np.asarray(power_dbm, dtype=float)
        if p.shape != (self.num_networks, self.num_aps):
            raise ValueError(f"power array must have shape {(self.num_networks, self.num_aps)}, got {p.shape}")
        if np.any(p < self.ap_min_power_dbm) or np.any(p > self.ap_max_power_dbm):
            raise ValueError("power outside an AP's [min_power_dbm, max_power_dbm] range")
        self._power[:, : self.num_aps] = p
        self._radio_cache = None

    # ------------------------------------------------------------------ time
    def hour_of_day(self, t_s: float | None = None) -> float:
        t = self.time_s if t_s is None else t_s
        return (self.scenario.start_hour + t / 3600.0) % 24.0

    def run(self, duration_s: float) -> Sensing:
        """Advance ``duration_s`` seconds (a whole number of 1 s ticks) and return what was sensed."""
        ticks = int(round(duration_s))
        if ticks < 1 or abs(ticks - duration_s) > 1e-9:
            raise ValueError(f"duration_s must be a positive whole number of seconds, got {duration_s}")
        end = self.time_s + ticks
        if self.time_s >= self._next_epoch_s:
            self._advance_epoch()
        if end <= self._next_epoch_s:  # one segment, returned as it is
            sensing = self._segment(ticks)
            self.time_s = end
            return sensing
        join = _SpanJoin(ticks)
        while self.time_s < end:
            if self.time_s >= self._next_epoch_s:
                self._advance_epoch()
            seg_end = min(end, self._next_epoch_s)
            join.add(self._segment(int(seg_end - self.time_s)))
            self.time_s = seg_end
        return join.result()

    def rewind(self, to_s: float) -> None:
        """Set the clock back to ``to_s`` within the current epoch, so that a caller that looked
        ahead (say, found a radar detection mid-span) can re-run a shorter span and act at the
        detection. Within an epoch nothing random is drawn, so the re-run is identical."""
        epoch_start = self._next_epoch_s - self.epoch_s
        if not epoch_start <= to_s <= self.time_s or to_s != int(to_s):
            raise ValueError(
                f"can rewind only to a whole second in [{epoch_start:g}, {self.time_s:g}] (the current epoch), "
                f"not to {to_s}"
            )
        self.time_s = float(to_s)

    @property
    def next_epoch_s(self) -> float:
        """Time of the next epoch boundary (client moves, new offered load)."""
        return self._next_epoch_s

    def _advance_epoch(self) -> None:
        """New epoch: nomadic clients relocate, offered load follows the diurnal profile,
        and at block starts interferer and radar activity is drawn (so chunking of ``run``
        calls never changes the random stream)."""
        rng = self._rng
        b, k = self.num_networks, self.num_clients
        t0, e = self.time_s, self.epoch_s
        if t0 > 0:
            move = self._mobile & (rng.random((b, k)) < e / self.scenario.clients.mobility.mean_dwell_s)
            row = np.flatnonzero(move)  # flat (network, client) of each client that moves, in order
            if len(row):
                xy = place_clients(self.scenario, rng, (len(row),))
                _put_rows(self.client_xy, row, xy)
                self._relink(move, row, xy)
        hour = self.hour_of_day(t0)
        p_active = self._activity(hour)
        # (a product with the 0/1 draw: the base demand is finite and positive, so the values of
        # np.where, several times cheaper on a random mask)
        self._demand = np.multiply(self._base_demand, rng.random((b, k)) < p_active)
        if t0 >= self._block_t0 + self._block_s:
            self._block_t0 = t0
            on = self._if_onoff.sample(t0, self._block_s, rng)
            self._block_if_code = on @ (1 << np.arange(self.num_interferers))
            self._block_radar = self._radar_bursts(t0, self._block_s, rng)
        self._next_epoch_s = t0 + e

    def _activity(self, hour: float) -> float:
        """The diurnal profile at ``hour`` in [0, 24), interpolated linearly between whole hours:
        ``np.interp`` over hours 0..24 (hour 24 wrapping to 0), computed the same way for one scalar."""
        p = self._profile_wrap
        j = int(hour)
        if hour == j:
            return p[j]
        return (p[j + 1] - p[j]) * (hour - j) + p[j]

    def _radar_bursts(self, t0: float, ticks: int, rng: np.random.Generator) -> np.ndarray:
        b, r = self.num_networks, len(self._radar_at)
        if self._radar_rate_per_s.any():
            burst = _uniform_below(rng, (b, ticks, r), self._radar_rate_per_s)
        else:
            burst = np.zeros((b, ticks, r), dtype=bool)
        t = int(t0) + np.arange(ticks)
        for j, at in enumerate(self._radar_at):
            if len(at):
                burst[:, np.isin(t, at), j] = True
        return burst

    def _relink(self, mask: np.ndarray, row: np.ndarray | None = None, xy: np.ndarray | None = None) -> None:
        """Recompute path loss and shadowing of the links of clients where ``mask`` ``[B, K]``
        (their flat (network, client) indices ``row`` and positions ``xy`` ``[P, 2]``, if known)."""
        if row is None:
            row = np.flatnonzero(mask)
            xy = self.client_xy.reshape(-1, 2).take(row, axis=0)
        if len(row) == 0:
            return
        # the rows _links redoes: these, unless others moved too since it last ran (then all of _moved)
        self._moved_rows = row if self._moved_rows is None else False
        self._moved |= mask
        cells = None
        for (target, src_xy), loss, raster in zip(self._sources, self._loss_rasters, self._rasters, strict=True):
            if src_xy.shape[0] == 0:
                continue
            if loss is not None:
                if cells is None:
                    cells = loss.cells(xy)
                geo = loss.lookup(xy, cells)
            else:
                dx, dy = xy[:, None, 0] - src_xy[None, :, 0], xy[:, None, 1] - src_xy[None, :, 1]
                d = np.sqrt(dx * dx + dy * dy)  # what np.linalg.norm(..., axis=-1) computes, without its [P, W, 2]
                if raster is not None:
                    walls = raster.lookup(xy)
                else:
                    walls = walls_crossed(xy[:, None], src_xy[None], self._walls)
                geo = geometric_loss_db(d, walls, self._model)
            _put_rows(target, row, geo + self._rng.normal(0.0, self._sigma, geo.shape))

    @staticmethod
    def _interferer_spec(it) -> tuple[float, float, float, float]:  # noqa: ANN001
        c, bw, p, duty = INTERFERER_DEFAULTS[it.kind]
        if it.channel is not None:
            c = SLOTS[slot_index(it.channel)].center_mhz
        elif it.center_mhz is not None:
            c = it.center_mhz
        return (
            c,
            it.bandwidth_mhz if it.bandwidth_mhz is not None else bw,
            it.power_dbm if it.power_dbm is not None else p,
            it.duty_cycle if it.duty_cycle is not None else duty,
        )

    # ------------------------------------------------------------------ physics of one segment
    def _radio(self) -> _RadioState:
        """Everything that depends on the AP configuration alone (cached until a setter runs)."""
        if self._radio_cache is not None:
            return self._radio_cache
        n, w = self.num_aps, self._slot.shape[1]
        slot, tx = self._slot, self._power
        # a silent radio neither contends, interferes nor serves clients
        tx_eff = np.where(self._tx_on, tx - _SLOT_FREQ_LOSS_DB[slot], _NEG).astype(np.float32)  # [B, W]
        # rx[b, i, j]: transmitter j's power at transmitter i, in i's band
        ov_db = _OVERLAP_DB[slot[:, None, :], slot[:, :, None]]  # [B, W(i), W(j)]
        rx_full = tx_eff[:, None, :] - self._pl_tt
        rx_tt = rx_full + ov_db
        # i defers to j when it decodes j's preamble in its primary 20 MHz (the legacy preamble is
        # repeated in every 20 MHz of j's band), when j sits in i's secondary channels above the
        # secondary CCA level, or when j's energy in i's band exceeds energy detect.
        si, sj = slot[:, :, None], slot[:, None, :]
        per20_db = rx_full - _SLOT_PER20_DB[sj]
        hears = (_PRIMARY_DECODES[si, sj] & (per20_db >= CCA_PREAMBLE_DETECT_DBM)) | (rx_tt >= CCA_ENERGY_DETECT_DBM)
        hears |= _INSIDE[si, sj] & (rx_full >= CCA_SECONDARY_DBM)
        hears[:, np.arange(w), np.arange(w)] = False
        # neighbour reports: beacons heard on the receiving radio's band
        same_band = self.ap_band_ghz[:, None] == self.ap_band_ghz[None, :]
        nbr = np.where(same_band & (rx_full[:, :n, :n] >= NEIGHBOR_REPORT_DBM), rx_full[:, :n, :n], np.nan)
        nbr[:, np.arange(n), np.arange(n)] = np.nan
        fb = rx_full[:, :n, n:]
        fband = self.ap_band_ghz[:, None] == SLOT_BAND_GHZ[slot[:, n:]][:, None, :]
        ap_slot = slot[:, :n]
        radar_on = OVERLAP[ap_slot[:, None, :], self._radar_slot[None, :, None]] > 0  # [B, R, N]
        if_rx_ap = (self._if_power[:, None] - self._pl_if_ap) - _SLOT_FREQ_LOSS_DB[ap_slot][:, None, :]
        if_rx_ap = if_rx_ap + self._if_band_db[:, ap_slot].transpose(1, 0, 2)  # [B, I, N]
        duty_ap = self._if_band_duty[:, ap_slot].transpose(1, 0, 2)
        seen = if_rx_ap >= NONWIFI_DETECT_DBM
        # Hidden-node candidates of each managed AP: overlapping transmitters it does not hear.
        cand = ~hears[:, :n] & (ov_db[:, :n] > _NEG / 2)
        cand[:, np.arange(n), np.arange(n)] = False
        # each AP's candidates in increasing order, padded with -1 (what a stable argsort of ~cand
        # gives, from the nonzero entries, which come sorted)
        counts = cand.sum(axis=2).ravel()  # [B * N]
        width = max(1, int(counts.max(initial=0)))
        bn, j = _nonzero_2d(cand.reshape(-1, cand.shape[2]))
        rank = np.arange(len(j)) - np.repeat(np.cumsum(counts) - counts, counts)
        hidden_cand = np.full((cand.shape[0] * n, width), -1, dtype=np.intp)
        hidden_cand[bn, rank] = j
        hidden_cand = hidden_cand.reshape(cand.shape[0], n, width)
        b = slot.shape[0]
        ap_noise_mw = _SLOT_NOISE_MW[ap_slot]
        if_ed = np.where(if_rx_ap >= CCA_ENERGY_DETECT_DBM, duty_ap, 0.0)
        if_conf = np.where(seen, np.clip((if_rx_ap - NONWIFI_DETECT_DBM) / 20.0, 0.0, 1.0), 0.0)
        if_duty_seen = np.where(seen, duty_ap, 0.0)
        sensed_any = ((if_ed > 0) | (if_conf > 0) | (if_duty_seen > 0)).any(axis=(0, 2))  # [I]
        nss = np.minimum(self._client_nss, self._ap_nss)  # spatial streams of the AP's clients
        self._links_stale = True
        self._radio_cache = _RadioState(
            tx_eff=tx_eff,
            ov_db=ov_db,
            hears=hears,
            hears_t=hears.transpose(0, 2, 1).astype(float),
            neighbor_rssi_dbm=nbr,
            foreign_rssi_dbm=np.where(fband & (fb >= NEIGHBOR_REPORT_DBM), fb, np.nan),
            radar_on=radar_on & self._radar_cover,
            if_ed=if_ed,
            if_conf=if_conf,
            if_duty_seen=if_duty_seen,
            hidden_cand=hidden_cand,
            any_hidden_cand=bool((hidden_cand >= 0).any()),
            ap_noise_mw=ap_noise_mw.ravel(),
            ap_freq_loss_db=_SLOT_FREQ_LOSS_DB[ap_slot].ravel(),
            ap_noise_db=(10.0 * np.log10(ap_noise_mw)).ravel(),
            ap_rate_factor=(_SLOT_RATE_FACTOR[ap_slot] * nss * MAC_EFFICIENCY).ravel(),
            ap_if_db=np.ascontiguousarray(self._if_band_db[:, ap_slot].transpose(1, 2, 0)).reshape(b * n, -1),
            ap_if_duty=np.ascontiguousarray(self._if_band_duty[:, ap_slot].transpose(1, 2, 0)).reshape(b * n, -1),
            if_sensed_bits=int(sensed_any @ (1 << np.arange(len(sensed_any)))),
        )
        return self._radio_cache

    def _links(self, r: _RadioState) -> bool | tuple[np.ndarray, np.ndarray] | None:
        """Refresh client-side received powers and association scores where stale: everything
        after a configuration change, only the relocated clients' rows after an epoch. Returns
        ``True`` (every row changed), the changed rows ``(networks, flat (network, client))``, or
        ``None``."""
        n = self.num_aps
        if self._links_stale:
            self._rx_ct = r.tx_eff[:, None, :] - self._pl_ct  # [B, K, W] full-band power at each client
            rx_ap = self._rx_ct[:, :, :n]
            self._score = np.where(rx_ap >= CLIENT_SENSITIVITY_DBM, rx_ap + self._steer_db, -np.inf)
            self._best = self._score.argmax(axis=2)
            self._best_score = self._pick(self._score, self._best)
        elif self._moved_rows is not None:
            moved = self._moved_rows
            row = np.flatnonzero(self._moved) if moved is False else moved  # flat (network, client)
            bi = row // self._moved.shape[1]  # the network of each
            w = self._pl_ct.shape[2]
            rx = r.tx_eff.take(bi, axis=0) - self._pl_ct.reshape(-1, w).take(row, axis=0)  # [P, W]
            _put_rows(self._rx_ct, row, rx)
            rx_ap = rx[:, :n]
            score = np.where(rx_ap >= CLIENT_SENSITIVITY_DBM, rx_ap + self._steer_db, -np.inf)
            _put_rows(self._score, row, score)
            best = score.argmax(axis=1)
            self._best.reshape(-1)[row] = best
            self._best_score.reshape(-1)[row] = score.reshape(-1).take(np.arange(0, score.size, n) + best)
            return bi, row
        else:
            return None
        return True

    def _hidden(
        self, r: _RadioState, assoc: np.ndarray, changed: bool | tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, ...]:
        """Hidden nodes as flat lists: per hidden source of a client, the flat (network, client) and
        (network, source) indices and its power in mW, and the same indices with the SINR while it
        transmits for those that can cause collisions; then, where they are few, the clients with
        hidden sources and those with possible collisions, once each (else ``None``; see
        :data:`_FEW_HIDDEN`). Hidden sources are transmitters sharing a
        client's band that its AP cannot hear, loud enough at the client to matter. Cached per
        client; rows are redone when the configuration changed (``changed`` is ``True``) or for
        the clients whose scores changed (``changed``: their rows), the only ones that can roam."""
        if changed is None or (changed is not True and not r.any_hidden_cand):
            # (no AP has a hidden candidate: redone rows stay as empty as every row has been
            # since the configuration last changed)
            return self._hidden_list
        k, n, c = assoc.shape[1], self.num_aps, r.hidden_cand.shape[2]
        rx = self._rx_ct.reshape(-1)
        rx_rows = self._pick_offsets(self._rx_ct)  # [B, K] flat offset of each client's row of rx
        if changed is True:
            # every row: on [B, K, C] blocks with flat gathers (far cheaper than indexing with
            # three arrays); the same values as the per-row branch
            a = np.maximum(assoc, 0)
            cell = self._rows * n + a  # [B, K] flat (network, serving AP)
            # each AP's overlap with its candidates, [B, N, C], then per client
            w = r.ov_db.shape[2]
            ov_rows = (self._rows * w + np.arange(n))[..., None] * w  # [B, N, 1] flat offset of row (b, i)
            ov_cand = r.ov_db.reshape(-1).take(ov_rows + np.maximum(r.hidden_cand, 0))
            cand = r.hidden_cand.reshape(-1, c).take(cell, axis=0)  # [B, K, C]
            c_db = rx.take(rx_rows[..., None] + np.maximum(cand, 0)) + ov_cand.reshape(-1, c).take(cell, axis=0)
            ok = (cand >= 0) & (c_db >= HIDDEN_NODE_FLOOR_DBM) & (assoc >= 0)[..., None]
            # per client and candidate: the flat (network, source) of a hidden source, else -1
            self._h_src = np.where(ok, self._rows[..., None] * self._slot.shape[1] + cand, -1)
            self._h_db = c_db.astype(np.float32)
            self._h_mw = np.zeros(cand.shape, dtype=np.float32)
            self._h_sinr = np.zeros(cand.shape)
            flat_p = np.flatnonzero(ok)  # flat (network, client, candidate) of each hidden source
            client = flat_p // c
            pb, pa = client // k, a.reshape(-1).take(client)
            signal = rx.take(rx_rows.reshape(-1).take(client) + pa)  # the client's own AP
        else:
            bi, row = changed
            cur = assoc.reshape(-1).take(row)
            a = np.maximum(cur, 0)
            cand = r.hidden_cand.reshape(-1, c).take(bi * n + a, axis=0)  # [P, C]
            c_j = np.maximum(cand, 0)
            w = r.ov_db.shape[2]
            c_db = rx.take((row * w)[:, None] + c_j) + r.ov_db.reshape(-1).take(((bi * w + a) * w)[:, None] + c_j)
            ok = (cand >= 0) & (c_db >= HIDDEN_NODE_FLOOR_DBM) & (cur >= 0)[:, None]
            _put_rows(self._h_src, row, np.where(ok, bi[:, None] * w + cand, -1))
            _put_rows(self._h_db, row, c_db)
            hit, col = _nonzero_2d(ok)
            pb, pa = bi.take(hit), a.take(hit)
            p_row = row.take(hit)
            signal = rx.take(p_row * w + pa)
            flat_p = p_row * c + col
        # per hidden source of a redone row: its power at the client, and the SINR while it transmits
        mw = np.power(10.0, self._h_db.reshape(-1).take(flat_p) / 10.0)
        self._h_mw.put(flat_p, mw)
        noise = _SLOT_NOISE_MW[self._slot.reshape(-1).take(pb * self._slot.shape[1] + pa)]
        self._h_sinr.put(flat_p, signal - 10.0 * np.log10(noise + mw))
        few = assoc.size * _FEW_HIDDEN
        if changed is not True and assoc.size >= _ROWS_MIN_CLIENTS and self._hidden_index is not None:
            # many clients and only some rows redone: patch the lists (see _HiddenLists)
            if self._hidden_holes is None:
                flat0, coll0 = self._hidden_index
                self._hidden_holes = _HiddenLists(
                    self._hidden_list, flat0, coll0, self._h_src.size, self._rows.size * self._slot.shape[1]
                )
            slots = (row[:, None] * c + np.arange(c)).reshape(-1)
            patched = self._hidden_holes.patch(
                slots,
                flat_p,
                c,
                self._h_src.reshape(-1).take(flat_p),
                self._h_mw.reshape(-1).take(flat_p),
                self._h_sinr.reshape(-1).take(flat_p),
                few,
            )
            if patched is not None:
                self._hidden_list = patched
                return patched
        flat = flat_p if changed is True else np.flatnonzero(self._h_src >= 0)  # every hidden source
        h_client = flat // c  # flat (network, client)
        h_src = self._h_src.reshape(-1).take(flat)
        h_mw = self._h_mw.reshape(-1).take(flat)
        sinr_db = self._h_sinr.reshape(-1).take(flat)
        coll = np.flatnonzero(sinr_db < _COLLISION_SINR_DB)
        c_client = h_client.take(coll)
        # the clients with hidden sources, and with possible collisions, once each (both lists are
        # ordered by client), where they are few (see _segment); else None
        self._hidden_holes = None
        self._hidden_index = None if min(len(h_client), len(c_client)) < few else (flat, coll)
        self._hidden_list = (
            h_client,
            h_src,
            h_mw,
            c_client,
            h_src.take(coll),
            sinr_db.take(coll),
            _distinct(h_client) if len(h_client) < few else None,
            _distinct(c_client) if len(c_client) < few else None,
        )
        return self._hidden_list

    def _pick_offsets(self, x: np.ndarray) -> np.ndarray:
        """Flat offset ``[B, K]`` of each row ``x[b, k]`` of a contiguous ``[B, K, J]`` array."""
        j = x.shape[2]
        base = self._pick_base.get(j)
        if base is None:
            base = self._pick_base[j] = np.arange(x.shape[0] * x.shape[1]).reshape(x.shape[:2]) * j
        return base

    def _pick(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``x[b, k, idx[b, k]]`` for ``x`` ``[B, K, J]`` (flat take: much cheaper than fancy indexing)."""
        return x.reshape(-1).take(self._pick_offsets(x) + idx)

    def _associate(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Strongest managed AP (5 GHz preferred by band steering), with roaming hysteresis. ``[B, K]``,
        or for the clients of flat (network, client) indices ``rows`` alone."""
        if rows is None:
            cur, best, best_score = self._assoc, self._best, self._best_score
            cur_score = self._pick(self._score, np.maximum(cur, 0))
        else:
            cur = self._assoc.reshape(-1).take(rows)
            best, best_score = self._best.reshape(-1).take(rows), self._best_score.reshape(-1).take(rows)
            cur_score = self._score.reshape(-1).take(rows * self.num_aps + np.maximum(cur, 0))
        keep = (cur >= 0) & np.isfinite(cur_score)
        keep &= best_score < cur_score + self.scenario.clients.roam_hysteresis_db
        return np.where(keep, cur, np.where(np.isfinite(best_score), best, -1))

    def _clients_per_ap(self, cell: np.ndarray, linked: np.ndarray) -> np.ndarray:
        """Linked clients per flat (network, AP) of the current links ``cell``, ``linked``: counted
        the first time after they were made, then kept with them (redone rows move their clients)."""
        if self._link_counts is None:
            self._link_counts = np.bincount(cell[linked], minlength=self.num_networks * self.num_aps)
        return self._link_counts

    def _relink_rows(self, r: _RadioState, assoc: np.ndarray, changed: tuple[np.ndarray, np.ndarray]) -> None:
        """Redo the client links of :meth:`_segment` (its ``_client_links``) for the rows
        ``changed`` ``(networks, flat (network, client))`` alone, in place, with the same
        values as from scratch: the others' scores, association and configuration are as they were."""
        bi, row = changed
        cur = assoc.reshape(-1).take(row)
        a_r = np.maximum(cur, 0)
        sig_r = self._rx_ct.reshape(-1).take(row * self._rx_ct.shape[2] + a_r)
        redone = _link_terms(r, cur, a_r, bi * self.num_aps + a_r, sig_r)
        counts = self._link_counts
        if counts is not None:  # the old links' clients out, the new ones' in (whole numbers: exact)
            linked, cell = self._client_links[0].reshape(-1).take(row), self._client_links[3].reshape(-1).take(row)
            counts -= np.bincount(cell[linked], minlength=len(counts))
            counts += np.bincount(redone[3][redone[0]], minlength=len(counts))
        for x, v in zip(self._client_links, redone, strict=True):
            x.reshape(-1)[row] = v
        if self._link_clean is not None:
            for x, v in zip(self._link_clean, _clean_terms(redone[0], redone[5], redone[6], redone[7]), strict=True):
                x.reshape(-1)[row] = v

    def _interferer_links(
        self, r: _RadioState, cell: np.ndarray, rows: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Where an interferer reaches the band of a client's AP ``cell``: the flat (network,
        client, interferer) of each such hit, the interferer's power at the client (mW) and its duty
        there, and the bits of the interferers that reach some client. For every client, or after an
        epoch for the clients ``rows`` ``(networks, flat (network, client))`` alone: their
        rows of the ``[B, K, I]`` power and duty are redone in place (the power array is made from the
        lists of the last pass over every client the first time), with the values a pass over every
        client gives."""

        def reach(pl: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Power (dBm) and duty of each interferer at clients with losses ``pl`` [..., I]."""
            rx = (self._if_power - pl) - r.ap_freq_loss_db.take(cells)[..., None]
            return rx + r.ap_if_db.take(cells, axis=0), r.ap_if_duty.take(cells, axis=0)

        if rows is None:
            rx, duty = reach(self._pl_ci, cell)
            self._if_cl_duty = duty
        else:
            duty = self._if_cl_duty
            if self._if_cl_mw is None:
                self._if_cl_mw = np.zeros(duty.shape)
                self._if_cl_mw.put(self._if_links[0], self._if_links[1])
            row = rows[1]
            rx, duty_r = reach(self._pl_ci.reshape(-1, duty.shape[2]).take(row, axis=0), cell.reshape(-1).take(row))
            _put_rows(duty, row, duty_r)
            _put_rows(self._if_cl_mw, row, np.where(duty_r > 0, np.power(10.0, rx / 10.0), 0.0))
        reached = duty != 0  # (a duty is >= 0: reached where it is > 0)
        hits = np.flatnonzero(reached)
        if rows is None:
            mw = np.power(10.0, rx.reshape(-1).take(hits) / 10.0)
            self._if_cl_mw = None
        else:
            mw = self._if_cl_mw.reshape(-1).take(hits)
        # the interferers that reach some client: a column scan stops at its first hit
        by_if = reached.reshape(-1, duty.shape[2])
        bits = sum(1 << i for i in range(duty.shape[2]) if by_if[:, i].any())
        return hits, mw, duty.reshape(-1).take(hits), bits

    def _segment(self, ticks: int) -> Sensing:
        b, n, k = self.num_networks, self.num_aps, self.num_clients
        rows = self._rows
        r = self._radio()
        slot = self._slot

        # association is a function of the scores and the last association that returns its input
        # when applied again, so it can change only where a score did
        changed = self._links(r)
        if changed is None:
            assoc = self._assoc
        elif changed is True:
            assoc = self._associate()
        else:
            assoc = self._assoc.copy()
            assoc.reshape(-1)[changed[1]] = self._associate(changed[1])
        rx_ct = self._rx_ct
        prev_assoc, self._assoc = self._assoc, assoc
        by_rows = type(changed) is tuple and assoc.size >= _ROWS_MIN_CLIENTS
        if assoc is not self._client_links_of and by_rows and self._client_links_of is prev_assoc:
            # the links of the previous association, with the rows whose scores changed redone
            self._relink_rows(r, assoc, changed)
            self._client_links_of = assoc
        elif assoc is not self._client_links_of:
            # each client's link to its AP: unchanged while the association (and so the scores
            # and the configuration) is
            a = np.maximum(assoc, 0)
            # (network, serving AP) of each client, flat; unlinked clients weigh 0
            self._client_links = _link_terms(r, assoc, a, rows * n + a, self._pick(rx_ct, a))
            self._client_links_of = assoc
            self._link_clean = self._link_counts = None
        linked, a, signal, cell, noise_mw, rate_factor, snr_db, mcs0, rate0 = self._client_links
        decodes0 = mcs0 >= 0

        def per_ap(x: np.ndarray) -> np.ndarray:
            """Sum of client values ``x`` [B, K] or [B, S, K] over each AP's clients -> [B, N] / [B, S, N].
            ``x`` is zero for unassociated clients (each is derived from the masked demand)."""
            if x.ndim == 2:
                return np.bincount(cell.ravel(), x.ravel(), b * n).reshape(b, n)
            return np.bincount(cell_s.ravel(), x.ravel(), b * x.shape[1] * n).reshape(b, x.shape[1], n)

        h_client, h_src, h_mw, c_client, c_src, c_sinr_db, h_clients, c_clients = self._hidden(r, assoc, changed)
        self._links_stale = False
        self._moved[:] = False
        self._moved_rows = None

        # Pre-pass: airtime of every transmitter at interference-free rates, to weigh hidden nodes.
        demand = np.where(linked, self._demand, 0.0)
        need0 = np.where(decodes0, demand / rate0, 0.0)
        load0 = np.concatenate([per_ap(need0), self._nb_load_b], axis=1)  # [B, W]
        act = self._airtime(load0[:, None], r.hears_t, 1.0)[:, 0]  # [B, W]

        # Hidden nodes lower the SINR that rate adaptation sees and collide with frames.
        act_flat = act.reshape(-1)
        if self._hidden_holes is not None:
            act_flat = np.append(act_flat, 0.0)  # the silent source of the lists' old entries
        h_act = act_flat.take(h_src)
        if len(h_client):
            noise_plus = noise_mw + np.bincount(h_client, h_mw * h_act, b * k).reshape(b, k)
        else:
            noise_plus = noise_mw  # (what adding a sum of nothing gives)
        # a client without hidden sources has noise_plus == noise_mw, so its SINR and MCS are the
        # SNR and MCS of its link: where most clients are such (fewer hidden sources than half the
        # clients), only the others are computed
        if h_clients is None:
            sinr_db = signal - 10.0 * np.log10(noise_plus)
            mcs = mcs_index(sinr_db)
        elif len(h_clients):
            sinr_h = signal.reshape(-1).take(h_clients) - 10.0 * np.log10(noise_plus.reshape(-1).take(h_clients))
            sinr_db, mcs = snr_db.copy(), mcs0.copy()
            sinr_db.reshape(-1)[h_clients] = sinr_h
            mcs.reshape(-1)[h_clients] = mcs_index(sinr_h)
        else:
            sinr_db, mcs = snr_db, mcs0
        if h_clients is not None and not len(h_clients):
            # no client has a hidden source: what follows from the links alone, kept with them
            # (made the first time it is needed, and redone row by row with them)
            if self._link_clean is None:
                self._link_clean = _clean_terms(linked, rate_factor, snr_db, mcs0)
            served, mcs_c, rate, per = self._link_clean
        else:
            served, mcs_c, rate, per = _clean_terms(linked, rate_factor, sinr_db, mcs, frame_loss=False)
        c_mcs = mcs_c.ravel().take(c_client)
        # (the losses kept with the lists pay for their upkeep where there are many clients)
        per_c = self._collision_per(c_sinr_db, c_mcs) if assoc.size >= _ROWS_MIN_CLIENTS else _per(c_sinr_db, c_mcs)
        coll = per_c * act_flat.take(c_src)
        log_ok = np.bincount(c_client, np.log1p(-np.minimum(coll, 0.999999)), b * k).reshape(b, k)
        # CSMA collisions with contenders that picked the same backoff slot
        log_ok_csma = np.log1p(-CSMA_COLLISION_PER_CONTENDER * act[:, None, :]) @ r.hears_t  # [B, 1, W]
        csma_of_client = rows * log_ok_csma.shape[2] + a
        if c_clients is not None:
            # a client without hidden-node collisions has log_ok = 0.0 + its AP's CSMA term: the
            # exponential of that per AP, and of the full sum for the others alone
            ok_exp = np.exp(log_ok_csma.reshape(-1)).take(csma_of_client)
            ok_exp.reshape(-1)[c_clients] = np.exp(
                log_ok.reshape(-1).take(c_clients)
                + log_ok_csma.reshape(-1).take(csma_of_client.reshape(-1).take(c_clients))
            )
        else:
            ok_exp = np.exp(log_ok + log_ok_csma.reshape(-1).take(csma_of_client))
        ok_clean = (1.0 - (_per(sinr_db, mcs_c) if per is None else per)) * ok_exp  # [B, K]

        # Per-tick drivers: non-Wi-Fi interferers and channel-change outages. Ticks that share a
        # driver state (which interferers are on; no outage) are solved once: S states, and
        # inv [B, T] maps each tick to its state.
        t0 = self.time_s
        lo = int(t0 - self._block_t0)
        radar = self._block_radar[:, lo : lo + ticks]  # [B, T, R]
        n_if = self.num_interferers
        n_out = min(ticks, max(0, math.ceil(self._last_outage_until_s - t0))) if self._last_outage_until_s > t0 else 0
        code = self._block_if_code[:, lo : lo + ticks]  # [B, T] which interferers are on, as bits
        if n_if and self._if_links_of is not assoc:
            # where an interferer reaches a client's band: its power at the client (mW) and its
            # duty there; a function of the clients' links alone, so after an epoch only the rows
            # whose scores changed are redone
            redo = changed if by_rows and self._if_links_of is prev_assoc else None
            links = self._interferer_links(r, cell, redo)
            # and for each hit its client and the client's signal (with the links, as these are);
            # with two interferers at most and many clients (the few calls on small arrays of
            # every client's cost less), the clients with a hit once each where they are few
            hit_client = links[0] // n_if
            hit_clients = _distinct(hit_client) if n_if <= 2 and assoc.size >= _ROWS_MIN_CLIENTS else None
            if hit_clients is not None and len(hit_clients) >= assoc.size * _FEW_HIDDEN:
                hit_clients = None
            self._if_links = (*links, hit_client, signal.reshape(-1).take(hit_client), hit_clients)
            self._if_links_of = assoc
        if n_if:
            # an interferer that no AP senses and no client's band holds changes nothing while on:
            # states differ only in the others
            code = code & (r.if_sensed_bits | self._if_links[3])
        steady = n_out == 0 and (n_if == 0 or bool((code == code[0, 0]).all()))
        if steady:
            # one state for every tick: [B, 1, ...] arrays, shown over the ticks as views
            state = int(code[0, 0]) if n_if else 0
            on_s = self._on_of.get(state)
            if on_s is None:
                on_s = self._on_of[state] = ((state >> np.arange(n_if)) & 1).astype(float).reshape(1, n_if)
            inv = None
            cell_s = cell[:, None, :]
        else:
            until = self._outage_until_s[rows, a]  # [B, K]
            ts = np.arange(ticks)
            key = code + (1 << n_if) * np.where(ts < n_out, ts + 1, 0)
            present = np.bincount(key.ravel(), minlength=1)
            uniq = np.flatnonzero(present)
            inv = (np.cumsum(present > 0) - 1)[key]  # [B, T] state of each tick
            on_s = ((uniq[:, None] >> np.arange(n_if)) & 1).astype(float)  # [S, I]
            s_tick = uniq >> n_if  # 0: no outage, else 1 + tick index
            outage = (s_tick[None, :, None] > 0) & ((t0 + s_tick - 1)[None, :, None] < until[:, None, :])
            weight = np.bincount((rows * len(uniq) + inv).ravel(), minlength=b * len(uniq)).reshape(b, -1) / ticks
            s_ = len(uniq)  # flat index of each client's (network, state, serving AP)
            # (cell is network * n + a)
            cell_s = ((rows * s_)[:, None, :] + np.arange(s_)[None, :, None]) * n + a[:, None, :]
        n_s = on_s.shape[0]
        # what the APs see of the interferers depends on the configuration and the states alone:
        # kept per steady state, and per set of states of a segment that has several
        sensed_key = state if steady else (on_s.shape[0], on_s.tobytes())  # (S rows of no interferer: no bytes)
        sensed = self._if_sensed.get(sensed_key) if self._if_sensed_of is r else None
        if sensed is None:
            sensed = self._sense_interferers(r, on_s)
            if self._if_sensed_of is not r or len(self._if_sensed) >= _SENSED_KEPT:
                self._if_sensed_of, self._if_sensed, self._if_views = r, {}, {}
            if _SENSED_KEPT:
                self._if_sensed[sensed_key] = sensed
        ed_busy, avail, nw_conf, nw_duty, nw_kind = sensed
        if n_if:
            hits, if_mw, if_duty, _, client, signal_if, hit_clients = self._if_links
            if len(hits):
                # frames lost to each interferer while it is on, where it reaches the client's band
                # (elsewhere nothing is lost, and a loss of zero adds nothing to the sum below)
                sinr_if = signal_if - 10.0 * np.log10(noise_plus.reshape(-1).take(client) + if_mw)
                fail = _per(sinr_if, mcs_c.reshape(-1).take(client))
                log_ok_if = np.zeros(b * k * n_if)
                log_ok_if.put(hits, np.log1p(-np.minimum(fail * if_duty, 0.999999)))
                if hit_clients is None:
                    ok = ok_clean[:, None, :] * np.exp(on_s @ log_ok_if.reshape(b, k, n_if).transpose(0, 2, 1))
                else:
                    # a client without a hit has a log of 0.0 in every state, so ok_clean (its
                    # product with exp(0.0)); the others' per state, where each sum has two terms
                    # at most (products with 0 or 1, exact) and so is the same in any order
                    e = np.exp(log_ok_if.reshape(-1, n_if).take(hit_clients, axis=0) @ on_s.T)  # [H, S]
                    ok = np.repeat(ok_clean[:, None, :], n_s, axis=1)
                    at = hit_clients + hit_clients // k * ((n_s - 1) * k)  # (network, state 0, client)
                    ok.reshape(-1).put(
                        at[:, None] + np.arange(0, n_s * k, k), ok_clean.reshape(-1).take(hit_clients)[:, None] * e
                    )
            else:
                ok = ok_clean[:, None, :]
        else:
            ok = ok_clean[:, None, :]

        # Per state: airtime needed, airtime won, throughput.
        active = served[:, None, :] if steady else served[:, None, :] & ~outage  # [B, S, K]
        need = np.where(active, demand[:, None, :] / np.maximum(rate[:, None, :] * ok, 1e-9), 0.0)
        load = per_ap(need)  # [B, S, N]
        load_w = np.empty((b, n_s, n + self.num_neighbors))
        load_w[..., :n] = load
        load_w[..., n:] = self._nb_load
        air = self._airtime(load_w, r.hears_t, avail)  # [B, S, W]
        cca = np.minimum(1.0, ed_busy + (air @ r.hears_t)[..., :n])
        air_ap = air[..., :n]
        loaded, load_safe = load > 0, np.maximum(load, 1e-12)
        frac = np.where(loaded, np.minimum(1.0, air_ap / load_safe), 1.0)
        frac_client = frac.reshape(-1).take(cell_s)  # [B, S, K]: the serving AP's share
        thr = np.where(active, demand[:, None, :] * frac_client, 0.0)  # [B, S, K]
        ap_retry = np.where(loaded, per_ap(need * (1.0 - ok)) / load_safe, 0.0)

        tick_rows = None if inv is None else (rows * n_s + inv).ravel()  # (network, state) row of each tick

        def ticks_of(x: np.ndarray) -> np.ndarray:
            if x.dtype == np.float64:
                x = x.astype(np.float32)  # per-tick sensing: float32 halves the memory of long spans
            if inv is None:
                return _over_ticks(x, ticks)
            return x.reshape(b * n_s, -1).take(tick_rows, axis=0).reshape(b, ticks, *x.shape[2:])

        # what depends on the configuration and the interferer state alone, as read-only views
        fixed = self._if_views.get((state, ticks)) if steady else None
        if fixed is None:
            if radar.shape[2]:
                radar_hit = None
            else:
                radar_hit = _over_ticks(np.zeros((b, 1, n), dtype=bool), ticks)
            fixed = (
                ticks_of(nw_duty),
                ticks_of(nw_conf),
                ticks_of(nw_kind),
                _over_ticks(self._tx_on[:, None, :n].copy(), ticks),  # a record, not a view of live state
                radar_hit,
            )
            if steady:
                self._if_views[state, ticks] = fixed
        nw_duty_t, nw_conf_t, nw_kind_t, transmitting, radar_hit = fixed
        if radar_hit is None:
            radar_hit = (radar[..., None] & r.radar_on[:, None]).any(axis=2)  # [B, T, N]

        return Sensing(
            t0_s=t0,
            cca_busy_frac=ticks_of(cca),
            airtime_frac=ticks_of(air_ap),
            retry_rate=ticks_of(ap_retry),
            throughput_mbps=ticks_of(per_ap(thr)),
            nonwifi_duty_frac=nw_duty_t,
            nonwifi_confidence=nw_conf_t,
            nonwifi_kind=nw_kind_t,
            radar_detected=radar_hit,
            demand_mbps=_over_ticks(per_ap(demand)[:, None, :].astype(np.float32), ticks),
            transmitting=transmitting,
            radar_burst=radar,
            client_ap=self._readonly(assoc),  # (an association array is replaced, never written)
            client_rssi_dbm=np.where(linked, signal, np.nan),
            client_snr_db=np.where(linked, snr_db, np.nan),
            client_throughput_mbps=thr[:, 0] if steady else (weight[:, None, :] @ thr)[:, 0],
            client_demand_mbps=self._readonly(self._demand),  # (replaced each epoch, never written)
            clients_per_ap=self._clients_per_ap(cell, linked).reshape(b, n).copy(),
            neighbor_rssi_dbm=r.neighbor_rssi_dbm,
            foreign_rssi_dbm=r.foreign_rssi_dbm,
            foreign_channel=SLOT_CHANNEL[slot[0, n:]].astype(int),
            foreign_slot=slot[0, n:].copy(),
        )

    def _collision_per(self, sinr_db: np.ndarray, mcs: np.ndarray) -> np.ndarray:
        """``_per(sinr_db, mcs)`` of the possible hidden-node collisions in the lists. An entry's
        SINR stays while it is in them (the lists are rebuilt, or only appended to), and between
        segments few clients' MCS changes (6-7 % of the entries in enterprise): so the frame
        losses are kept with the lists, and worked out again only for the entries whose MCS
        changed and those appended since (each value as working out all of them gives it)."""
        base = sinr_db if sinr_db.base is None else sinr_db.base
        kept = self._collision_kept
        n = len(sinr_db)
        if kept is None or kept[0] is not base or len(kept[1]) > n:
            per = np.empty(len(base))  # room for the entries the lists' buffer can take
            per[:n] = _per(sinr_db, mcs)
        else:
            _, old_mcs, per = kept
            m = len(old_mcs)
            redo = np.flatnonzero(mcs[:m] != old_mcs)
            if len(redo):
                per[redo] = _per(sinr_db.take(redo), mcs.take(redo))
            if n > m:
                per[m:n] = _per(sinr_db[m:], mcs[m:])
        self._collision_kept = (base, mcs, per)
        return per[:n]

    def _sense_interferers(self, r: _RadioState, on_s: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per interferer state ``on_s`` ``[S, I]``: energy-detect busy ``[B, S, N]``, the medium left
        to each transmitter ``[B, S, W]``, and the non-Wi-Fi confidence, duty and kind the APs report."""
        b, n, n_s = self.num_networks, self.num_aps, on_s.shape[0]
        avail = np.ones((b, n_s, n + self.num_neighbors))
        if not self.num_interferers:
            ed_busy = np.zeros((b, n_s, n))
            return ed_busy, avail, ed_busy, ed_busy, np.full((b, n_s, n), -1, dtype=np.int8)
        ed_busy = np.minimum(1.0, on_s @ r.if_ed)  # [B, S, N]
        avail[..., :n] = 1.0 - ed_busy
        on4 = on_s[None, :, :, None] > 0  # [1, S, I, 1]
        conf_s = np.where(on4, r.if_conf[:, None], 0.0)  # [B, S, I, N]
        nw_conf = conf_s.max(axis=2)
        nw_duty = np.where(on4, r.if_duty_seen[:, None], 0.0).max(axis=2)
        nw_kind = np.where(nw_conf > 0, self._if_kind[conf_s.argmax(axis=2)], -1).astype(np.int8)
        return ed_busy, avail, nw_conf, nw_duty, nw_kind

    @staticmethod
    def _airtime(load: np.ndarray, hears_t: np.ndarray, avail: np.ndarray | float) -> np.ndarray:
        """CSMA airtime shares: each transmitter takes what it needs of what its contenders
        leave, and at least an equal share of the medium when all are saturated.

        ``load`` ``[B, T, W]`` airtime wanted; ``hears_t[b, j, i]`` is 1 where i defers to j;
        ``avail`` medium fraction not blocked by non-Wi-Fi energy. Returns ``[B, T, W]``.
        """
        fair = avail / (1.0 + (load > 0).astype(float) @ hears_t)
        air = np.minimum(load, avail)
        for i in range(_FIXED_POINT_ITERATIONS):
            nxt = np.minimum(load, np.maximum(fair, avail - air @ hears_t))
            if i < 2 and (nxt == air).all():
                break  # a fixed point (light load converges at once): later iterations return it unchanged
            air = nxt
        return np.maximum(air, 0.0)
