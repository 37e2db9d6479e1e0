"""Radio physics: path loss, noise, channel overlap, HE PHY rates, packet error, regulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rrm_gym.radio import (
    ETSI,
    FCC,
    HE_RATE_20MHZ_1SS_MBPS,
    MCS_SINR_THRESHOLD_DB,
    OVERLAP,
    channel_overlap,
    mcs_index,
    noise_floor_dbm,
    packet_error_rate,
    path_loss_db,
    phy_rate_mbps,
)
from rrm_gym.radio.regulatory import SHARED, mask_dbr, slot_index

F_CH36_GHZ = 5.18  # centre of 5 GHz channel 36, the TGax reference frequency

# ----------------------------------------------------------------------------- path loss


@pytest.mark.parametrize(
    ("distance_m", "expected_db"),
    [
        # IEEE 802.11-14/0980r16 (TGax simulation scenarios), SS2 enterprise model at 5.18 GHz:
        # 40.05 + 20 log10(5.18/2.4) + 20 log10(10) = 66.7 dB; + 35 log10(20/10) = 77.3 dB.
        (10.0, 66.7),
        (20.0, 77.3),
    ],
)
def test_enterprise_path_loss_matches_tgax_reference(distance_m, expected_db):
    assert path_loss_db(distance_m, F_CH36_GHZ) == pytest.approx(expected_db, abs=0.05)


def test_each_wall_adds_seven_db_in_the_enterprise_model():
    # IEEE 802.11-14/0980r16 SS2: 7 dB per wall.
    base = path_loss_db(15.0, F_CH36_GHZ)
    for walls in (1, 2, 5):
        assert path_loss_db(15.0, F_CH36_GHZ, walls=walls) - base == pytest.approx(7.0 * walls)


def test_each_wall_adds_five_db_in_the_residential_model():
    # IEEE 802.11-14/0980r16 SS1: 5 dB per wall.
    base = path_loss_db(8.0, F_CH36_GHZ, model="residential")
    assert path_loss_db(8.0, F_CH36_GHZ, walls=3, model="residential") - base == pytest.approx(15.0)


def test_residential_breakpoint_is_five_metres_and_enterprise_ten():
    # IEEE 802.11-14/0980r16: breakpoint distance 5 m (SS1 residential) and 10 m (SS2 enterprise);
    # below it the slope is 20 dB/decade (free space), beyond it 35 dB/decade.
    def res(d):
        return float(path_loss_db(d, F_CH36_GHZ, model="residential"))

    def ent(d):
        return float(path_loss_db(d, F_CH36_GHZ, model="enterprise"))

    assert res(5.0) - res(2.5) == pytest.approx(20 * np.log10(2))
    assert res(10.0) - res(5.0) == pytest.approx(35 * np.log10(2))
    assert ent(10.0) - ent(5.0) == pytest.approx(20 * np.log10(2))
    assert ent(20.0) - ent(10.0) == pytest.approx(35 * np.log10(2))
    # same free-space part up to 5 m
    assert res(4.0) == pytest.approx(ent(4.0))


def test_one_floor_adds_18_3_db_in_the_residential_model():
    # IEEE 802.11-14/0980r16 SS1: 18.3 F^((F+2)/(F+1) - 0.46) dB for F floors; F = 1 gives 18.3 dB.
    one = path_loss_db(7.0, F_CH36_GHZ, model="residential", floors=1)
    assert one - path_loss_db(7.0, F_CH36_GHZ, model="residential") == pytest.approx(18.3)


def test_path_loss_is_clamped_at_one_metre():
    assert path_loss_db(0.0, F_CH36_GHZ) == pytest.approx(path_loss_db(1.0, F_CH36_GHZ))


def test_path_loss_rises_6_db_from_2_4_to_4_8_ghz():
    # 20 log10(fc / 2.4 GHz) frequency term: doubling the frequency adds 20 log10(2) = 6.02 dB.
    assert path_loss_db(12.0, 4.8) - path_loss_db(12.0, 2.4) == pytest.approx(20 * np.log10(2))


def test_unknown_path_loss_model_is_a_value_error():
    with pytest.raises(ValueError, match="unknown path-loss model"):
        path_loss_db(10.0, 5.0, model="outdoor")


def test_path_loss_broadcasts_over_arrays():
    d = np.array([[5.0], [10.0], [20.0]])
    walls = np.array([0, 1])
    out = path_loss_db(d, F_CH36_GHZ, walls=walls)
    assert out.shape == (3, 2)
    assert out[1, 1] == pytest.approx(66.7 + 7.0, abs=0.05)


@settings(max_examples=50, deadline=None)
@given(
    d1=st.floats(0.0, 500.0),
    extra=st.floats(0.0, 500.0),
    freq=st.floats(2.4, 6.0),
    walls=st.integers(0, 6),
    floors=st.integers(0, 3),
    model=st.sampled_from(["enterprise", "residential"]),
)
def test_more_distance_never_lowers_path_loss(d1, extra, freq, walls, floors, model):
    near = path_loss_db(d1, freq, walls=walls, model=model, floors=floors)
    far = path_loss_db(d1 + extra, freq, walls=walls, model=model, floors=floors)
    assert far >= near - 1e-9


@settings(max_examples=30, deadline=None)
@given(
    d=st.floats(0.0, 300.0),
    freq=st.floats(2.4, 6.0),
    walls=st.integers(0, 6),
    model=st.sampled_from(["enterprise", "residential"]),
)
def test_more_walls_never_lower_path_loss(d, freq, walls, model):
    assert path_loss_db(d, freq, walls=walls + 1, model=model) > path_loss_db(d, freq, walls=walls, model=model)


# ----------------------------------------------------------------------------- noise


def test_noise_floor_is_about_minus_94_dbm_at_20_mhz():
    # -174 dBm/Hz + 10 log10(20 MHz) = -101 dBm, + 7 dB noise figure = -94 dBm.
    assert noise_floor_dbm(20) == pytest.approx(-94.0, abs=0.05)


def test_noise_floor_rises_3_db_per_bandwidth_doubling():
    floors = noise_floor_dbm(np.array([20, 40, 80, 160]))
    assert np.diff(floors) == pytest.approx([10 * np.log10(2)] * 3)


def test_noise_figure_adds_to_the_noise_floor():
    assert noise_floor_dbm(20, noise_figure_db=10.0) - noise_floor_dbm(20) == pytest.approx(3.0)


# ----------------------------------------------------------------------------- channel overlap


def _db(x: float) -> float:
    return 10.0 * np.log10(x)


@pytest.mark.parametrize(("a", "b"), [(1, 6), (6, 11), (6, 1), (11, 6)])
def test_2_4_ghz_channels_1_6_11_leak_about_minus_30_db_into_each_other(a, b):
    # 802.11 OFDM transmit mask (IEEE 802.11-2020 17.3.9.3): channels 25 MHz apart sit on the
    # -20..-40 dBr skirt of each other's mask
    assert -32.0 < _db(channel_overlap(a, b)) < -28.0


def test_2_4_ghz_channels_farther_apart_leak_less():
    assert _db(channel_overlap(1, 11)) < _db(channel_overlap(1, 6)) - 10.0
    # centres 5 MHz apart share most of their power; the farther apart, the less
    assert 0.6 < channel_overlap(1, 2) < 0.9
    assert channel_overlap(1, 4) < channel_overlap(1, 3) < channel_overlap(1, 2)


@pytest.mark.parametrize("channel", [1, 6, 11, 13, 36, 100, 165])
def test_a_channel_keeps_nearly_all_its_power_in_its_own_band(channel):
    # the mask's skirts carry about 1 % of the power outside the nominal band
    assert 0.98 < channel_overlap(channel, channel) < 1.0
    assert SHARED[slot_index(channel), slot_index(channel)] == 1.0


def test_a_bonded_channel_overlaps_its_member_20_mhz_channels():
    # a 40 MHz transmitter puts about half its power in each member, an 80 MHz one a quarter
    for member in (36, 40):
        assert channel_overlap((36, 40), member) == pytest.approx(0.5, abs=0.02)
    for member in (36, 40, 44, 48):
        assert channel_overlap((36, 80), member) == pytest.approx(0.25, abs=0.02)
        assert channel_overlap(member, (36, 80)) > 0.98
    # the same 80 MHz group with a different primary channel occupies the same spectrum
    assert channel_overlap((44, 80), (36, 80)) == pytest.approx(channel_overlap((36, 80), (36, 80)))
    # next to the group: leakage only
    assert _db(channel_overlap((36, 40), 44)) < -20.0
    assert _db(channel_overlap((36, 80), 52)) < -20.0


def test_adjacent_5_ghz_channels_leak_through_the_mask_and_farther_ones_do_not():
    assert -26.0 < _db(channel_overlap(36, 40)) < -20.0  # -20 dBr at +-11 MHz, -28 dBr at +-20 MHz
    assert _db(channel_overlap(36, 44)) < -35.0
    assert channel_overlap(36, 149) == 0.0
    assert SHARED[slot_index(36), slot_index(40)] == 0.0  # not co-channel for a channel plan


def test_the_mask_follows_the_standard_at_its_corner_points():
    assert mask_dbr(np.array([0.0, 9.0, 11.0, 20.0, 30.0, 45.0]), 20).tolist() == [0, 0, -20, -28, -40, -40]
    assert mask_dbr(np.array([19.0, 21.0, 40.0, 60.0]), 40).tolist() == [0, -20, -28, -40]
    assert mask_dbr(np.array([51.0]), 20)[0] == -np.inf  # past the leakage counted


@pytest.mark.parametrize(("a", "b"), [(36, 1), (6, 36), (11, 149), ((36, 80), 6), (13, (100, 160))])
def test_5_ghz_and_2_4_ghz_channels_do_not_overlap(a, b):
    assert channel_overlap(a, b) == 0.0


def test_overlap_matrix_holds_fractions():
    assert OVERLAP.min() >= 0.0
    assert OVERLAP.max() <= 1.0
    assert not OVERLAP.flags.writeable


def test_overlap_of_a_channel_that_does_not_exist_is_a_value_error():
    with pytest.raises(ValueError):
        channel_overlap(14, 1)
    with pytest.raises(ValueError):
        channel_overlap((165, 40), 165)


# ----------------------------------------------------------------------------- PHY rate and PER


@pytest.mark.parametrize(
    ("width_mhz", "expected_mbps"),
    [
        # IEEE 802.11ax-2021 Tables 27-64ff, HE-MCS 11, 1 SS, 0.8 us GI.
        (20, 143.4),
        (40, 286.8),
        (80, 600.5),
        (160, 1201.0),
    ],
)
def test_he_rate_at_high_sinr_is_mcs_11(width_mhz, expected_mbps):
    assert phy_rate_mbps(50.0, width_mhz) == pytest.approx(expected_mbps, rel=1e-3)


@pytest.mark.parametrize("nss", [1, 2, 3, 4, 8])
def test_he_rate_scales_with_spatial_streams(nss):
    assert phy_rate_mbps(50.0, 20, nss) == pytest.approx(143.4 * nss)
    assert phy_rate_mbps(50.0, 40, nss) == pytest.approx(286.8 * nss)


def test_he_20_mhz_rate_table_matches_the_standard():
    # IEEE 802.11ax-2021 Table 27-64 (HE-SU, 20 MHz, 1 SS, 0.8 us GI), MCS 0..11.
    expected = [8.6, 17.2, 25.8, 34.4, 51.6, 68.8, 77.4, 86.0, 103.2, 114.7, 129.0, 143.4]
    assert HE_RATE_20MHZ_1SS_MBPS.tolist() == expected


def test_mcs_thresholds_follow_the_he_sensitivity_table():
    # IEEE 802.11ax-2021 Table 27-51: MCS 0 sensitivity -82 dBm at 20 MHz with a 10 dB noise figure and
    # 5 dB implementation margin: SINR = -82 - (-174 + 73 + 10 + 5) = 4 dB; MCS 11 at -52 dBm: 34 dB.
    assert MCS_SINR_THRESHOLD_DB[0] == pytest.approx(4.0, abs=0.05)
    assert MCS_SINR_THRESHOLD_DB[11] == pytest.approx(34.0, abs=0.05)
    assert np.all(np.diff(MCS_SINR_THRESHOLD_DB) > 0)


def test_rate_is_zero_below_the_mcs_0_threshold():
    t0 = MCS_SINR_THRESHOLD_DB[0]
    assert mcs_index(t0 - 0.01) == -1
    assert phy_rate_mbps(t0 - 0.01, 20) == 0.0
    assert phy_rate_mbps(-20.0, 80, 4) == 0.0
    assert mcs_index(t0) == 0
    assert phy_rate_mbps(t0, 20) == pytest.approx(8.6)


def test_each_mcs_is_selected_from_its_own_threshold():
    for m, threshold in enumerate(MCS_SINR_THRESHOLD_DB):
        assert mcs_index(threshold + 1e-6) == m
        assert phy_rate_mbps(threshold + 1e-6, 20) == pytest.approx(HE_RATE_20MHZ_1SS_MBPS[m])


def test_mcs_index_reads_nan_as_no_link():
    # a NaN SINR (no link) must not read as a perfect one
    assert mcs_index(np.array([np.nan, 50.0, -10.0])).tolist() == [-1, 11, -1]


@settings(max_examples=50, deadline=None)
@given(
    s1=st.floats(-30.0, 70.0),
    gain=st.floats(0.0, 40.0),
    width=st.sampled_from([20, 40, 80, 160]),
    nss=st.integers(1, 8),
)
def test_phy_rate_is_non_decreasing_in_sinr(s1, gain, width, nss):
    assert phy_rate_mbps(s1 + gain, width, nss) >= phy_rate_mbps(s1, width, nss)


def test_per_is_ten_percent_at_each_mcs_threshold():
    # The HE receiver sensitivity is defined at 10 % PER (IEEE 802.11ax-2021 27.3.19.2).
    mcs = np.arange(len(MCS_SINR_THRESHOLD_DB))
    assert packet_error_rate(MCS_SINR_THRESHOLD_DB, mcs) == pytest.approx(np.full(len(mcs), 0.1))


def test_per_falls_above_the_threshold_and_rises_below_it():
    for m, threshold in enumerate(MCS_SINR_THRESHOLD_DB):
        sinr = threshold + np.array([-4.0, -2.0, 0.0, 2.0, 4.0, 8.0])
        per = packet_error_rate(sinr, m)
        assert np.all(np.diff(per) < 0)
        assert per[3] < 0.02  # about a decade per 2 dB above the threshold
        assert per[-1] < 1e-3
        assert per[0] > 0.5


@settings(max_examples=30, deadline=None)
@given(s1=st.floats(-30.0, 70.0), gain=st.floats(0.0, 30.0), mcs=st.integers(0, 11))
def test_per_is_non_increasing_in_sinr(s1, gain, mcs):
    assert packet_error_rate(s1 + gain, mcs) <= packet_error_rate(s1, mcs)


def test_per_without_a_usable_mcs_is_one():
    assert packet_error_rate(60.0, -1) == 1.0


# ----------------------------------------------------------------------------- regulation


def test_fcc_dfs_channels_are_u_nii_2a_and_2c():
    # 47 CFR 15.407(h): U-NII-2A 52-64 and U-NII-2C 100-144 need DFS.
    assert FCC.dfs_channels == frozenset({52, 56, 60, 64, *range(100, 145, 4)})
    for ch in (36, 40, 44, 48, 149, 153, 157, 161, 165, 1, 6, 11):
        assert not FCC.is_dfs(ch)
    for ch in (52, 64, 100, 120, 144):
        assert FCC.is_dfs(ch)


def test_etsi_weather_channels_need_a_ten_minute_cac():
    # ETSI EN 301 893 4.2.6: 600 s CAC on 5600-5650 MHz (channels 120-128), 60 s on other DFS channels.
    assert ETSI.weather_channels == frozenset({120, 124, 128})
    for ch in (120, 124, 128):
        assert ETSI.cac_s(ch) == 600.0
    for ch in (52, 56, 60, 64, 100, 104, 108, 112, 116, 132, 136, 140):
        assert ETSI.cac_s(ch) == 60.0
    for ch in (36, 40, 44, 48, 1, 13):
        assert ETSI.cac_s(ch) == 0.0


def test_a_bonded_channel_takes_the_longest_cac_of_its_members():
    # 116+120 at 40 MHz includes weather channel 120; 36-64 at 160 MHz includes DFS channels 52-64.
    assert ETSI.cac_s(116, 40) == 600.0
    assert ETSI.cac_s(36, 160) == 60.0
    assert FCC.is_dfs(36, 160)
    assert not FCC.is_dfs(36, 80)


def test_fcc_cac_is_60_s_on_every_dfs_channel():
    # 47 CFR 15.407 / KDB 905462: 60 s channel availability check; no weather-radar extension modelled.
    assert FCC.cac_s(120) == 60.0
    assert FCC.cac_s(52) == 60.0
    assert FCC.cac_s(149) == 0.0


def test_etsi_does_not_allow_channel_144_and_fcc_does():
    assert not ETSI.allows(144)
    assert not ETSI.allows(140, 40)  # 140+144
    assert not ETSI.allows(132, 80)  # 132-144
    assert ETSI.allows(140)
    assert FCC.allows(144)
    assert FCC.allows(132, 80)


def test_2_4_ghz_channels_per_domain():
    # FCC 47 CFR 15.247: channels 1-11; ETSI EN 300 328: 1-13; channel 14 nowhere here.
    assert [c for c in range(1, 15) if FCC.allows(c)] == list(range(1, 12))
    assert [c for c in range(1, 15) if ETSI.allows(c)] == list(range(1, 14))
    assert not FCC.allows(1, 40)


def test_u_nii_3_is_fcc_only():
    for ch in (149, 153, 157, 161, 165):
        assert FCC.allows(ch)
        assert not ETSI.allows(ch)


def test_eirp_limits_per_sub_band():
    # FCC 47 CFR 15.407: U-NII-1 and U-NII-3 36 dBm (4 W) EIRP, U-NII-2A/2C 30 dBm (1 W).
    assert FCC.max_eirp_dbm(36) == 36.0
    assert FCC.max_eirp_dbm(48) == 36.0
    assert FCC.max_eirp_dbm(52) == 30.0
    assert FCC.max_eirp_dbm(64) == 30.0
    assert FCC.max_eirp_dbm(100) == 30.0
    assert FCC.max_eirp_dbm(149) == 36.0
    # ETSI EN 301 893: 5150-5350 MHz (36-64) 23 dBm; 5470-5725 MHz 30 dBm. EN 300 328: 2.4 GHz 20 dBm.
    for ch in (36, 48, 52, 64):
        assert ETSI.max_eirp_dbm(ch) == 23.0
    assert ETSI.max_eirp_dbm(100) == 30.0
    assert ETSI.max_eirp_dbm(6) == 20.0


def test_a_bonded_channel_takes_the_strictest_eirp_limit_of_its_members():
    assert FCC.max_eirp_dbm(36, 80) == 36.0
    assert FCC.max_eirp_dbm(36, 160) == 30.0  # spans U-NII-1 and U-NII-2A


def test_allows_is_false_for_nonexistent_slots():
    assert not FCC.allows(14)
    assert not FCC.allows(165, 40)
    assert not FCC.allows(37)


# ----------------------------------------------------------------------------- medium access


@pytest.mark.parametrize(("n", "p"), [(2, 0.10), (4, 0.23), (8, 0.35), (20, 0.48)])
def test_dcf_collision_probability_is_bianchis(n, p):
    # Bianchi, IEEE JSAC 18(3), 2000: saturated stations, CWmin 15, 6 backoff stages
    from rrm_gym.radio.mac import collision_probability

    assert float(collision_probability(n)) == pytest.approx(p, abs=0.006)
    assert float(collision_probability(1)) == 0.0


def test_a_retry_limit_bounds_the_attempts_and_drops_what_is_left():
    from rrm_gym.radio.mac import RETRY_LIMIT, attempts_and_delivery

    attempts, delivered = attempts_and_delivery(np.array([1.0, 0.5, 0.0]))
    assert attempts.tolist() == pytest.approx([1.0, (1 - 0.5**RETRY_LIMIT) / 0.5, RETRY_LIMIT])
    assert delivered.tolist() == pytest.approx([1.0, 1 - 0.5**RETRY_LIMIT, 0.0])


def test_beacons_take_about_half_a_percent_per_ssid_at_6_mbps_and_six_times_that_at_1():
    from rrm_gym.radio.mac import beacon_airtime_frac

    assert float(beacon_airtime_frac(1, 6.0)) == pytest.approx(0.0048, abs=0.0002)
    assert float(beacon_airtime_frac(4, 1.0)) == pytest.approx(4 * 0.0292, abs=0.001)
