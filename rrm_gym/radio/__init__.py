"""Pure, vectorized radio physics: bands and regulation, path loss, PHY rates."""

from rrm_gym.radio.phy import (
    HE_RATE_20MHZ_1SS_MBPS,
    MCS_SINR_THRESHOLD_DB,
    mcs_index,
    packet_error_rate,
    phy_rate_mbps,
    rate_for_mcs_mbps,
)
from rrm_gym.radio.propagation import frequency_loss_db, geometric_loss_db, noise_floor_dbm, path_loss_db
from rrm_gym.radio.regulatory import (
    CCA_ENERGY_DETECT_DBM,
    CCA_PREAMBLE_DETECT_DBM,
    DOMAINS,
    ETSI,
    FCC,
    OVERLAP,
    SLOTS,
    RegulatoryDomain,
    bonding_group,
    channel_center_mhz,
    channel_overlap,
    slot_index,
)

__all__ = [
    "CCA_ENERGY_DETECT_DBM",
    "CCA_PREAMBLE_DETECT_DBM",
    "DOMAINS",
    "ETSI",
    "FCC",
    "HE_RATE_20MHZ_1SS_MBPS",
    "MCS_SINR_THRESHOLD_DB",
    "OVERLAP",
    "SLOTS",
    "RegulatoryDomain",
    "bonding_group",
    "channel_center_mhz",
    "channel_overlap",
    "frequency_loss_db",
    "geometric_loss_db",
    "mcs_index",
    "noise_floor_dbm",
    "packet_error_rate",
    "path_loss_db",
    "phy_rate_mbps",
    "rate_for_mcs_mbps",
    "slot_index",
]
