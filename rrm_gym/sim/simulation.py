"""WirelessSimulation: the world state of B networks of one scenario, and its clock.

Time advances in *segments* of constant configuration. Client positions and who is active
change at *epoch* boundaries (``loops.epoch_s``), web bursts per slice of an epoch
(:mod:`rrm_gym.sim.traffic`); non-Wi-Fi interferers, radars and channel-change outages vary per
1 s tick. Ticks that share their conditions (slice, interferers on, outage) form a *state*;
each segment solves its states together as numpy arrays. Python runs per segment, never per
tick, AP or client.

What one state's physics does, in order (each step in the module named):

1. links (:mod:`~rrm_gym.sim.links`): 3-D TGax path loss with shadowing, who hears whom,
   association, each client's downlink and uplink SINR, its hidden sources (transmitters its AP
   does not hear but the client does) and the non-Wi-Fi energy in its AP's band;
2. rate adaptation picks the MCS of best expected goodput given how often each hidden source
   and interferer transmits;
3. every attempt succeeds unless the channel, a hidden source's overlapping frame, an
   interferer or a DCF collision (Bianchi) spoils it; a frame is dropped after 7 attempts
   (:mod:`rrm_gym.radio.mac`);
4. each client's traffic (:mod:`~rrm_gym.sim.traffic`) needs airtime for its downlink and
   uplink frames and their retries; each AP adds its beacons;
5. transmitters share each medium max-min fairly, and each AP shares the airtime it won among
   its clients by airtime fairness (:mod:`~rrm_gym.sim.medium`);
6. delivered throughput, the wait for the medium and each client's latency and service level
   follow; the activity found is fed back to steps 2-5 twice (reconciliation).

Shapes: ``B`` networks, ``T`` ticks, ``S`` states, ``N`` managed APs, ``M`` unmanaged
neighbour APs, ``W = N + M`` Wi-Fi transmitters, ``K`` clients, ``I`` non-Wi-Fi interferers,
``R`` radars, ``P`` hidden (client, source) pairs, ``H`` (client, interferer) hits.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rrm_gym.checks import is_number, require_int
from rrm_gym.config import Scenario, load_scenario
from rrm_gym.radio.mac import PACKET_BITS, RETRY_LIMIT, TAU, TAU_CONTENDERS, attempts_and_delivery, beacon_airtime_frac
from rrm_gym.radio.phy import MCS_SINR_THRESHOLD_DB, NUM_MCS, packet_error_rate
from rrm_gym.radio.propagation import geometric_loss_db
from rrm_gym.radio.regulatory import (
    DOMAINS,
    SLOT_BAND_GHZ,
    SLOT_CHANNEL,
    SLOT_WIDTH_MHZ,
    slot_index,
)
from rrm_gym.sim import kernels
from rrm_gym.sim.geometry import LossRaster, place_clients, wall_segments, walls_crossed
from rrm_gym.sim.links import (
    HIDDEN_NODE_FLOOR_DBM,
    PER_FACTOR,
    RATE_TABLE,
    RadioState,
    associate,
    best_mcs,
    generation_of,
    per_all_mcs,
    per_exponent,
    radio_state,
    success_all_mcs,
)
from rrm_gym.sim.medium import (
    LATENCY_CAP_MS,
    access_wait_ms,
    airtime_fair_split,
    collision_probability,
    max_min_airtime,
)
from rrm_gym.sim.sensing import Sensing
from rrm_gym.sim.sources import INTERFERER_KINDS, NEG_DB, OnOff, interferer_bands, interferer_spec, radar_bursts
from rrm_gym.sim.traffic import SLE_SERVED_SHARE, SLICES, Traffic

REASSOCIATION_OUTAGE_S = 2.0  # clients of an AP that changes channel without CSA
INTERFERER_HEIGHT_M = 1.0  # microwave ovens, video senders and headsets sit at desk height
# rate adaptation and the airtime solve are run this many times with the activity found last
RECONCILE_PASSES = 2
# the compiled kernels (rrm_gym.sim.kernels) or their numpy references: the same results
USE_KERNELS = True
# PER falls a decade per 2 dB past an MCS's threshold (rrm_gym.radio.phy): 6 dB past the top MCS's,
# a hidden source's frames cost under 1e-4 of the client's
_NEGLIGIBLE_SINR_DB = float(MCS_SINR_THRESHOLD_DB[-1]) + 6.0

__all__ = ["INTERFERER_KINDS", "Sensing", "WirelessSimulation"]


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.setflags(write=False)
    return v


# the longest span one run() or EventLoop.advance() call covers: its readings are returned tick
# by tick, so a longer span is run in several calls
MAX_SPAN_S = 86_400


def check_duration(duration_s: Any) -> int:
    """``duration_s`` as whole seconds in ``[1, MAX_SPAN_S]``; ``TypeError`` / ``ValueError`` otherwise."""
    if not is_number(duration_s):
        raise TypeError(f"duration_s must be a number of seconds, got {type(duration_s).__name__} {duration_s!r}")
    if not (math.isfinite(duration_s) and 1 <= duration_s <= MAX_SPAN_S) or abs(round(duration_s) - duration_s) > 1e-9:
        raise ValueError(
            f"duration_s must be a whole number of seconds from 1 to {MAX_SPAN_S:,} (a day; run longer spans in "
            f"several calls), got {duration_s}"
        )
    return int(round(duration_s))


class WirelessSimulation:
    """B independent draws of one scenario's WLAN, advanced together.

    ``sim.run(duration_s)`` advances the clock and returns :class:`Sensing`.
    ``set_channel`` / ``set_power`` change one AP's configuration between runs
    (the event loop is their caller). ``channel``, ``width_mhz`` and
    ``power_dbm`` are read-only ``[B, N]`` views of the current configuration.
    Same scenario and seed give bit-identical sensing.
    """

    def __init__(self, scenario: Scenario | str | Path, seed: int = 0, num_networks: int = 1) -> None:
        kernels.threads_from_env()
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        num_networks, seed = require_int("num_networks", num_networks), require_int("seed", seed)
        if num_networks < 1:
            raise ValueError(f"num_networks must be >= 1, got {num_networks}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.scenario = sc = scenario
        self.seed = seed
        self.domain = DOMAINS[sc.regulatory_domain]
        self.num_networks = b = num_networks
        self._rng = rng = np.random.default_rng(seed)
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
        self._tx_h = np.array([ap.height_m for ap in sc.aps] + [nb.height_m for nb in sc.neighbors])  # [W]
        self.ap_band_ghz = np.array([SLOT_BAND_GHZ[slot_index(ap.channel, ap.width_mhz)] for ap in sc.aps])
        self.ap_min_power_dbm = np.array([ap.min_power_dbm for ap in sc.aps])
        self.ap_max_power_dbm = np.array([ap.max_power_dbm for ap in sc.aps])
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
        tx_band = SLOT_BAND_GHZ[self._slot[0]]
        basic = np.where(tx_band == 5.0, sc.wlan.basic_rate_5_mbps, sc.wlan.basic_rate_24_mbps)
        self._beacon = beacon_airtime_frac(sc.wlan.ssids, basic)  # [W] share of the medium

        d_tt = self._distance(self._tx_xy[:, None], self._tx_xy[None], self._tx_h[:, None] - self._tx_h[None])
        geo_tt = geometric_loss_db(
            d_tt, walls_crossed(self._tx_xy[:, None], self._tx_xy[None], self._walls), self._model
        )
        shadow = np.triu(rng.normal(0.0, self._sigma, (b, n + m, n + m)), 1)
        self._pl_tt = (geo_tt + shadow + shadow.transpose(0, 2, 1)).astype(np.float32)  # [B, W, W] symmetric

        # --- non-Wi-Fi interferers --------------------------------------------------------
        its = sc.interferers
        self.num_interferers = len(its)
        self._if_kind = np.array([INTERFERER_KINDS.index(it.kind) for it in its], dtype=np.int8)
        self._if_power = np.array([interferer_spec(it)[2] for it in its], dtype=float)
        self._if_band_db, self._if_band_duty = interferer_bands(its)  # [I, S]
        self._if_xy = np.array([it.position for it in its], dtype=float).reshape(-1, 2)
        d_it = self._distance(self._if_xy[:, None], self.ap_xy[None], INTERFERER_HEIGHT_M - self._tx_h[None, :n])
        geo_it = geometric_loss_db(
            d_it, walls_crossed(self._if_xy[:, None], self.ap_xy[None], self._walls), self._model
        )
        self._pl_if_ap = geo_it + rng.normal(0.0, self._sigma, (b, len(its), n))  # [B, I, N]
        self._if_onoff = OnOff([it.schedule for it in its], b, sc.start_hour)

        # --- radars -----------------------------------------------------------------------
        rd = sc.radars
        self._radars = rd
        self._radar_slot = np.array([slot_index(r.channel) for r in rd], dtype=np.intp)
        cover = np.ones((len(rd), n), dtype=bool)
        for j, r in enumerate(rd):
            if r.position is not None:
                cover[j] = np.linalg.norm(self.ap_xy - np.asarray(r.position), axis=1) <= r.range_m
        self._radar_cover = cover  # [R, N]
        self._radar_at = [np.floor(np.asarray(r.at_s)).astype(int) for r in rd]

        # --- clients ----------------------------------------------------------------------
        cl = sc.clients
        self.client_xy = place_clients(sc, rng, (b, k))  # [B, K, 2]
        self._mobile = rng.random((b, k)) < cl.mobility.mobile_fraction
        self.traffic = Traffic(cl, rng, (b, k))
        self._gen, self._dual_band = generation_of(cl.capabilities, rng, (b, k))
        self._client_nss = cl.spatial_streams
        self._client_tx_dbm = cl.tx_power_dbm
        self._pl_ct = np.empty((b, k, n + m), dtype=np.float32)  # [B, K, W]
        self._pl_ci = np.empty((b, k, len(its)), dtype=np.float32)  # [B, K, I]
        # sources of client links: (their losses, positions, height above the client)
        self._sources = [
            (self._pl_ct, self._tx_xy, self._tx_h - cl.height_m),
            (self._pl_ci, self._if_xy, np.full(len(its), INTERFERER_HEIGHT_M - cl.height_m)),
        ]
        self._loss_rasters = [
            LossRaster.cached(xy, self._walls, sc.area.width_m, sc.area.height_m, self._model, dh)
            for _, xy, dh in self._sources
        ]
        self._relink(np.ones((b, k), dtype=bool))
        self._assoc = np.full((b, k), -1, dtype=np.intp)
        self._next_epoch_s = 0.0
        # interferer and radar activity is drawn a block of epochs (an hour) at a time
        self._block_s = self.epoch_s * max(1, 3600 // self.epoch_s)
        self._block_t0 = -np.inf
        self._block_if_code = np.zeros((b, 0), dtype=np.int64)  # [B, block ticks]
        self._block_radar = np.zeros((b, 0, len(rd)), dtype=bool)  # [B, block ticks, R]
        self._rows = np.arange(b)[:, None]
        self._radio_cache: RadioState | None = None
        self._links_cache: tuple | None = None  # (rx_ct, dl, ul) while the configuration and positions hold
        self._client_cache: dict[str, np.ndarray] | None = None  # client link terms

    @staticmethod
    def _distance(a: np.ndarray, b: np.ndarray, dh: np.ndarray | float) -> np.ndarray:
        """3-D distance between points ``a`` and ``b`` (``[..., 2]``) whose heights differ by ``dh``."""
        d = a - b
        return np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + np.asarray(dh) ** 2)

    # ------------------------------------------------------------------ configuration
    @property
    def channel(self) -> np.ndarray:
        """Primary channel of each managed AP, ``[B, N]`` (read-only)."""
        return _readonly(SLOT_CHANNEL[self._slot[:, : self.num_aps]])

    @property
    def width_mhz(self) -> np.ndarray:
        """Channel width of each managed AP, ``[B, N]`` (read-only)."""
        return _readonly(SLOT_WIDTH_MHZ[self._slot[:, : self.num_aps]])

    @property
    def power_dbm(self) -> np.ndarray:
        """Transmit power (EIRP) of each managed AP, ``[B, N]`` (read-only)."""
        return _readonly(self._power[:, : self.num_aps])

    @property
    def slot(self) -> np.ndarray:
        """Slot id (see :mod:`rrm_gym.radio.regulatory`) of each managed AP, ``[B, N]``."""
        return _readonly(self._slot[:, : self.num_aps])

    def ap_config(self, ap: int, network: int = 0) -> dict[str, float | int]:
        """One AP's ``channel``, ``width_mhz`` and ``power_dbm`` as Python numbers."""
        self._check_index(ap, network)
        s = self._slot.item(network, ap)
        return {
            "channel": int(SLOT_CHANNEL[s]),
            "width_mhz": int(SLOT_WIDTH_MHZ[s]),
            "power_dbm": self._power.item(network, ap),
        }

    def ap_power_dbm(self, ap: int, network: int = 0) -> float:
        """One AP's transmit power."""
        self._check_index(ap, network)
        return self._power.item(network, ap)

    def ap_slot(self, ap: int, network: int = 0) -> int:
        """One AP's slot id."""
        self._check_index(ap, network)
        return self._slot.item(network, ap)

    def _check_index(self, ap: int, network: int) -> None:
        """``IndexError`` unless ``ap`` is a managed AP and ``network`` a network (the arrays behind
        also hold the unmanaged neighbours, and numpy would read -1 as the last of them)."""
        if not (0 <= ap < self.num_aps and 0 <= network < self.num_networks):
            raise IndexError(
                f"AP {ap} of network {network}: there are {self.num_aps} managed APs and {self.num_networks} networks"
            )

    def _check_ap(self, ap: int, network: int) -> None:
        require_int("AP index", ap)
        require_int("network index", network)
        if not 0 <= ap < self.num_aps:
            raise ValueError(f"AP index {ap} out of range [0, {self.num_aps})")
        if not 0 <= network < self.num_networks:
            raise ValueError(f"network index {network} out of range [0, {self.num_networks})")

    def _changed(self) -> None:
        self._radio_cache = None
        self._links_cache = None
        self._client_cache = None

    def set_channel(
        self, ap: int, channel: int, width_mhz: int | None = None, *, network: int = 0, csa: bool = False
    ) -> None:
        """Retune AP ``ap`` of network ``network``; its clients lose service for a short
        re-association outage unless the move is announced with a channel switch announcement."""
        self._check_ap(ap, network)
        require_int("channel", channel)
        if width_mhz is not None:
            require_int("width_mhz", width_mhz)
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
        if s != self._slot[network, ap]:
            self._slot[network, ap] = s
            self._changed()

    def set_power(self, ap: int, power_dbm: float, *, network: int = 0) -> None:
        """Set AP ``ap``'s transmit power; must lie within its hardware range."""
        self._check_ap(ap, network)
        lo, hi = float(self.ap_min_power_dbm[ap]), float(self.ap_max_power_dbm[ap])
        if not lo <= power_dbm <= hi:
            raise ValueError(f"power {power_dbm} dBm for AP {ap} is outside its range [{lo}, {hi}] dBm")
        if self._power[network, ap] != power_dbm:
            self._power[network, ap] = power_dbm
            self._changed()

    def set_power_many(self, aps: np.ndarray, powers_dbm: np.ndarray, *, networks: np.ndarray | int = 0) -> None:
        """:meth:`set_power` for many APs at once (``aps``, ``powers_dbm`` and ``networks`` broadcast)."""
        aps, powers, networks = np.broadcast_arrays(
            np.asarray(aps), np.asarray(powers_dbm, float), np.asarray(networks)
        )
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
        self._changed()

    def set_tx_enabled(self, ap: int, enabled: bool, *, network: int = 0) -> None:
        """Switch AP ``ap``'s radio on or off. An AP that is off (silent during a channel
        availability check) still listens, so it detects radar, but serves no client."""
        self._check_ap(ap, network)
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"enabled must be True or False, got {enabled!r}")
        if bool(enabled) != bool(self._tx_on[network, ap]):
            self._tx_on[network, ap] = bool(enabled)
            self._changed()

    @property
    def tx_enabled(self) -> np.ndarray:
        """Whether each managed AP's radio is on, ``[B, N]`` (read-only)."""
        return _readonly(self._tx_on[:, : self.num_aps])

    def set_powers(self, power_dbm: np.ndarray) -> None:
        """Set every managed AP's power at once, ``[B, N]`` dBm within each AP's range."""
        p = np.asarray(power_dbm, dtype=float)
        if p.shape != (self.num_networks, self.num_aps):
            raise ValueError(f"power array must have shape {(self.num_networks, self.num_aps)}, got {p.shape}")
        if not np.all((p >= self.ap_min_power_dbm) & (p <= self.ap_max_power_dbm)):  # NaN is outside too
            raise ValueError("power outside an AP's [min_power_dbm, max_power_dbm] range")
        self._power[:, : self.num_aps] = p
        self._changed()

    def link_rate_mbps(self) -> np.ndarray:
        """``[B, K]`` each client's downlink goodput on a medium of its own (the MCS its SNR
        allows, MAC efficiency included; 0 unassociated), as of the last span run."""
        if self._client_cache is None:
            return np.zeros((self.num_networks, self.num_clients))
        c = self._client_cache
        rate = np.take_along_axis(c["rate"], c["clean_mcs"][..., None], axis=2)[..., 0]
        return np.where(c["linked"], rate, 0.0)

    # ------------------------------------------------------------------ time
    def hour_of_day(self, t_s: float | None = None) -> float:
        t = self.time_s if t_s is None else t_s
        return (self.scenario.start_hour + t / 3600.0) % 24.0

    def run(self, duration_s: float) -> Sensing:
        """Advance ``duration_s`` seconds (a whole number of 1 s ticks, at most a day: what was
        sensed is returned tick by tick) and return what was sensed."""
        ticks = check_duration(duration_s)
        end = self.time_s + ticks
        parts = []
        while self.time_s < end:
            if self.time_s >= self._next_epoch_s:
                self._advance_epoch()
            seg_end = min(end, self._next_epoch_s)
            parts.append(self._segment(int(seg_end - self.time_s)))
            self.time_s = seg_end
        return Sensing.concat(parts)

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
        """Time of the next epoch boundary (client moves, new activity)."""
        return self._next_epoch_s

    def _advance_epoch(self) -> None:
        """New epoch: nomadic clients relocate, activity follows the diurnal profile, and at
        block starts interferer and radar activity is drawn (so chunking of ``run`` calls never
        changes the random stream)."""
        rng = self._rng
        b, k = self.num_networks, self.num_clients
        t0, e = self.time_s, self.epoch_s
        if t0 > 0:
            move = self._mobile & (rng.random((b, k)) < e / self.scenario.clients.mobility.mean_dwell_s)
            if move.any():
                self.client_xy[move] = place_clients(self.scenario, rng, (int(move.sum()),))
                self._relink(move)
        self.traffic.new_epoch(self.hour_of_day(t0), rng)
        if t0 >= self._block_t0 + self._block_s:
            self._block_t0 = t0
            on = self._if_onoff.sample(t0, self._block_s, rng)
            self._block_if_code = on @ (1 << np.arange(self.num_interferers))
            self._block_radar = radar_bursts(self._radars, self._radar_at, t0, self._block_s, b, rng)
        self._next_epoch_s = t0 + e

    def _relink(self, mask: np.ndarray) -> None:
        """Path loss and shadowing of the links of the clients where ``mask`` ``[B, K]``."""
        xy = self.client_xy[mask]  # [P, 2]
        if len(xy) == 0:
            return
        for (target, src_xy, dh), raster in zip(self._sources, self._loss_rasters, strict=True):
            if src_xy.shape[0] == 0:
                continue
            if raster is not None:
                geo = raster.lookup(xy)
            else:
                walls = walls_crossed(xy[:, None], src_xy[None], self._walls)
                geo = geometric_loss_db(self._distance(xy[:, None], src_xy[None], dh[None]), walls, self._model)
            target[mask] = geo + self._rng.normal(0.0, self._sigma, geo.shape)
        self._links_cache = None
        self._client_cache = None

    # ------------------------------------------------------------------ physics of one segment
    def _radio(self) -> RadioState:
        if self._radio_cache is None:
            self._radio_cache = radio_state(
                self._slot,
                self._power,
                self._tx_on,
                self._pl_tt,
                self.ap_band_ghz,
                self.num_aps,
                self._radar_slot,
                self._radar_cover,
                self._if_power,
                self._pl_if_ap,
                self._if_band_db,
                self._if_band_duty,
            )
        return self._radio_cache

    def _client_links(self, r: RadioState) -> dict[str, np.ndarray]:
        """Association and everything about each client's link that holds while the
        configuration, the positions and the association do."""
        n = self.num_aps
        if self._links_cache is None:
            rx_ct = r.tx_eff[:, None, :] - self._pl_ct  # [B, K, W] full-band power at each client
            ul = (self._client_tx_dbm - self._pl_ct[:, :, :n]) - r.ap_freq_loss_db[:, None, :]  # [B, K, N] at the AP
            self._links_cache = (rx_ct, rx_ct[:, :, :n], ul)
        if self._client_cache is not None:
            # nothing moved or changed since it was built: association applied to its own result
            # changes nothing, so the clients stay where they are
            return self._client_cache
        rx_ct, dl, ul = self._links_cache
        cl = self.scenario.clients
        assoc = associate(
            self._assoc,
            dl,
            ul,
            self.ap_band_ghz == 5.0,
            self._dual_band,
            cl.band_steering_rssi_dbm,
            cl.roam_trigger_dbm,
            cl.roam_hysteresis_db,
        )
        self._assoc = assoc
        rows = self._rows
        linked = assoc >= 0
        a = np.maximum(assoc, 0)
        cell = rows * n + a  # [B, K] flat (network, serving AP)
        signal = np.take_along_axis(dl, a[..., None], axis=2)[..., 0]
        ul_sig = np.take_along_axis(ul, a[..., None], axis=2)[..., 0]
        noise = r.ap_noise_dbm.reshape(-1)[cell]
        snr = signal - noise
        ul_snr = ul_sig - noise
        nss = np.minimum(self._client_nss, self._ap_nss[a])
        rate = RATE_TABLE[self._gen, r.ap_width_index.reshape(-1)[cell]] * nss[..., None]  # [B, K, MCS]
        # hidden sources: transmitters in the AP's band it does not hear, loud enough at the client
        w = r.slot.shape[1]
        ap_row = (rows * w + a).reshape(-1)  # flat (network, AP) row of [B, W, W]
        unheard = ~r.hears.reshape(-1, w)[ap_row].reshape(assoc.shape + (w,))
        power = rx_ct + r.ov_db.reshape(-1, w)[ap_row].reshape(assoc.shape + (w,))
        hidden = unheard & (power >= HIDDEN_NODE_FLOOR_DBM) & linked[..., None] & (r.tx_eff[:, None, :] > NEG_DB / 2)
        hidden[..., :n] &= np.arange(n) != a[..., None]
        bk, j = np.nonzero(hidden.reshape(-1, w))
        noise_mw = 10.0 ** (noise / 10.0)
        p_mw = 10.0 ** (power.reshape(-1, w)[bk, j] / 10.0)
        h_sinr = signal.reshape(-1)[bk] - 10.0 * np.log10(noise_mw.reshape(-1)[bk] + p_mw)
        # a source that leaves the SINR this high loses under 1e-4 of the frames at any MCS: dropped
        matters = h_sinr < _NEGLIGIBLE_SINR_DB
        bk, j, h_sinr = bk[matters], j[matters], h_sinr[matters]
        # non-Wi-Fi energy in the AP's band at the client
        n_if = self.num_interferers
        if n_if:
            if_db = self._if_power - self._pl_ci - r.ap_freq_loss_db.reshape(-1)[cell][..., None]
            if_db = if_db + r.ap_if_db.reshape(-1, n_if)[cell.reshape(-1)].reshape(if_db.shape)
            duty = r.ap_if_duty.reshape(-1, n_if)[cell.reshape(-1)].reshape(if_db.shape)
            hit = (duty > 0) & (if_db >= HIDDEN_NODE_FLOOR_DBM) & linked[..., None]
            i_bk, i_l = np.nonzero(hit.reshape(-1, n_if))
            i_mw = 10.0 ** (if_db.reshape(-1, n_if)[i_bk, i_l] / 10.0)
            i_sinr = signal.reshape(-1)[i_bk] - 10.0 * np.log10(noise_mw.reshape(-1)[i_bk] + i_mw)
            i_duty = duty.reshape(-1, n_if)[i_bk, i_l]
        else:
            i_bk = i_l = np.zeros(0, dtype=np.intp)
            i_sinr = i_duty = np.zeros(0)
        ul_mcs = best_mcs(ul_snr, rate)
        clean_ok = np.maximum(success_all_mcs(snr), 1e-300)  # [B, K, MCS] an attempt's success, clean
        clean_mcs = np.argmax(rate * clean_ok, axis=2)
        terms = {
            "clean_ok": clean_ok,
            "clean_mcs": clean_mcs,
            "h_exp": per_exponent(h_sinr),  # [P] a hidden source's frame loss is 1 / (1 + this * PER_FACTOR)
            "i_loss": i_duty[:, None] * per_all_mcs(i_sinr),  # [H, MCS] the share of attempts an interferer spoils
            "linked": linked,
            "a": a,
            "cell": cell,
            "signal": signal,
            "snr": snr,
            "rate": rate,
            "ul_rate": np.take_along_axis(rate, ul_mcs[..., None], axis=2)[..., 0],
            "ul_ok": 1.0 - packet_error_rate(ul_snr, ul_mcs),
            "h_bk": bk,
            "h_src": (bk // self.num_clients) * w + j,  # flat (network, source)
            "h_sinr": h_sinr,
            "i_bk": i_bk,
            "i_l": i_l,
            "i_sinr": i_sinr,
            "i_duty": i_duty,
        }
        # the clients with something to adapt to (flat (network, client)), and each pair's and
        # hit's row among them
        row = np.zeros(assoc.size, dtype=np.intp)
        row[bk] = row[i_bk] = 1
        terms["hit"] = hit = np.flatnonzero(row)
        row[hit] = np.arange(len(hit))
        terms["h_row"], terms["i_row"] = row[bk], row[i_bk]
        self._client_cache = terms
        return terms

    def _states(self, ticks: int) -> tuple[np.ndarray, ...]:
        """Group each network's ticks by their conditions (slice of the epoch, interferers on,
        outage tick): ``(inv [B, T] each tick's state, slice [B, S], interferers on [B, S, I],
        outage tick [B, S] (-1: none), ticks [B, S])``, S the most states of a network (states
        past a network's own count hold no ticks)."""
        b = self.num_networks
        t0 = self.time_s
        lo = int(t0 - self._block_t0)
        n_if = self.num_interferers
        code = self._block_if_code[:, lo : lo + ticks]  # [B, T] which interferers are on, as bits
        if self.traffic.any_bursty:
            into = t0 - (self._next_epoch_s - self.epoch_s) + np.arange(ticks)
            sl = (into * SLICES // self.epoch_s).astype(np.int64)
        else:
            sl = np.zeros(ticks, dtype=np.int64)
        # an outage tick is a state of its own, in the networks with an AP in outage
        ts = np.arange(ticks)
        out_tick = np.where((ts[None, :] + t0) < self._outage_until_s.max(axis=1)[:, None], ts[None, :] + 1, 0)
        key = (sl[None, :] * (ticks + 1) + out_tick) * (1 << n_if) + code  # [B, T]
        span = int(key.max()) + 1
        uniq, inv = np.unique(key + self._rows * span, return_inverse=True)
        net = uniq // span
        local = np.arange(len(uniq)) - np.searchsorted(net, net)  # each state's index within its network
        n_s = int(local.max()) + 1
        keys = np.zeros((b, n_s), dtype=np.int64)
        keys[:, :] = (uniq % span)[np.searchsorted(net, np.arange(b))][:, None]  # spare states: the first's
        keys[net, local] = uniq % span
        inv = local[inv].reshape(b, ticks)
        weight = np.zeros((b, n_s))
        np.add.at(weight, (np.repeat(np.arange(b), ticks), inv.ravel()), 1.0)
        on = ((keys[..., None] >> np.arange(n_if)) & 1).astype(float)  # [B, S, I]
        rest = keys >> n_if
        return inv, rest // (ticks + 1), on, rest % (ticks + 1) - 1, weight

    def _segment(self, ticks: int) -> Sensing:
        b, n, k = self.num_networks, self.num_aps, self.num_clients
        r = self._radio()
        c = self._client_links(r)
        inv, slice_s, on_s, outage_s, weight = self._states(ticks)  # (per network: [B, S, ...])
        n_s = slice_s.shape[1]
        t0 = self.time_s
        cell, a, linked = c["cell"], c["a"], c["linked"]
        # [B, S, K] offered load of each client in each state
        tr = self.traffic
        offered = tr.offered_mbps()
        want = np.take_along_axis(offered, np.minimum(slice_s, offered.shape[1] - 1)[..., None], axis=1)
        until = self._outage_until_s[self._rows, a]  # [B, K]
        in_outage = (outage_s[..., None] >= 0) & ((t0 + outage_s)[..., None] < until[:, None, :])
        off = np.where(linked[:, None, :] & ~in_outage, want, 0.0)
        cell_s = (self._rows[:, None, :] * n_s + np.arange(n_s)[None, :, None]) * n + a[:, None, :]  # [B, S, K]

        def per_ap(x: np.ndarray) -> np.ndarray:
            """Sum of ``x`` ``[B, S, K]`` over each AP's clients -> ``[B, S, N]``."""
            return np.bincount(cell_s.ravel(), x.ravel(), b * n_s * n).reshape(b, n_s, n)

        # non-Wi-Fi energy: energy-detect busy at each AP, frame losses at each client
        if self.num_interferers:
            ed = np.minimum(1.0, np.einsum("bsi,bin->bsn", on_s, r.if_ed))  # [B, S, N]
        else:
            ed = np.zeros((b, n_s, n))
        avail = np.ones((b, n_s, n + self.num_neighbors))
        avail[..., :n] = 1.0 - ed
        tx_on = self._tx_on[:, None, :]
        beacon = np.where(tx_on, self._beacon, 0.0)  # [B, 1, W]
        nb_load = np.where(self._tx_on[:, None, n:], self._nb_load, 0.0)

        i_bk, i_l = c["i_bk"], c["i_l"]
        h_bk, h_src = c["h_bk"], c["h_src"]
        bk_state = (np.arange(n_s) * (b * k))[:, None]  # offset of each state in a flat [S, B * K]

        def losses(mcs: np.ndarray, act: np.ndarray | None) -> np.ndarray:
            """``[B, S, K]`` log of the chance an attempt at ``mcs`` ``[B, S, K]`` survives hidden
            sources (transmitting ``act`` of the time) and interferers."""
            log_ok = np.zeros(n_s * b * k)
            mcs_s = mcs.transpose(1, 0, 2).reshape(n_s, -1)  # [S, B * K]
            if len(i_bk):
                lose = np.log1p(
                    -np.minimum(c["i_duty"] * packet_error_rate(c["i_sinr"], mcs_s[:, i_bk]), 0.999999)
                )  # [S, H]
                on = on_s[i_bk // k, :, i_l].T  # [S, H] the interferer of each hit on in each state
                log_ok += np.bincount((bk_state + i_bk).ravel(), (on * lose).ravel(), n_s * b * k)
            if act is not None and len(h_bk):
                act_src = act.transpose(1, 0, 2).reshape(n_s, -1)[:, h_src]  # [S, P]
                lose = np.log1p(-np.minimum(act_src * packet_error_rate(c["h_sinr"], mcs_s[:, h_bk]), 0.999999))
                log_ok += np.bincount((bk_state + h_bk).ravel(), lose.ravel(), n_s * b * k)
            return log_ok.reshape(n_s, b, k).transpose(1, 0, 2)

        def solve(mcs: np.ndarray, act: np.ndarray | None, backlog: np.ndarray | None) -> dict[str, np.ndarray]:
            """One pass at MCS ``mcs`` ``[B, S, K]`` with hidden sources' activity ``act`` and the
            contenders' ``backlog`` (``[B, S, W]``; None: a clean first pass)."""
            if USE_KERNELS:
                none = np.zeros((0, 0, 0))
                out = kernels.solve_states(
                    np.ascontiguousarray(mcs),
                    c["rate"],
                    c["clean_ok"],
                    c["ul_rate"],
                    c["ul_ok"],
                    tr.uplink_share,
                    off,
                    a,
                    h_bk,
                    h_src,
                    c["h_exp"],
                    PER_FACTOR,
                    none if act is None else act,
                    i_bk,
                    i_l,
                    c["i_loss"],
                    on_s,
                    none if backlog is None else backlog,
                    r.hears,
                    TAU_CONTENDERS,
                    TAU,
                    beacon[:, 0],
                    nb_load[:, 0],
                    self._tx_on,
                    avail,
                    RETRY_LIMIT,
                )
                return dict(zip(("air", "load", "x", "att", "served", "thr", "rate"), out, strict=True))
            rate = np.take_along_axis(c["rate"][:, None], mcs[..., None], axis=3)[..., 0]  # [B, S, K]
            ok = (1.0 - packet_error_rate(c["snr"][:, None, :], mcs)) * np.exp(losses(mcs, act))  # [B, S, K]
            ul_ok = c["ul_ok"][:, None, :]
            if backlog is not None:
                coll = collision_probability(backlog, r.hears)[..., :n]  # [B, S, N]
                clean = 1.0 - coll.reshape(-1)[cell_s]
                ok, ul_ok = ok * clean, ul_ok * clean
            att, got = attempts_and_delivery(ok)
            ul_att, ul_got = attempts_and_delivery(ul_ok)
            up = tr.uplink_share[:, None, :]
            dl_off, ul_off = off * (1.0 - up), off * up
            need = dl_off * att / rate + ul_off * ul_att / c["ul_rate"][:, None, :]  # share of time
            load = np.concatenate([per_ap(need), np.broadcast_to(nb_load, (b, n_s, self.num_neighbors))], axis=2)
            load = np.where(tx_on, load + beacon, 0.0)
            solve_airtime = kernels.max_min_airtime if USE_KERNELS else max_min_airtime
            air = solve_airtime(np.minimum(load, avail), r.hears, avail)
            budget = np.maximum(air[..., :n] - beacon[..., :n], 0.0)
            x = kernels.airtime_fair_split(need, a, budget) if USE_KERNELS else airtime_fair_split(need, cell, budget)
            served = np.where(need > 0, np.minimum(1.0, x / np.maximum(need, 1e-12)), 1.0)
            thr = served * (dl_off * got + ul_off * ul_got)
            return {"air": air, "load": load, "x": x, "att": att, "served": served, "thr": thr, "rate": rate}

        def backlog_of(s: dict[str, np.ndarray]) -> np.ndarray:
            return np.minimum(1.0, s["load"] / np.maximum(avail, 1e-9))

        # first pass: clean links; then rate adaptation and the solve with the activity found
        sol = solve(np.broadcast_to(c["clean_mcs"][:, None, :], (b, n_s, k)), None, None)
        for _ in range(RECONCILE_PASSES):
            mcs = self._adapt_rates(c, sol["air"], on_s)
            sol = solve(mcs, sol["air"], backlog_of(sol))
        air, x, att, served, thr, rate = sol["air"], sol["x"], sol["att"], sol["served"], sol["thr"], sol["rate"]

        # readings per state
        hears_t = r.hears.transpose(0, 2, 1).astype(float)  # [B, W(j), W(i)]
        # busy: non-Wi-Fi energy or a transmitter the AP defers to (independent of each other)
        heard = np.minimum(1.0, (air @ hears_t)[..., :n])
        cca = ed + (1.0 - ed) * heard
        air_ap = air[..., :n]
        frames = per_ap(x)
        retry = np.where(frames > 0, per_ap(x * (1.0 - 1.0 / att)) / np.maximum(frames, 1e-12), 0.0)
        elastic = tr.elastic[:, None, :]
        inel_air = np.concatenate([per_ap(np.where(elastic, 0.0, x)) + beacon[..., :n], air[..., n:]], axis=2)
        busy = ed + (1.0 - ed) * np.minimum(1.0, inel_air[..., :n] + (inel_air @ hears_t)[..., :n])
        queues = np.zeros((b, n_s, n + self.num_neighbors))
        queues[..., :n] = per_ap(elastic & (off > 0)) > 0
        queues = queues + queues @ hears_t
        wait = access_wait_ms(busy, queues[..., :n])  # [B, S, N]
        service_ms = 1e3 * att * PACKET_BITS / (rate * 1e6)
        latency = wait.reshape(-1)[cell_s] + service_ms
        latency = np.where(~elastic & (served < 0.999), LATENCY_CAP_MS, np.minimum(latency, LATENCY_CAP_MS))
        active = want > 0
        latency = np.where(active & ~(linked[:, None, :] & ~in_outage), LATENCY_CAP_MS, latency)
        thr_ok = np.where(elastic, thr >= tr.need_mbps[:, None, :], thr >= SLE_SERVED_SHARE * want)
        lat_ok = latency <= tr.latency_bound_ms[:, None, :]
        inel_off = np.where(elastic, 0.0, off)
        ap_lat = np.where(per_ap(inel_off) > 0, per_ap(inel_off * latency) / np.maximum(per_ap(inel_off), 1e-12), wait)

        # per client over the segment's ticks: sums over the states it was active in
        w_on = weight[:, :, None] * active  # [B, S, K] ticks
        t_on = w_on.sum(axis=1)
        safe = np.maximum(t_on, 1.0)

        def client_mean(v: np.ndarray) -> np.ndarray:
            return np.where(t_on > 0, (w_on * v).sum(axis=1) / safe, 0.0)

        tick_rows = (self._rows * n_s + inv).ravel()

        def ticks_of(v: np.ndarray) -> np.ndarray:
            v = v.astype(np.float32) if v.dtype == np.float64 else v
            return v.reshape(b * n_s, *v.shape[2:]).take(tick_rows, axis=0).reshape(b, ticks, *v.shape[2:])

        if self.num_interferers:
            on4 = on_s[..., None] > 0  # [B, S, I, 1]
            conf_s = np.where(on4, r.if_conf[:, None], 0.0)  # [B, S, I, N]
            nw_conf = conf_s.max(axis=2)
            nw_duty = np.where(on4, r.if_duty_seen[:, None], 0.0).max(axis=2)
            nw_kind = np.where(nw_conf > 0, self._if_kind[conf_s.argmax(axis=2)], -1).astype(np.int8)
        else:
            nw_conf = nw_duty = np.zeros((b, n_s, n))
            nw_kind = np.full((b, n_s, n), -1, dtype=np.int8)
        lo = int(t0 - self._block_t0)
        radar = self._block_radar[:, lo : lo + ticks]  # [B, T, R]
        radar_hit = (radar[..., None] & r.radar_on[:, None]).any(axis=2)  # [B, T, N]
        counts = np.bincount(cell[linked], minlength=b * n).reshape(b, n)
        return Sensing(
            t0_s=t0,
            cca_busy_frac=ticks_of(cca),
            airtime_frac=ticks_of(air_ap),
            retry_rate=ticks_of(retry),
            throughput_mbps=ticks_of(per_ap(thr)),
            latency_ms=ticks_of(ap_lat),
            nonwifi_duty_frac=ticks_of(nw_duty),
            nonwifi_confidence=ticks_of(nw_conf),
            nonwifi_kind=ticks_of(nw_kind),
            radar_detected=radar_hit,
            demand_mbps=ticks_of(per_ap(np.where(linked[:, None, :], want, 0.0))),
            transmitting=np.broadcast_to(self._tx_on[:, None, :n], (b, ticks, n)).copy(),
            radar_burst=radar,
            client_ap=_readonly(self._assoc),
            client_rssi_dbm=np.where(linked, c["signal"], np.nan),
            client_snr_db=np.where(linked, c["snr"], np.nan),
            client_throughput_mbps=client_mean(thr),
            client_demand_mbps=client_mean(want),
            client_latency_ms=client_mean(latency),
            client_sle_throughput=client_mean(thr_ok),
            client_sle_latency=client_mean(lat_ok),
            client_sle=client_mean(thr_ok & lat_ok),
            client_active_frac=t_on / ticks,
            client_elastic=tr.elastic,
            client_need_mbps=tr.need_mbps,
            client_latency_bound_ms=tr.latency_bound_ms,
            clients_per_ap=counts,
            neighbor_rssi_dbm=r.neighbor_rssi_dbm,
            foreign_rssi_dbm=r.foreign_rssi_dbm,
            foreign_channel=SLOT_CHANNEL[self._slot[0, n:]].astype(int),
            foreign_slot=self._slot[0, n:].copy(),
        )

    def _adapt_rates(self, c: dict[str, np.ndarray], air: np.ndarray, on_s: np.ndarray) -> np.ndarray:
        """``[B, S, K]`` the MCS rate adaptation settles on in each state: the best expected
        goodput given how much of the time each hidden source transmits (``air`` ``[B, S, W]``) and
        each interferer is on (``on_s`` ``[B, S, I]``); an adaptation such as Minstrel settles in well
        under a second, and a state lasts whole seconds. DCF collisions spoil every MCS alike, so
        they do not move the choice; a client with neither hidden sources nor interferers keeps
        its clean choice."""
        b, k = self.num_networks, self.num_clients
        n_s = air.shape[1]
        mcs = np.repeat(c["clean_mcs"].reshape(1, -1), n_s, axis=0)  # [S, B * K]
        hit = c["hit"]  # flat (network, client) with something to adapt to
        if len(hit):
            air_s = air.transpose(1, 0, 2).reshape(n_s, -1)  # [S, B * W]
            i_on = on_s[c["i_bk"] // k, :, c["i_l"]].T  # [S, H] the interferer of each hit on in each state
            rate, pairs, hits = c["rate"].reshape(b * k, -1), (c["h_row"], c["h_src"]), (c["i_row"], i_on, c["i_loss"])
            if USE_KERNELS:
                kernels.adapt_rates(
                    mcs, c["clean_ok"].reshape(b * k, -1), rate, hit, *pairs, c["h_exp"], PER_FACTOR, air_s, *hits
                )
            else:
                h_per = per_all_mcs(c["h_sinr"])
                _adapt_rates_numpy(
                    mcs, np.log(c["clean_ok"]).reshape(b * k, -1), rate, hit, *pairs, h_per, air_s, *hits
                )
        return np.ascontiguousarray(mcs.reshape(n_s, b, k).transpose(1, 0, 2))


def _adapt_rates_numpy(
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
) -> None:
    """The reference of :func:`rrm_gym.sim.kernels.adapt_rates`: each hit client's expected goodput
    at every MCS in every state, summed pair by pair with ``np.bincount``; writes ``mcs``."""
    n_s, size = mcs.shape[0], len(hit) * NUM_MCS
    log_ok = np.tile(clean_log[hit].ravel(), n_s)  # [S * H * MCS]
    at = np.arange(NUM_MCS)
    state = (np.arange(n_s) * size)[:, None, None]
    if len(h_row):
        lose = np.log1p(-np.minimum(air[:, h_src][..., None] * h_per, 0.999999))  # [S, P, MCS]
        log_ok += np.bincount((state + (h_row[:, None] * NUM_MCS + at)[None]).ravel(), lose.ravel(), n_s * size)
    if len(i_row):
        lose = i_on[..., None] * np.log1p(-np.minimum(i_loss, 0.999999))[None]  # [S, H, MCS]
        log_ok += np.bincount((state + (i_row[:, None] * NUM_MCS + at)[None]).ravel(), lose.ravel(), n_s * size)
    good = rate[hit][None] * np.exp(log_ok.reshape(n_s, len(hit), NUM_MCS))
    mcs[:, hit] = good.argmax(axis=2)
