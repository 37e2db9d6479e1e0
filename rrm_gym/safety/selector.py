"""Channel selector for moves the event loop makes on its own (radar, interference, saturation)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rrm_gym.radio.regulatory import SHARED, SLOT_MEMBERS, SLOT_WIDTH_MHZ, SLOTS
from rrm_gym.sim import Sensing


@dataclass(frozen=True)
class SelectorWeights:
    """Cost terms, in 'dB-like' points; the lowest total wins."""

    cac_per_minute: float = 6.0  # a DFS channel costs a silent CAC minute by minute
    neighbor_per_ap: float = 4.0  # each managed AP heard on an overlapping channel, scaled by its RSSI
    foreign_per_ap: float = 6.0  # unmanaged APs weigh more: they will not move
    cca_busy: float = 20.0  # per unit of CCA busy measured by managed APs already there
    nonwifi: float = 40.0  # non-Wi-Fi energy seen on the channel recently
    width_loss_per_halving: float = 5.0  # prefer keeping the width


class ChannelSelector:
    """Multi-criteria choice of a new slot from what the network sensed (never hidden state)."""

    def __init__(self, weights: SelectorWeights | None = None, nonwifi_memory_s: float = 3600.0) -> None:
        self.weights = weights or SelectorWeights()
        self.nonwifi_memory_s = nonwifi_memory_s
        self._nonwifi_seen_s: dict[tuple[int, int], float] = {}  # (network, channel) -> last seen

    def note_nonwifi(self, network: int, slot: int, now_s: float) -> None:
        for ch in SLOTS[slot].members:
            self._nonwifi_seen_s[(network, ch)] = now_s

    def costs(
        self,
        network: int,
        ap: int,
        candidates: np.ndarray,
        slots_now: np.ndarray,
        sensing: Sensing | None,
        cac_s: np.ndarray,
        now_s: float,
    ) -> np.ndarray:
        """Cost of each slot (``inf`` where not a candidate) for AP ``ap``; ``slots_now`` ``[N]``."""
        w = self.weights
        cost = np.where(candidates, 0.0, np.inf)
        cost = cost + w.cac_per_minute * cac_s / 60.0
        cur_width = SLOT_WIDTH_MHZ[slots_now[ap]]
        cost = cost + w.width_loss_per_halving * np.log2(np.maximum(cur_width / SLOT_WIDTH_MHZ, 1.0))
        if sensing is not None:
            rssi = sensing.neighbor_rssi_dbm[network, ap]  # [N], NaN where not heard
            heard = np.isfinite(rssi)
            # weight: 1 at -60 dBm or louder, falling to 0 at -90 dBm
            strength = np.clip((np.nan_to_num(rssi, nan=-200.0) + 90.0) / 30.0, 0.0, 1.0)
            shares = SHARED[slots_now] > 0  # [N, S]: neighbour j overlaps each candidate
            cost = cost + w.neighbor_per_ap * ((strength * heard)[:, None] * shares).sum(axis=0)
            if sensing.foreign_rssi_dbm.shape[2]:
                f_rssi = sensing.foreign_rssi_dbm[network, ap]
                f_strength = np.clip((np.nan_to_num(f_rssi, nan=-200.0) + 90.0) / 30.0, 0.0, 1.0)
                f_members = SLOT_MEMBERS[:, sensing.foreign_channel]  # [S, M]
                cost = cost + w.foreign_per_ap * (f_members * f_strength).sum(axis=1)
            cca = sensing.cca_busy_frac[network].mean(axis=0)  # [N]
            on_slot = SHARED[slots_now] > 0  # [N, S]
            on_slot[ap] = False
            cost = cost + w.cca_busy * np.where(on_slot, cca[:, None], 0.0).max(axis=0, initial=0.0)
        recent = self._nonwifi_seen_s.items()
        polluted = [ch for (b, ch), t in recent if b == network and now_s - t < self.nonwifi_memory_s]
        if polluted:
            cost = cost + w.nonwifi * SLOT_MEMBERS[:, polluted].any(axis=1)
        return cost
