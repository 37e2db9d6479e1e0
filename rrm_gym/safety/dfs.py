"""DFS: the event loop's radar bookkeeping, and an independent compliance monitor.

:class:`DfsState` is what the handlers use to stay legal (barred channels, channel
availability checks in progress). :class:`ComplianceMonitor` does not read it: it
watches what the radios actually transmitted and the radar pulses that actually
happened, and counts every second a rule was broken.
"""

from __future__ import annotations

import math

import numpy as np

from rrm_gym.radio.regulatory import (
    DFS_CHANNEL_MOVE_TIME_S,
    DFS_CLOSING_TIME_S,
    DFS_NON_OCCUPANCY_S,
    SLOT_MEMBERS,
    RegulatoryDomain,
)
from rrm_gym.sim import Sensing, WirelessSimulation

_NUM_CHANNELS = SLOT_MEMBERS.shape[1]


class DfsState:
    """Barred channels and channel availability checks, per network.

    A radar detection bars every 20 MHz channel of the detecting AP's band for the
    non-occupancy period, network-wide (stricter than the per-device rule, so no other
    AP of the network walks onto it). An AP moving onto a DFS channel is silent for its
    CAC (60 s, 600 s on ETSI weather channels) before it transmits.
    """

    def __init__(self, domain: RegulatoryDomain, num_networks: int, num_aps: int) -> None:
        self.domain = domain
        self.barred_until_s = np.full((num_networks, _NUM_CHANNELS), -np.inf)  # [B, channel]
        self.cac_until_s = np.full((num_networks, num_aps), -np.inf)  # [B, N]
        self.cac_slot = np.full((num_networks, num_aps), -1)
        self._latest_until_s = [-math.inf] * num_networks  # end of the network's last non-occupancy

    def barred(self, network: int, slot: int, now_s: float) -> bool:
        if self._latest_until_s[network] <= now_s:
            return False  # the common case: nothing barred
        return bool((self.barred_until_s[network, SLOT_MEMBERS[slot]] > now_s).any())

    def barred_slots(self, network: int, now_s: float) -> np.ndarray:
        """``[S]`` bool: slots that touch a channel in non-occupancy."""
        if self._latest_until_s[network] <= now_s:
            return np.zeros(SLOT_MEMBERS.shape[0], dtype=bool)
        return SLOT_MEMBERS[:, self.barred_until_s[network] > now_s].any(axis=1)

    def barred_slot_table(self, now_s: float) -> np.ndarray | None:
        """``[B, S]`` :meth:`barred_slots` of every network; ``None`` when nothing is barred."""
        if max(self._latest_until_s) <= now_s:
            return None
        return (SLOT_MEMBERS[None] & (self.barred_until_s[:, None, :] > now_s)).any(axis=2)

    def bar(self, network: int, slot: int, now_s: float) -> float:
        until = now_s + DFS_NON_OCCUPANCY_S
        members = SLOT_MEMBERS[slot]
        self.barred_until_s[network, members] = np.maximum(self.barred_until_s[network, members], until)
        self._latest_until_s[network] = max(self._latest_until_s[network], until)
        return until

    def needs_cac(self, slot: int) -> float:
        return float(self.domain.slot_cac_s[slot])

    def start_cac(self, network: int, ap: int, slot: int, now_s: float) -> float:
        until = now_s + self.needs_cac(slot)
        self.cac_until_s[network, ap] = until
        self.cac_slot[network, ap] = slot
        return until

    def in_cac(self, network: int, ap: int, now_s: float) -> bool:
        return bool(self.cac_until_s[network, ap] > now_s)

    def end_cac(self, network: int, ap: int) -> None:
        self.cac_until_s[network, ap] = -np.inf
        self.cac_slot[network, ap] = -1


class ComplianceMonitor:
    """Counts DFS and EIRP violations from simulated transmissions and ground-truth radar.

    Rules (FCC 15.407(h), ETSI EN 301 893): no transmission on a DFS channel before a
    completed CAC on it; after a radar pulse in its band an AP must stop transmitting
    there within the channel move time, transmitting no more than the channel closing
    transmission time (:data:`~rrm_gym.radio.regulatory.DFS_CLOSING_TIME_S`) meanwhile, and
    stay off for the non-occupancy period; EIRP within the sub-band limit. Every AP-second
    in breach counts once; each radar event whose closing transmission time is exceeded
    counts once in ``closing_violations``.

    Radar reported to the event loop (:meth:`note_radar`, an injected detection) counts as
    radar on every 20 MHz channel of the band the AP was using, as a simulated pulse does.

    What a 1 s tick cannot resolve: transmit time within the second of the pulse itself
    (the pulse may fall anywhere in it), so the closing transmission time counts the AP's
    airtime in the seconds after it; an AP still on the channel for a whole second after
    the pulse has used at least its beacons' and traffic's airtime of that second.
    """

    def __init__(self, sim: WirelessSimulation) -> None:
        b, n = sim.num_networks, sim.num_aps
        self.domain = sim.domain
        self._radar_members = SLOT_MEMBERS[sim._radar_slot]  # [R, C]
        self._radar_cover = sim._radar_cover  # [R, N]
        # A network that starts on a DFS channel is taken to have completed its CAC before t = 0.
        self._tuned_slot = sim.slot.copy()  # [B, N]
        self._cac_ok = np.ones((b, n), dtype=bool)
        self._silent_s = np.zeros((b, n))
        self._forbidden_from = np.full((b, n, _NUM_CHANNELS), np.inf)  # radar pulse + move time
        self._forbidden_until = np.full((b, n, _NUM_CHANNELS), -np.inf)
        # per network [B]; the totals below sum them
        self._cac_s = np.zeros(b, dtype=np.int64)
        self._non_occupancy_s = np.zeros(b, dtype=np.int64)
        self._eirp_s = np.zeros(b, dtype=np.int64)
        self._radar_hits = np.zeros(b, dtype=np.int64)
        self._closing_limit_s = DFS_CLOSING_TIME_S.get(sim.domain.name, min(DFS_CLOSING_TIME_S.values()))
        # open closing windows: [network, AP, channels [C] bool, pulse time, transmit time so far]
        self._closing: list[list] = []
        self._closing_violations = np.zeros(b, dtype=np.int64)
        self.closing_worst_s = 0.0  # the longest closing transmission time seen

    @property
    def cac_violation_s(self) -> int:
        return int(self._cac_s.sum())

    @property
    def non_occupancy_violation_s(self) -> int:
        return int(self._non_occupancy_s.sum())

    @property
    def eirp_violation_s(self) -> int:
        return int(self._eirp_s.sum())

    @property
    def radar_hits(self) -> int:
        return int(self._radar_hits.sum())

    @property
    def closing_violations(self) -> int:
        return int(self._closing_violations.sum())

    @property
    def dfs_violations(self) -> int:
        """AP-seconds of DFS breaches (transmitting without CAC, or on a radar channel after the move time)."""
        return self.cac_violation_s + self.non_occupancy_violation_s

    def counters(self) -> dict[str, int]:
        """Totals over all networks."""
        return {k: int(v.sum()) for k, v in self.counters_by_network().items()}

    def counters_by_network(self) -> dict[str, np.ndarray]:
        """The same counters per network, ``[B]`` int arrays (copies)."""
        return {
            "dfs_violations": self._cac_s + self._non_occupancy_s,
            "cac_violation_s": self._cac_s.copy(),
            "non_occupancy_violation_s": self._non_occupancy_s.copy(),
            "eirp_violations": self._eirp_s.copy(),
            "radar_hits": self._radar_hits.copy(),
            "closing_violations": self._closing_violations.copy(),
        }

    def note_radar(self, network: int, ap: int, channels: np.ndarray, pulse_s: float) -> None:
        """Radar reported by AP ``ap`` on ``channels`` (``[C]`` bool) at ``pulse_s``: the same
        obligations as a simulated pulse in its band."""
        self._radar_hits[network] += 1
        self._oblige(network, np.array([ap]), np.flatnonzero(channels), pulse_s)

    def _oblige(self, b: int, aps: np.ndarray, channels: np.ndarray, pulse_s: float) -> None:
        for ch in channels:
            self._forbidden_from[b, aps, ch] = pulse_s + DFS_CHANNEL_MOVE_TIME_S
            self._forbidden_until[b, aps, ch] = pulse_s + DFS_NON_OCCUPANCY_S
        band = np.zeros(_NUM_CHANNELS, dtype=bool)
        band[channels] = True
        self._closing.extend([b, int(ap), band, pulse_s, 0.0] for ap in aps)

    def _count_closing(self, s: Sensing, on_ch: np.ndarray, t: np.ndarray) -> None:
        """Airtime on a radar's channels in the seconds after its pulse, within the move time."""
        still_open = []
        for c in self._closing:
            b, ap, band, pulse_s, _ = c
            after = (t > pulse_s) & (t < pulse_s + DFS_CHANNEL_MOVE_TIME_S)
            on = (on_ch[b, ap] & band).any() and after.any()
            if on:
                c[4] += float(s.airtime_frac[b, after, ap][s.transmitting[b, after, ap]].sum())
            if t[-1] + 1 < pulse_s + DFS_CHANNEL_MOVE_TIME_S and on_ch[b, ap][band].any():
                still_open.append(c)
                continue
            self.closing_worst_s = max(self.closing_worst_s, c[4])
            if c[4] > self._closing_limit_s:
                self._closing_violations[b] += 1
        self._closing = still_open

    def observe(self, s: Sensing, slot: np.ndarray, power_dbm: np.ndarray) -> None:
        """Account one span during which the configuration was ``slot``, ``power_dbm`` ``[B, N]``."""
        ticks = s.ticks
        tx = s.transmitting  # [B, T, N]
        # Channel availability check: a retuned radio must listen for the CAC time first.
        retuned = slot != self._tuned_slot
        self._tuned_slot = slot.copy()
        self._silent_s[retuned] = 0.0
        self._cac_ok[retuned] = False
        cac_s = self.domain.slot_cac_s[slot]  # [B, N]
        silent_ticks = (~tx).sum(axis=1)  # [B, N]
        first_tx = np.where(tx.any(axis=1), tx.argmax(axis=1), ticks)  # [B, N]
        # silence before the first transmission of this span counts towards the CAC
        ready = (cac_s <= 0) | self._cac_ok | (self._silent_s + first_tx >= cac_s)
        self._cac_s += np.where(ready, 0, tx.sum(axis=1)).sum(axis=1)
        self._cac_ok |= ready & (first_tx < ticks)
        self._silent_s += silent_ticks

        # Transmitting on a channel in its move-time / non-occupancy window from an earlier pulse.
        t = s.t0_s + np.arange(ticks)  # [T]
        on_ch = SLOT_MEMBERS[slot]  # [B, N, C]
        self._count_forbidden(tx, on_ch, t)
        # New radar pulses in the band of an AP in range start its obligations.
        if s.radar_burst.shape[2] and s.radar_burst.any():
            for b, tick, r in zip(*np.nonzero(s.radar_burst), strict=True):
                hit = self._radar_cover[r] & (on_ch[b] & self._radar_members[r]).any(axis=1)  # [N]
                if not hit.any():
                    continue
                self._radar_hits[b] += int(hit.sum())
                pulse_s = t[tick]
                self._oblige(b, np.flatnonzero(hit), np.flatnonzero(self._radar_members[r]), float(pulse_s))
                # ticks of this same span past the move time
                late = t >= pulse_s + DFS_CHANNEL_MOVE_TIME_S
                if late.any():
                    self._non_occupancy_s[b] += int(tx[b][late][:, hit].sum())

        if self._closing:
            self._count_closing(s, on_ch, t)
        limit = self.domain.slot_max_eirp_dbm[slot]  # [B, N]
        self._eirp_s += np.where(power_dbm > limit + 1e-9, tx.sum(axis=1), 0).sum(axis=1)

    def _count_forbidden(self, tx: np.ndarray, on_ch: np.ndarray, t: np.ndarray) -> None:
        active = (self._forbidden_until > t[0]) & on_ch  # [B, N, C] obligations touching the current band
        if not active.any():
            return
        b_i, n_i, c_i = np.nonzero(active)
        start = self._forbidden_from[b_i, n_i, c_i]
        end = self._forbidden_until[b_i, n_i, c_i]
        in_window = (t[None, :] >= start[:, None]) & (t[None, :] < end[:, None])  # [P, T]
        breach = in_window & tx[b_i, :, n_i]
        # an AP with two barred channels in its band breaches once per second, not twice
        per_ap = np.zeros(tx.shape, dtype=bool)
        np.logical_or.at(per_ap, (b_i[:, None], np.arange(len(t))[None, :], n_i[:, None]), breach)
        self._non_occupancy_s += per_ap.sum(axis=(1, 2))
