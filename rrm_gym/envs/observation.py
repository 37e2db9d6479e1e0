"""Observations: what the controller sensed over the last period, as a flat-friendly Dict."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rrm_gym.radio.regulatory import SLOT_MEMBERS, RegulatoryDomain
from rrm_gym.safety import EventLoop
from rrm_gym.sim import Sensing

AP_FEATURES = (
    "channel",  # primary channel number / 165
    "band_5ghz",  # 1 for a 5 GHz radio
    "width",  # MHz / 160
    "power",  # position in the radio's [min, max] range
    "clients",  # associated clients / clients in the network
    "offered_load",  # log1p(Mb/s offered) / log(1001)
    "throughput",  # log1p(Mb/s served) / log(1001)
    "satisfaction",  # served / offered
    "cca_busy",  # mean over the period
    "cca_busy_max",
    "airtime",  # own transmit share
    "retry_rate",
    "nonwifi_duty",  # strongest detected non-Wi-Fi duty cycle in the period
    "on_dfs",  # 1 on a DFS channel
    "silent",  # 1 while the radio is off (channel availability check)
    "client_snr",  # mean SNR of its clients / 60 dB
    "client_snr_min",  # SNR of its weakest client / 60 dB
)
NUM_AP_FEATURES = len(AP_FEATURES)
# keys of the observation that describe the whole network, not one row per AP
NETWORK_KEYS = ("time_of_day", "channel_budget")
_LOG_MBPS = np.log(1001.0)
# up to this many [B, N, M, C] elements the channel scan is one dense max; beyond, the segmented
# max is faster (timed on office, residential and enterprise at B = 1 to 64)
DENSE_SCAN_MAX = 2_000


def scan_channels(domain: RegulatoryDomain) -> np.ndarray:
    """The 20 MHz channels of the ``channel_scan`` observation: every channel of the domain."""
    return np.asarray(domain.channels, dtype=np.int64)


def observation_space(num_aps: int, num_channels: int, channel_choices: int | None = None) -> spaces.Dict:
    """The observation ``Dict``; with ``channel_choices`` (the most channel choices of an AP) also
    ``current_channel``, each AP's current choice one-hot (:func:`current_channel_onehot`)."""
    entries = {
        "ap_features": spaces.Box(0.0, 1.0, (num_aps, NUM_AP_FEATURES), np.float32),
        "neighbor_rssi": spaces.Box(0.0, 1.0, (num_aps, num_aps), np.float32),
        "channel_scan": spaces.Box(0.0, 1.0, (num_aps, num_channels), np.float32),
        "time_of_day": spaces.Box(-1.0, 1.0, (2,), np.float32),
        "channel_budget": spaces.Box(0.0, 1.0, (1,), np.float32),
    }
    if channel_choices is not None:
        entries["current_channel"] = spaces.Box(0.0, 1.0, (num_aps, channel_choices), np.float32)
    return spaces.Dict(entries)


def current_channel_onehot(choice: np.ndarray, width: int) -> np.ndarray:
    """``[..., N, width]`` float32: 1 at each AP's current channel choice ``choice`` ``[..., N]``
    (the channel action that keeps the plan; -1, no choice, gives a row of zeros)."""
    choice = np.asarray(choice)
    out = np.zeros((*choice.shape, width), dtype=np.float32)
    np.put_along_axis(out, np.maximum(choice, 0)[..., None], (choice >= 0)[..., None].astype(np.float32), axis=-1)
    return out


def build_observation(loop: EventLoop, s: Sensing | None, network: int = 0) -> dict[str, np.ndarray]:
    """Observation of network ``network`` from the span ``s`` (``None`` before the first span)."""
    return {k: v[network] for k, v in build_observations(loop, s).items()}


def build_observations(loop: EventLoop, s: Sensing | None) -> dict[str, np.ndarray]:
    """Observations of all ``B`` networks at once: each entry has a leading ``[B]`` axis."""
    sim = loop.sim
    nb, n = sim.num_networks, sim.num_aps
    feats = np.zeros((nb, n, NUM_AP_FEATURES), dtype=np.float32)
    slot = sim.slot
    power = sim.power_dbm
    span = np.maximum(sim.ap_max_power_dbm - sim.ap_min_power_dbm, 1e-9)
    feats[..., 0] = sim.channel / 165.0
    feats[..., 1] = sim.ap_band_ghz == 5.0
    feats[..., 2] = sim.width_mhz / 160.0
    feats[..., 3] = (power - sim.ap_min_power_dbm) / span
    feats[..., 13] = sim.domain.slot_dfs[slot]
    feats[..., 14] = ~sim.tx_enabled
    rssi = np.zeros((nb, n, n), dtype=np.float32)
    channels = scan_channels(sim.domain)
    scan = np.zeros((nb, n, len(channels)), dtype=np.float32)
    if s is not None:
        offered = s.demand_mbps.mean(axis=1)
        served = s.throughput_mbps.mean(axis=1)
        feats[..., 4] = s.clients_per_ap / max(1, sim.num_clients)
        feats[..., 5] = np.log1p(offered) / _LOG_MBPS
        feats[..., 6] = np.log1p(served) / _LOG_MBPS
        feats[..., 7] = np.where(offered > 0, served / np.maximum(offered, 1e-9), 1.0)
        feats[..., 8] = s.cca_busy_frac.mean(axis=1)
        feats[..., 9] = s.cca_busy_frac.max(axis=1)
        feats[..., 10] = s.airtime_frac.mean(axis=1)
        feats[..., 11] = s.retry_rate.mean(axis=1)
        feats[..., 12] = s.nonwifi_duty_frac.max(axis=1)
        ap = s.client_ap  # [B, K]
        linked = ap >= 0
        cell = (np.arange(nb)[:, None] * n + np.maximum(ap, 0))[linked]  # (network, AP) of each linked client
        # an associated client's SNR is finite (NaN marks the unassociated)
        snr_sum = np.bincount(cell, s.client_snr_db[linked], minlength=nb * n).reshape(nb, n)
        count = np.bincount(cell, minlength=nb * n).reshape(nb, n)
        feats[..., 15] = np.where(count > 0, snr_sum / np.maximum(count, 1), 0.0) / 60.0
        snr = np.where(linked, s.client_snr_db, np.inf)
        snr_min = np.full(nb * n, np.inf)
        np.minimum.at(snr_min, (np.arange(nb)[:, None] * n + np.maximum(ap, 0)).ravel(), snr.ravel())
        snr_min = snr_min.reshape(nb, n)
        feats[..., 16] = np.where(np.isfinite(snr_min), snr_min, 0.0) / 60.0
        r = s.neighbor_rssi_dbm
        rssi = np.where(np.isfinite(r), (r + 100.0) / 70.0, 0.0).astype(np.float32)
        # off-channel scan: strongest unmanaged AP heard on each 20 MHz channel of its band
        if s.foreign_rssi_dbm.shape[2]:
            f = s.foreign_rssi_dbm  # [B, N, M]
            on = SLOT_MEMBERS[s.foreign_slot][:, channels]  # [M, C]
            if f.size * len(channels) <= DENSE_SCAN_MAX:  # small: one [B, N, M, C] max
                heard = np.where(np.isfinite(f)[..., None] & on, f[..., None], -np.inf).max(axis=2)
            else:
                # a segmented max over the (AP, channel) pairs, grouped by channel: no [B, N, M, C]
                ch, m = np.nonzero(on.T)  # pairs sorted by channel
                heard = np.full((nb, n, len(channels)), -np.inf)
                if len(m):
                    starts = np.flatnonzero(np.r_[True, ch[1:] != ch[:-1]])
                    fv = np.where(np.isfinite(f), f, -np.inf)[..., m]  # [B, N, P]
                    heard[..., ch[starts]] = np.maximum.reduceat(fv, starts, axis=2)
            scan = np.where(np.isfinite(heard), (heard + 100.0) / 70.0, 0.0).astype(np.float32)
    hour = sim.hour_of_day()
    angle = 2.0 * np.pi * hour / 24.0
    # the share of the network's APs that may still change channel now without being deferred
    budget = loop.shield.channel_changes_left(sim.time_s) / n
    return {
        "ap_features": np.clip(feats, 0.0, 1.0),
        "neighbor_rssi": np.clip(rssi, 0.0, 1.0),
        "channel_scan": np.clip(scan, 0.0, 1.0),
        "time_of_day": np.tile(np.array([np.sin(angle), np.cos(angle)], dtype=np.float32), (nb, 1)),
        "channel_budget": np.clip(budget, 0.0, 1.0).astype(np.float32)[:, None],
    }
