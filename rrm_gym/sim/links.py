"""Links and what the configuration makes of them: who hears whom (CCA), what each radio
reports of its neighbours, client association (band steering, sticky clients) and each
client's downlink and uplink.

Shapes: ``B`` networks, ``N`` managed APs, ``M`` neighbour APs, ``W = N + M`` transmitters,
``K`` clients, ``I`` interferers, ``R`` radars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rrm_gym.radio.phy import (
    GENERATIONS,
    MCS_SINR_THRESHOLD_DB,
    PER_SLOPE_PER_DB,
    generation_rate_table,
)
from rrm_gym.radio.propagation import frequency_loss_db, noise_floor_dbm
from rrm_gym.radio.regulatory import (
    CCA_ENERGY_DETECT_DBM,
    CCA_PREAMBLE_DETECT_DBM,
    OVERLAP,
    SLOT_BAND_GHZ,
    SLOT_CHANNEL,
    SLOT_FREQ_GHZ,
    SLOT_MEMBERS,
    SLOT_WIDTH_MHZ,
)
from rrm_gym.sim.sources import NEG_DB

MAC_EFFICIENCY = 0.7  # A-MPDU aggregation, block ack and contention overhead over the PHY rate
NEIGHBOR_REPORT_DBM = -90.0  # weakest neighbour AP a radio still reports (beacons, NDP)
NONWIFI_DETECT_DBM = -95.0  # spectrum-analysis sensitivity for non-Wi-Fi classification
# IEEE 802.11-2020 21.3.18.5.4: a Wi-Fi signal in a secondary channel at -72 dBm or more (20 MHz).
CCA_SECONDARY_DBM = -72.0
# A client associates where it decodes the AP's beacons (20 MHz, MCS 0: noise floor + MCS 0's
# SINR, about -90 dBm) and the AP decodes the client's frames just as well.
ASSOCIATION_DBM = float(noise_floor_dbm(20.0) + MCS_SINR_THRESHOLD_DB[0])
# A transmitter this far under the 20 MHz noise floor at a client changes its SINR by < 0.4 dB.
HIDDEN_NODE_FLOOR_DBM = float(noise_floor_dbm(20.0)) - 10.0

with np.errstate(divide="ignore"):
    OVERLAP_DB = np.maximum(10.0 * np.log10(OVERLAP), NEG_DB).astype(np.float32)
SLOT_FREQ_LOSS_DB = frequency_loss_db(SLOT_FREQ_GHZ)
SLOT_NOISE_DBM = noise_floor_dbm(SLOT_WIDTH_MHZ)
_SLOT_PER20_DB = 10.0 * np.log10(SLOT_WIDTH_MHZ / 20.0)  # power per 20 MHz below the total
# _DECODES[i, j]: j's band holds i's primary 20 MHz, so i decodes j's preamble (repeated in every
# 20 MHz of j's band); _INSIDE[i, j]: all of j's band lies within i's (j on i's secondary channels)
_DECODES = SLOT_MEMBERS[:, SLOT_CHANNEL.astype(int)].T
_INSIDE = ((SLOT_MEMBERS[None, :, :] & ~SLOT_MEMBERS[:, None, :]).sum(axis=2) == 0) & SLOT_MEMBERS.any(axis=1)
_WIDTH_INDEX = {20: 0, 40: 1, 80: 2, 160: 3}
SLOT_WIDTH_INDEX = np.array([_WIDTH_INDEX[int(w)] for w in SLOT_WIDTH_MHZ])
RATE_TABLE = generation_rate_table() * MAC_EFFICIENCY  # [G, widths, MCS] goodput of a clean frame, 1 SS
GEN_INDEX = {"ax": GENERATIONS.index("ax"), "ac": GENERATIONS.index("ac"), "n": GENERATIONS.index("n"), "n24": 0}


# 9 exp(-slope threshold) of each MCS: packet_error_rate's 9 exp(slope (sinr - threshold)) is
# exp(slope sinr) (per_exponent) times this
PER_FACTOR = 9.0 * np.exp(-PER_SLOPE_PER_DB * MCS_SINR_THRESHOLD_DB)


def per_exponent(sinr_db: np.ndarray) -> np.ndarray:
    """``exp(slope sinr)``: the frame error at MCS ``m`` is ``1 / (1 + this * PER_FACTOR[m])``."""
    with np.errstate(over="ignore"):
        return np.exp(PER_SLOPE_PER_DB * np.asarray(sinr_db, dtype=float))


def per_all_mcs(sinr_db: np.ndarray) -> np.ndarray:
    """``[..., MCS]`` frame error at every MCS (:func:`rrm_gym.radio.phy.packet_error_rate`), with
    one exponential per SINR instead of one per MCS: the same to rounding, and beyond the margins
    (50 / slope dB) where ``packet_error_rate`` clips, 0 or 1 to within 1e-21 as there."""
    return 1.0 / (1.0 + per_exponent(sinr_db)[..., None] * PER_FACTOR)


def success_all_mcs(sinr_db: np.ndarray) -> np.ndarray:
    """``[..., MCS]`` an attempt's success at every MCS, ``1 - per_all_mcs``, worked out as
    ``1 / (1 + 1 / x)`` (``x = per_exponent * PER_FACTOR``) so that a small chance keeps its digits."""
    x = per_exponent(sinr_db)[..., None] * PER_FACTOR
    with np.errstate(divide="ignore"):
        return 1.0 / (1.0 + 1.0 / x)


@dataclass(frozen=True)
class RadioState:
    """What follows from the AP configuration alone (kept until a setter runs)."""

    slot: np.ndarray  # [B, W]
    tx_eff: np.ndarray  # [B, W] transmit power less the frequency term of path loss (NEG_DB: off)
    ov_db: np.ndarray  # [B, W, W] share of j's power in i's band, dB
    hears: np.ndarray  # [B, W, W] i defers to j (CCA)
    neighbor_rssi_dbm: np.ndarray  # [B, N, N]
    foreign_rssi_dbm: np.ndarray  # [B, N, M]
    radar_on: np.ndarray  # [B, R, N] the AP's band covers the radar channel and it is in range
    if_ed: np.ndarray  # [B, I, N] duty of interferer energy above energy detect
    if_conf: np.ndarray  # [B, I, N] classifier confidence when the interferer is on
    if_duty_seen: np.ndarray  # [B, I, N]
    ap_noise_dbm: np.ndarray  # [B, N] noise floor of each AP's channel
    ap_freq_loss_db: np.ndarray  # [B, N]
    ap_width_index: np.ndarray  # [B, N] 0..3 for 20..160 MHz
    ap_if_db: np.ndarray  # [B, N, I] share of each interferer's power in the AP's band, dB
    ap_if_duty: np.ndarray  # [B, N, I] and its duty there


def radio_state(
    slot: np.ndarray,
    power_dbm: np.ndarray,
    tx_on: np.ndarray,
    pl_tt: np.ndarray,
    band_ghz: np.ndarray,
    n: int,
    radar_slot: np.ndarray,
    radar_cover: np.ndarray,
    if_power_dbm: np.ndarray,
    pl_if_ap: np.ndarray,
    if_band_db: np.ndarray,
    if_band_duty: np.ndarray,
) -> RadioState:
    """The :class:`RadioState` of a configuration: ``slot``, ``power_dbm``, ``tx_on`` ``[B, W]``, the
    transmitters' path loss ``pl_tt`` ``[B, W, W]`` and the managed APs' bands ``band_ghz`` ``[N]``."""
    w = slot.shape[1]
    tx_eff = np.where(tx_on, power_dbm - SLOT_FREQ_LOSS_DB[slot], NEG_DB).astype(np.float32)  # [B, W]
    ov_db = OVERLAP_DB[slot[:, None, :], slot[:, :, None]]  # [B, W(i), W(j)]
    rx_full = tx_eff[:, None, :] - pl_tt  # j's power at i, all of it
    rx_in = rx_full + ov_db  # in i's band
    # i defers to j when it decodes j's preamble in its primary 20 MHz, when j sits in i's
    # secondary channels above the secondary CCA level, or when j's energy in i's band exceeds
    # energy detect
    si, sj = slot[:, :, None], slot[:, None, :]
    per20_db = rx_full - _SLOT_PER20_DB[sj]
    hears = (_DECODES[si, sj] & (per20_db >= CCA_PREAMBLE_DETECT_DBM)) | (rx_in >= CCA_ENERGY_DETECT_DBM)
    hears |= _INSIDE[si, sj] & (rx_full >= CCA_SECONDARY_DBM)
    hears[:, np.arange(w), np.arange(w)] = False
    same_band = band_ghz[:, None] == band_ghz[None, :]
    near = rx_full[:, :n, :n]
    nbr = np.where(same_band & (near >= NEIGHBOR_REPORT_DBM), near, np.nan)
    nbr[:, np.arange(n), np.arange(n)] = np.nan
    fb = rx_full[:, :n, n:]
    fband = band_ghz[:, None] == SLOT_BAND_GHZ[slot[:, n:]][:, None, :]
    ap_slot = slot[:, :n]
    radar_on = SLOT_MEMBERS[ap_slot[:, None, :], SLOT_CHANNEL[radar_slot][None, :, None]]  # [B, R, N]
    if_rx_ap = (if_power_dbm[:, None] - pl_if_ap) - SLOT_FREQ_LOSS_DB[ap_slot][:, None, :]
    if_rx_ap = if_rx_ap + if_band_db[:, ap_slot].transpose(1, 0, 2)  # [B, I, N]
    duty_ap = if_band_duty[:, ap_slot].transpose(1, 0, 2)
    seen = if_rx_ap >= NONWIFI_DETECT_DBM
    return RadioState(
        slot=slot,
        tx_eff=tx_eff,
        ov_db=ov_db,
        hears=hears,
        neighbor_rssi_dbm=nbr,
        foreign_rssi_dbm=np.where(fband & (fb >= NEIGHBOR_REPORT_DBM), fb, np.nan),
        radar_on=radar_on & radar_cover,
        if_ed=np.where(if_rx_ap >= CCA_ENERGY_DETECT_DBM, duty_ap, 0.0),
        if_conf=np.where(seen, np.clip((if_rx_ap - NONWIFI_DETECT_DBM) / 20.0, 0.0, 1.0), 0.0),
        if_duty_seen=np.where(seen, duty_ap, 0.0),
        ap_noise_dbm=SLOT_NOISE_DBM[ap_slot],
        ap_freq_loss_db=SLOT_FREQ_LOSS_DB[ap_slot],
        ap_width_index=SLOT_WIDTH_INDEX[ap_slot],
        ap_if_db=if_band_db[:, ap_slot].transpose(1, 2, 0),
        ap_if_duty=if_band_duty[:, ap_slot].transpose(1, 2, 0),
    )


def associate(
    prev: np.ndarray,
    dl_dbm: np.ndarray,
    ul_dbm: np.ndarray,
    band5: np.ndarray,
    dual_band: np.ndarray,
    steer_dbm: float,
    trigger_dbm: float,
    hysteresis_db: float,
) -> np.ndarray:
    """Each client's AP ``[B, K]`` (``-1``: none) given its previous one ``prev``.

    ``dl_dbm`` ``[B, K, N]`` the AP's signal at the client, ``ul_dbm`` the client's at the AP;
    ``band5`` ``[N]`` the 5 GHz radios; ``dual_band`` ``[B, K]`` clients that can use 5 GHz. A
    client can use an AP when each decodes the other (:data:`ASSOCIATION_DBM`). A client stays
    with its AP while it can and the signal is at least ``trigger_dbm`` (sticky clients); else it
    picks the strongest AP it can use, steered to 5 GHz when it is dual-band and hears a 5 GHz AP
    at ``steer_dbm`` or more, and moves from an AP it can still use only for ``hysteresis_db``
    more. Applying it to its own result changes nothing."""
    usable = (dl_dbm >= ASSOCIATION_DBM) & (ul_dbm >= ASSOCIATION_DBM)  # [B, K, N]
    usable &= dual_band[..., None] | ~band5  # 2.4 GHz-only clients
    score = np.where(usable, dl_dbm, -np.inf)
    steer = dual_band & (np.where(band5, score, -np.inf).max(axis=2, initial=-np.inf) >= steer_dbm)
    pick_score = np.where(steer[..., None] & ~band5, -np.inf, score)
    best = pick_score.argmax(axis=2)
    best_ok = np.isfinite(np.take_along_axis(pick_score, best[..., None], axis=2)[..., 0])
    a = np.maximum(prev, 0)
    cur = np.take_along_axis(score, a[..., None], axis=2)[..., 0]
    cur_ok = (prev >= 0) & np.isfinite(cur)
    best_any = np.take_along_axis(score, best[..., None], axis=2)[..., 0]
    stay = cur_ok & ((cur >= trigger_dbm) | (best_any < cur + hysteresis_db))
    return np.where(stay, prev, np.where(best_ok, best, -1))


def generation_of(capabilities: dict[str, float], rng: np.random.Generator, shape: tuple[int, int]) -> tuple:
    """Draw each client's generation: ``(gen [B, K] index into GENERATIONS, dual_band [B, K])``."""
    names = list(capabilities)
    share = np.array([capabilities[c] for c in names], dtype=float)
    pick = rng.choice(len(names), size=shape, p=share / share.sum())
    gen = np.array([GEN_INDEX[c] for c in names])[pick]
    dual = np.array([c != "n24" for c in names])[pick]
    return gen, dual


def best_mcs(sinr_db: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """MCS rate adaptation settles on at ``sinr_db`` ``[...]``: the highest expected goodput
    ``rate(m) (1 - PER(m))`` over the MCS a client can use (``rate`` ``[..., MCS]``, 0 where not)."""
    good = rate * success_all_mcs(sinr_db)
    return good.argmax(axis=-1)
