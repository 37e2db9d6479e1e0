"""WirelessSimulation: physics properties and behaviour on small hand-built scenarios."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rrm_gym.config import Scenario, load_scenario, scenario_from_dict
from rrm_gym.radio import HE_RATE_20MHZ_1SS_MBPS, bonding_group, noise_floor_dbm, path_loss_db
from rrm_gym.sim import INTERFERER_KINDS, Sensing, WirelessSimulation
from rrm_gym.sim.simulation import MAC_EFFICIENCY

# HE MCS 11, 20 MHz, 2 spatial streams (IEEE 802.11ax-2021 Table 27-64: 143.4 Mb/s per stream),
# times the simulator's MAC efficiency: what one saturated AP with close clients delivers.
FULL_RATE_20MHZ_2SS_MBPS = 2 * 143.4 * MAC_EFFICIENCY
SENSING_TICK_FIELDS = (
    "cca_busy_frac",
    "airtime_frac",
    "retry_rate",
    "throughput_mbps",
    "nonwifi_duty_frac",
    "nonwifi_confidence",
    "nonwifi_kind",
    "radar_detected",
)
SENSING_CLIENT_FIELDS = (
    "client_ap",
    "client_rssi_dbm",
    "client_snr_db",
    "client_throughput_mbps",
    "client_demand_mbps",
)


def small_scenario(
    aps: list[dict],
    *,
    neighbors: tuple[dict, ...] = (),
    walls: tuple[tuple[float, float, float, float], ...] = (),
    hotspots: list[dict] | None = None,
    clients: int | None = None,
    mean_mbps: float = 500.0,
    area: tuple[float, float] = (100.0, 40.0),
    domain: str = "FCC",
    interferers: tuple[dict, ...] = (),
    radars: tuple[dict, ...] = (),
) -> Scenario:
    """A deterministic-geometry scenario: no shadowing, static clients in 1 m hotspots at the APs
    (unless ``hotspots`` says otherwise; 10 clients per AP by default, so that every AP gets some),
    every client always active with ``mean_mbps`` of demand."""
    if hotspots is None:
        hotspots = [{"center": list(ap["position"]), "radius_m": 1.0} for ap in aps]
    return scenario_from_dict(
        {
            "name": "small",
            "regulatory_domain": domain,
            "area": {"width_m": area[0], "height_m": area[1]},
            "walls": [list(w) for w in walls],
            "propagation": {"model": "enterprise", "shadowing_sigma_db": 0.0},
            "aps": [{"power_dbm": 20, "width_mhz": 20, **ap} for ap in aps],
            "clients": {
                "count": clients if clients is not None else 10 * len(aps),
                "placement": {"kind": "hotspots", "hotspots": hotspots},
                "demand": {"mean_mbps": mean_mbps, "sigma": 0.0, "profile": "flat", "hourly": [1.0] * 24},
                "mobility": {"mobile_fraction": 0.0},
            },
            "neighbors": list(neighbors),
            "interferers": list(interferers),
            "radars": list(radars),
        },
        source="<test>",
    )


def two_aps(channel_a: int = 36, channel_b: int = 36) -> Scenario:
    """Two APs 20 m apart (TGax enterprise: 77.3 dB, so each hears the other at -57 dBm)."""
    return small_scenario([{"position": [10, 20], "channel": channel_a}, {"position": [30, 20], "channel": channel_b}])


def assert_sensing_equal(a: Sensing, b: Sensing) -> None:
    for name in (*SENSING_TICK_FIELDS, *SENSING_CLIENT_FIELDS, "clients_per_ap"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=name != "radar_detected"), name
    assert np.array_equal(a.neighbor_rssi_dbm, b.neighbor_rssi_dbm, equal_nan=True)


# ----------------------------------------------------------------------------- physics properties


@settings(max_examples=30, deadline=None)
@given(
    ap=st.integers(0, 9),
    p_low=st.floats(2.0, 23.0),
    boost=st.floats(0.0, 21.0),
    seed=st.integers(0, 5),
)
def test_more_power_on_an_ap_never_lowers_its_own_clients_rssi(ap, p_low, boost, seed):
    p_high = min(23.0, p_low + boost)
    low = WirelessSimulation("office", seed=seed)
    high = WirelessSimulation("office", seed=seed)
    low.set_power(ap, p_low)
    high.set_power(ap, p_high)
    s_low, s_high = low.run(1), high.run(1)
    mine_low = s_low.client_ap[0] == ap
    mine_high = s_high.client_ap[0] == ap
    both = mine_low & mine_high
    gain = s_high.client_rssi_dbm[0, both] - s_low.client_rssi_dbm[0, both]
    assert np.all(gain >= -1e-3)
    # RSSI is transmit power minus path loss: it moves dB for dB with the power
    assert gain == pytest.approx(np.full(gain.shape, p_high - p_low), abs=1e-3)
    # at first association a stronger AP keeps every client it had and may win more
    assert np.all(mine_high[mine_low])


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(-20.0, 120.0),
    y=st.floats(-20.0, 60.0),
    power=st.floats(-10.0, 36.0),
    load=st.floats(0.01, 1.0),
    width=st.sampled_from([20, 40, 80]),
    mean_mbps=st.floats(1.0, 500.0),
    seed=st.integers(0, 5),
)
def test_an_extra_cochannel_transmitter_never_raises_any_clients_throughput(x, y, power, load, width, mean_mbps, seed):
    """One managed AP on 36 and an unmanaged neighbour whose band covers 36, anywhere, any power.

    The baseline is the same neighbour with ``load: 0`` (it never transmits), so both runs draw the
    same random numbers and place the clients identically. (With several managed APs an interferer
    can legitimately *raise* a client's throughput: slowing AP A frees airtime for A's contender B.)
    """

    def run(nb_load: float) -> Sensing:
        sc = small_scenario(
            [{"position": [40, 20], "channel": 36}],
            neighbors=({"position": [x, y], "channel": 36, "width_mhz": width, "power_dbm": power, "load": nb_load},),
            hotspots=[{"center": [40, 20], "radius_m": 30}],
            clients=8,
            mean_mbps=mean_mbps,
        )
        return WirelessSimulation(sc, seed=seed).run(5)

    quiet, busy = run(0.0), run(load)
    assert np.array_equal(quiet.client_ap, busy.client_ap)
    assert np.all(busy.client_throughput_mbps <= quiet.client_throughput_mbps + 1e-9)
    assert np.all(busy.throughput_mbps <= quiet.throughput_mbps + 1e-3)
    assert np.all(busy.cca_busy_frac >= quiet.cca_busy_frac - 1e-6)


# ----------------------------------------------------------------------------- link budget


def test_neighbor_rssi_between_aps_follows_tgax_path_loss():
    s = WirelessSimulation(two_aps(), seed=0).run(1)
    # 20 dBm - 77.3 dB (TGax enterprise at 20 m and 5.18 GHz, IEEE 802.11-14/0980r16)
    expected = 20.0 - float(path_loss_db(20.0, 5.18))
    assert expected == pytest.approx(-57.3, abs=0.05)
    assert s.neighbor_rssi_dbm[0, 0, 1] == pytest.approx(expected, abs=1e-3)
    assert s.neighbor_rssi_dbm[0, 1, 0] == pytest.approx(expected, abs=1e-3)
    assert np.isnan(s.neighbor_rssi_dbm[0, 0, 0])


def test_client_snr_is_rssi_over_the_noise_floor_of_the_serving_channel():
    sc = small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [60, 20], "channel": 149, "width_mhz": 80}]
    )
    s = WirelessSimulation(sc, seed=0).run(1)
    width = np.where(s.client_ap[0] == 0, 20, 80)
    expected = s.client_rssi_dbm[0] - noise_floor_dbm(width)
    assert s.client_snr_db[0] == pytest.approx(expected, abs=1e-3)


def test_clients_associate_with_the_ap_they_stand_next_to():
    sc = small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [60, 20], "channel": 149}],
        hotspots=[{"center": [60, 20], "radius_m": 1.0}],
        clients=5,
    )
    s = WirelessSimulation(sc, seed=0).run(1)
    assert s.client_ap[0].tolist() == [1] * 5
    assert s.clients_per_ap[0].tolist() == [0, 5]


# ----------------------------------------------------------------------------- (a) shared airtime


def test_an_ap_alone_with_saturating_clients_uses_all_airtime_at_mcs_11():
    s = WirelessSimulation(small_scenario([{"position": [10, 20], "channel": 36}]), seed=0).run(60)
    assert s.airtime_frac[0, :, 0] == pytest.approx(np.ones(60))
    assert s.cca_busy_frac[0, :, 0] == pytest.approx(np.zeros(60))
    # clients within 1 m: far above the MCS 11 threshold (34 dB), so 2 SS MCS 11 x MAC efficiency
    assert s.throughput_mbps[0, :, 0] == pytest.approx(np.full(60, FULL_RATE_20MHZ_2SS_MBPS))
    assert s.client_throughput_mbps[0].sum() == pytest.approx(FULL_RATE_20MHZ_2SS_MBPS)


def test_two_cochannel_aps_that_hear_each_other_share_airtime():
    sim = WirelessSimulation(two_aps(36, 36), seed=0)
    shared = sim.run(60)
    assert (shared.clients_per_ap[0] > 0).all()
    assert shared.neighbor_rssi_dbm[0, 0, 1] > -82.0  # above preamble detect: they defer to each other
    assert shared.airtime_frac[0] == pytest.approx(np.full((60, 2), 0.5))
    assert shared.cca_busy_frac[0] == pytest.approx(np.full((60, 2), 0.5))

    sim.set_channel(1, 149, csa=True)  # non-overlapping: each has the medium to itself
    alone = sim.run(60)
    assert alone.airtime_frac[0] == pytest.approx(np.ones((60, 2)))
    assert alone.cca_busy_frac[0] == pytest.approx(np.zeros((60, 2)))
    assert alone.throughput_mbps[0] == pytest.approx(np.full((60, 2), FULL_RATE_20MHZ_2SS_MBPS))

    # about half the throughput each (a little less: CSMA collisions when both pick the same slot)
    ratio = shared.throughput_mbps[0].mean(axis=0) / alone.throughput_mbps[0].mean(axis=0)
    assert np.all((ratio > 0.4) & (ratio <= 0.5))
    assert np.all(shared.retry_rate[0] > alone.retry_rate[0])


def test_moving_back_to_a_shared_channel_halves_airtime_again():
    sim = WirelessSimulation(two_aps(36, 149), seed=0)
    assert sim.run(60).airtime_frac[0] == pytest.approx(np.ones((60, 2)))
    sim.set_channel(1, 36, csa=True)
    assert sim.run(60).airtime_frac[0] == pytest.approx(np.full((60, 2), 0.5))


def test_aps_on_adjacent_non_overlapping_5_ghz_channels_do_not_share_airtime():
    s = WirelessSimulation(two_aps(36, 40), seed=0).run(10)
    assert s.airtime_frac[0] == pytest.approx(np.ones((10, 2)))


def test_a_lightly_loaded_ap_leaves_the_rest_of_the_airtime_to_its_contender():
    # AP 0's single client wants 20 Mb/s (about 10 % of the medium at 200 Mb/s); AP 1 is saturated.
    sc = small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [30, 20], "channel": 36}],
        hotspots=[{"center": [10, 20], "radius_m": 1.0}],
        clients=1,
        mean_mbps=20.0,
    )
    s = WirelessSimulation(sc, seed=0).run(10)
    assert s.client_ap[0].tolist() == [0]
    assert s.client_throughput_mbps[0, 0] == pytest.approx(20.0)  # demand fully served
    light = s.airtime_frac[0, 0, 0]
    assert 0.08 < light < 0.15
    assert s.airtime_frac[0, 0, 1] == 0.0  # AP 1 has no clients: nothing to send
    assert s.cca_busy_frac[0, 0, 1] == pytest.approx(light)


def test_an_unsaturated_ap_serves_all_offered_load():
    sc = small_scenario([{"position": [10, 20], "channel": 36}], clients=3, mean_mbps=3.0)
    s = WirelessSimulation(sc, seed=0).run(60)
    assert s.client_demand_mbps[0] == pytest.approx(np.full(3, 3.0))
    assert s.client_throughput_mbps[0] == pytest.approx(np.full(3, 3.0))
    assert s.throughput_mbps[0, :, 0] == pytest.approx(np.full(60, 9.0))
    # airtime is what 9 Mb/s needs at MCS 11, 2 SS
    assert s.airtime_frac[0, 0, 0] == pytest.approx(9.0 / FULL_RATE_20MHZ_2SS_MBPS, rel=0.05)
    assert s.kpis()["throughput_mean_mbps"][0] == pytest.approx(3.0)


def test_a_20_mhz_ap_defers_to_an_overlapping_80_mhz_neighbour_it_can_decode():
    """A 40/80/160 MHz PPDU repeats its legacy preamble (L-STF, L-LTF, L-SIG) in every 20 MHz
    subchannel (non-HT duplicate; IEEE 802.11-2020 clauses 19 and 21, 802.11ax-2021 clause 27), so a
    20 MHz radio on channel 36 decodes an 80 MHz (36-48) neighbour's preamble like a 20 MHz one and
    must report CCA busy from -82 dBm in its 20 MHz (IEEE 802.11-2020 17.3.10.6), not only from the
    -62 dBm energy-detect level."""

    def sense(width: int) -> Sensing:
        nb = {"position": [35, 10], "channel": 36, "width_mhz": width, "power_dbm": 20, "load": 0.5}
        sc = small_scenario([{"position": [10, 10], "channel": 36}], neighbors=(nb,), clients=3)
        return WirelessSimulation(sc, seed=0).run(5)

    narrow, wide = sense(20), sense(80)
    # 25 m: TGax 81 dB, so about -61 dBm in all, -67 dBm in each 20 MHz of the 80 MHz PPDU
    assert -62.0 < wide.foreign_rssi_dbm[0, 0, 0] < -60.0
    assert wide.foreign_rssi_dbm[0, 0, 0] - 10 * np.log10(4) > -82.0
    assert narrow.cca_busy_frac[0, :, 0] == pytest.approx(np.full(5, 0.5))
    assert wide.cca_busy_frac[0, :, 0] == pytest.approx(np.full(5, 0.5))
    assert wide.airtime_frac[0, :, 0] == pytest.approx(np.full(5, 0.5))


def test_roaming_needs_the_hysteresis_margin():
    # one client 8 m from AP 0 and 12 m from AP 1: TGax 64.8 vs 69.5 dB, AP 0 about 4.7 dB stronger
    sc = small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [30, 20], "channel": 149}],
        hotspots=[{"center": [18.1, 20.1], "radius_m": 0.1}],
        clients=1,
    )
    sim = WirelessSimulation(sc, seed=0)
    assert sim.run(1).client_ap[0, 0] == 0
    sim.set_power(0, 14.0)  # now AP 1 is about 1.3 dB stronger: less than the 6 dB roam hysteresis
    assert sim.run(1).client_ap[0, 0] == 0
    fresh = WirelessSimulation(sc, seed=0)  # without history the client simply picks the strongest
    fresh.set_power(0, 14.0)
    assert fresh.run(1).client_ap[0, 0] == 1
    sim.set_power(0, 8.0)  # AP 1 about 7.3 dB stronger: the client roams
    assert sim.run(1).client_ap[0, 0] == 1


def test_static_clients_stay_put_and_mobile_ones_relocate_between_epochs():
    def rssi_over_epochs(mobile_fraction: float) -> np.ndarray:
        sc = scenario_from_dict(
            {
                "name": "roamers",
                "area": {"width_m": 60, "height_m": 60},
                "propagation": {"shadowing_sigma_db": 0.0},
                "loops": {"epoch_s": 10, "fast_period_s": 10, "slow_period_s": 60},
                "aps": [{"position": [30, 30], "channel": 36}],
                "clients": {"count": 40, "mobility": {"mobile_fraction": mobile_fraction, "mean_dwell_s": 10}},
            }
        )
        sim = WirelessSimulation(sc, seed=0)
        return np.stack([sim.run(10).client_rssi_dbm[0] for _ in range(4)])

    static = rssi_over_epochs(0.0)
    assert np.array_equal(static, np.broadcast_to(static[0], static.shape), equal_nan=True)
    mobile = rssi_over_epochs(1.0)
    changed = ~np.isclose(mobile[1:], mobile[:-1], equal_nan=True)
    assert changed.mean() > 0.3  # mean dwell = epoch: most clients move every epoch


# ----------------------------------------------------------------------------- (b) hidden node


def hidden_node_scenario(with_neighbor: bool) -> Scenario:
    """AP at (10, 10), clients around (30, 20); a neighbour at (50, 10) 22 m from the clients but
    behind three walls from the AP (40 m + 3 x 7 dB: 108.8 dB, heard at -88.8 dBm < -82 dBm)."""
    nb = ({"name": "hidden", "position": [50, 10], "channel": 36, "power_dbm": 20, "load": 0.3},)
    return small_scenario(
        [{"position": [10, 10], "channel": 36}],
        neighbors=nb if with_neighbor else (),
        walls=((25, 5, 25, 15), (30, 5, 30, 15), (35, 5, 35, 15)),
        hotspots=[{"center": [30, 20], "radius_m": 1.0}],
        clients=3,
        mean_mbps=20.0,
    )


def test_a_hidden_node_raises_the_retry_rate_without_raising_cca_busy():
    clean = WirelessSimulation(hidden_node_scenario(False), seed=0).run(60)
    hidden = WirelessSimulation(hidden_node_scenario(True), seed=0).run(60)
    # precondition: the AP cannot hear the neighbour's preamble, but the clients are close to it
    assert hidden.foreign_rssi_dbm[0, 0, 0] < -82.0
    assert (hidden.client_ap[0] == 0).all() and (clean.client_ap[0] == 0).all()
    # the AP senses an idle medium in both cases...
    assert hidden.cca_busy_frac[0, :, 0] == pytest.approx(np.zeros(60))
    assert clean.cca_busy_frac[0, :, 0] == pytest.approx(np.zeros(60))
    # ...but its frames collide at the clients
    assert hidden.retry_rate[0, :, 0].mean() > clean.retry_rate[0, :, 0].mean() + 0.1
    assert hidden.client_throughput_mbps[0].sum() < clean.client_throughput_mbps[0].sum()


def test_a_neighbour_the_ap_hears_costs_airtime_not_retries():
    nb = {"position": [25, 10], "channel": 36, "power_dbm": 20, "load": 0.3}
    sc = small_scenario([{"position": [10, 10], "channel": 36}], neighbors=(nb,), clients=3, mean_mbps=500.0)
    s = WirelessSimulation(sc, seed=0).run(10)
    assert s.foreign_rssi_dbm[0, 0, 0] > -82.0
    assert s.cca_busy_frac[0, :, 0] == pytest.approx(np.full(10, 0.3))  # the neighbour's airtime
    assert s.airtime_frac[0, :, 0] == pytest.approx(np.full(10, 0.7))  # what it leaves
    assert s.retry_rate[0, :, 0].max() < 0.1


# ----------------------------------------------------------------------------- (c) channel change


def test_a_channel_change_without_csa_gives_the_aps_clients_an_outage():
    sim = WirelessSimulation(two_aps(36, 44), seed=0)
    before = sim.run(60)
    assert (before.clients_per_ap[0] > 0).all()
    assert (before.throughput_mbps[0] > 0).all()
    sim.set_channel(0, 149)
    after = sim.run(60)
    assert sim.channel[0].tolist() == [149, 44]
    thr = after.throughput_mbps[0]
    assert thr[:2, 0].tolist() == [0.0, 0.0]  # re-association outage (2 s)
    assert (thr[2:, 0] > 0).all()
    assert (thr[:, 1] > 0).all()  # the AP that stayed put is unaffected
    mine = after.client_ap[0] == 0
    # each client of the moved AP lost 2 of the 60 ticks
    assert after.client_throughput_mbps[0, mine] == pytest.approx(before.client_throughput_mbps[0, mine] * 58 / 60)


def test_a_channel_change_with_csa_has_no_outage():
    sim = WirelessSimulation(two_aps(36, 44), seed=0)
    before = sim.run(60)
    sim.set_channel(0, 149, csa=True)
    after = sim.run(60)
    assert (after.throughput_mbps[0] > 0).all()
    assert after.client_throughput_mbps[0] == pytest.approx(before.client_throughput_mbps[0])


def test_an_outage_spans_short_runs():
    sim = WirelessSimulation(two_aps(36, 44), seed=0)
    sim.run(60)
    sim.set_channel(0, 149)
    thr = [sim.run(1).throughput_mbps[0, 0, 0] for _ in range(3)]
    assert thr[:2] == [0.0, 0.0]
    assert thr[2] > 0


def test_setting_the_current_channel_again_is_not_a_channel_change():
    sim = WirelessSimulation(two_aps(36, 44), seed=0)
    sim.run(60)
    sim.set_channel(0, 36)
    assert (sim.run(5).throughput_mbps[0] > 0).all()


# ----------------------------------------------------------------------------- (d) determinism


def _script(seed: int) -> list[Sensing]:
    sim = WirelessSimulation("office", seed=seed)
    out = [sim.run(60)]
    sim.set_power(3, 10.0)
    sim.set_channel(2, 149, 80, csa=True)
    out.append(sim.run(30))
    sim.set_channel(5, 36)
    out.append(sim.run(90))
    return out


def test_same_seed_gives_identical_sensing():
    for a, b in zip(_script(11), _script(11), strict=True):
        assert_sensing_equal(a, b)


def test_a_different_seed_gives_different_sensing():
    a, b = _script(11)[0], _script(12)[0]
    assert not np.array_equal(a.cca_busy_frac, b.cca_busy_frac)
    assert not np.array_equal(a.client_rssi_dbm, b.client_rssi_dbm, equal_nan=True)
    assert not np.array_equal(a.client_throughput_mbps, b.client_throughput_mbps)


@pytest.mark.parametrize("scenario", ["hall", "dfs_site", "office", "legacy_24", "residential"])
def test_clients_without_hidden_sources_skip_no_physics(scenario, monkeypatch):
    """Where few clients have hidden sources, a segment computes the SINR and collision loss of
    those alone (the others' equal their links' SNR and CSMA loss), and where few are reached by
    one of at most two interferers, the loss to them of those alone: the sensing must be exactly
    what computing every client's gives, whichever way each segment goes."""
    from rrm_gym.sim import simulation

    # (and the paths for many clients, the interferers' for the clients they reach among them)
    monkeypatch.setattr(simulation, "_ROWS_MIN_CLIENTS", 0)

    def script(few_hidden: float) -> list[Sensing]:
        monkeypatch.setattr(simulation, "_FEW_HIDDEN", few_hidden)
        sim = WirelessSimulation(scenario, seed=5, num_networks=2)
        out = [sim.run(120)]
        sim.set_power(1, 6.0, network=1)
        out.append(sim.run(60))
        sim.set_channel(0, int(sim.channel[0, 2]), network=0)  # two APs on one channel
        out += [sim.run(60), sim.run(180)]
        return out

    every = script(0.0)  # every client computed
    for few_hidden in (0.5, 1e9):  # as shipped; and the clients with hidden sources alone, always
        for a, b in zip(every, script(few_hidden), strict=True):
            assert_sensing_equal(a, b)


@pytest.mark.parametrize("scenario", ["office", "enterprise", "legacy_24", "hall"])
def test_links_redone_for_moved_clients_alone_equal_links_from_scratch(scenario, monkeypatch):
    """After an epoch only the relocated clients' links, and the interferers' reach at them, are
    redone (in place): the sensing must be exactly what redoing every client's gives, and the row
    paths must have been taken."""
    from rrm_gym.sim import simulation

    cls = simulation.WirelessSimulation
    calls: dict[str, list[int]] = {"links": [], "interferers": []}
    relink_rows, links = cls._relink_rows, cls._interferer_links

    def links_spy(self, r, assoc, changed):
        calls["links"].append(len(changed[0]))
        relink_rows(self, r, assoc, changed)

    def reach_spy(self, r, cell, rows):
        if rows is not None:
            calls["interferers"].append(len(rows[0]))
        return links(self, r, cell, rows)

    patch = simulation._HiddenLists.patch

    def patch_spy(self, *args):
        lists = patch(self, *args)
        if lists is not None:
            calls["patched"].append(len(args[1]))
        return lists

    calls["patched"] = []
    monkeypatch.setattr(cls, "_relink_rows", links_spy)
    monkeypatch.setattr(cls, "_interferer_links", reach_spy)
    monkeypatch.setattr(simulation._HiddenLists, "patch", patch_spy)
    monkeypatch.setattr(simulation, "_ROWS_MIN_CLIENTS", 0)  # the row paths even for two small networks
    monkeypatch.setattr(simulation, "_HIDDEN_SLACK", 0.05)  # patched lists outgrow their room, too
    rows, scratch = (WirelessSimulation(scenario, seed=3, num_networks=2) for _ in range(2))
    for i in range(16):
        if i == 5:
            for sim in (rows, scratch):
                sim.set_power(2, 7.0, network=1)
        scratch._client_links_of = scratch._if_links_of = None  # forget the links: every row afresh
        scratch._hidden_index = None  # and the hidden-node lists: built in order from every row
        assert_sensing_equal(rows.run(60), scratch.run(60))
    assert max(calls["links"], default=0) > 0
    if rows.num_interferers:
        assert max(calls["interferers"], default=0) > 0
    if rows._radio().any_hidden_cand:
        assert max(calls["patched"], default=0) > 0
    assert scenario != "legacy_24" or rows.num_interferers


@pytest.mark.parametrize("scenario", ["dfs_site", "legacy_24"])
def test_a_long_span_joins_its_segments_tick_by_tick(scenario):
    """``run(d)`` joins its segments' sensing (views that hold one reading over a steady segment,
    and per-tick arrays where interferers switch or an outage runs): each per-tick field must be
    the segments' ticks in order, as the same span run a minute at a time gives them."""
    long, short = (WirelessSimulation(scenario, seed=4, num_networks=2) for _ in range(2))
    for sim in (long, short):
        sim.run(60)
        sim.set_channel(0, int(sim.channel[0, 1]), network=0)  # an outage in the next span
    whole = long.run(900)
    parts = [short.run(60) for _ in range(15)]
    held = 0
    for name in SENSING_TICK_FIELDS:
        got = getattr(whole, name)
        held += sum(p.ticks > 1 and getattr(p, name).strides[1] == 0 for p in parts)
        assert got.shape == (2, 900, *getattr(parts[0], name).shape[2:]), name
        want = np.concatenate([np.asarray(getattr(p, name)) for p in parts], axis=1)
        assert np.array_equal(got, want, equal_nan=name != "radar_detected"), name
    assert held > 0  # some segments were steady


# ----------------------------------------------------------------------------- (e) batches


def test_num_networks_gives_a_batch_of_independent_draws():
    sim = WirelessSimulation("office", seed=0, num_networks=4)
    s = sim.run(60)
    n, k = 10, 120
    for name in ("cca_busy_frac", "airtime_frac", "retry_rate", "throughput_mbps", "radar_detected"):
        assert getattr(s, name).shape == (4, 60, n), name
    for name in SENSING_CLIENT_FIELDS:
        assert getattr(s, name).shape == (4, k), name
    assert s.clients_per_ap.shape == (4, n)
    assert s.neighbor_rssi_dbm.shape == (4, n, n)
    assert sim.channel.shape == sim.power_dbm.shape == sim.width_mhz.shape == (4, n)
    for kpi in s.kpis().values():
        assert kpi.shape == (4,)
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(s.cca_busy_frac[i], s.cca_busy_frac[j])
            assert not np.array_equal(s.client_rssi_dbm[i], s.client_rssi_dbm[j], equal_nan=True)


def test_a_setter_changes_only_the_network_it_names():
    sim = WirelessSimulation(two_aps(36, 44), seed=0, num_networks=3)
    sim.run(60)
    sim.set_channel(0, 149, network=1)
    sim.set_power(1, 5.0, network=2)
    assert sim.channel[:, 0].tolist() == [36, 149, 36]
    assert sim.power_dbm[:, 1].tolist() == [20.0, 20.0, 5.0]
    s = sim.run(60)
    assert s.throughput_mbps[1, :2, 0].tolist() == [0.0, 0.0]  # outage in network 1 only
    assert (s.throughput_mbps[[0, 2], :2, 0] > 0).all()


def test_set_powers_sets_every_ap_of_every_network():
    sim = WirelessSimulation("office", seed=0, num_networks=2)
    p = np.linspace(2.0, 23.0, 20).reshape(2, 10)
    sim.set_powers(p)
    assert np.array_equal(sim.power_dbm, p)


# ----------------------------------------------------------------------------- (f) setters


def test_set_channel_rejects_what_the_ap_cannot_do():
    sim = WirelessSimulation("office", seed=0)  # FCC, 5 GHz radios at 40 MHz, max 80 MHz
    cases = [
        ((0, 14, 20), "does not exist"),  # no such channel
        ((0, 14), "14"),  # ... nor at the AP's current 40 MHz
        ((0, 6, 20), "5 GHz radio"),  # wrong band
        ((0, 36, 160), "at most 80"),  # wider than the radio's max_width_mhz
        ((0, 165), "40 MHz"),  # 165 has no 40 MHz group (current width kept)
        ((10, 36), "out of range"),  # no AP 10
        ((-1, 36), "out of range"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            sim.set_channel(*args)
    with pytest.raises(ValueError, match="network index"):
        sim.set_channel(0, 44, network=1)
    assert sim.channel[0].tolist() == [36, 44, 36, 44, 36, 44, 36, 44, 36, 44]
    assert sim.width_mhz[0].tolist() == [40] * 10


def test_set_channel_rejects_channels_the_domain_does_not_allow():
    etsi = WirelessSimulation("dfs_site", seed=0)
    with pytest.raises(ValueError, match="not allowed in ETSI"):
        etsi.set_channel(0, 144)
    with pytest.raises(ValueError, match="not allowed in ETSI"):
        etsi.set_channel(0, 149)
    fcc = WirelessSimulation("legacy_24", seed=0)
    with pytest.raises(ValueError, match="not allowed in FCC"):
        fcc.set_channel(0, 13)


def test_set_channel_accepts_a_legal_move_and_a_width_change():
    sim = WirelessSimulation("office", seed=0)
    sim.set_channel(0, 149, 80, csa=True)
    sim.set_channel(1, 52)
    assert sim.channel[0, :2].tolist() == [149, 52]
    assert sim.width_mhz[0, :2].tolist() == [80, 40]


def test_set_power_rejects_power_outside_the_aps_range():
    sim = WirelessSimulation("office", seed=0)  # every AP: 2..23 dBm
    for bad in (1.9, 23.1, 36.0, -10.0, float("nan")):
        with pytest.raises(ValueError, match="outside"):
            sim.set_power(0, bad)
    with pytest.raises(ValueError, match="out of range"):
        sim.set_power(10, 10.0)
    sim.set_power(0, 2.0)
    sim.set_power(1, 23.0)
    assert sim.power_dbm[0, :3].tolist() == [2.0, 23.0, 20.0]


def test_set_powers_validates_shape_and_range():
    sim = WirelessSimulation("office", seed=0)
    with pytest.raises(ValueError, match="shape"):
        sim.set_powers(np.full(10, 10.0))
    too_high = np.full((1, 10), 10.0)
    too_high[0, 4] = 24.0
    with pytest.raises(ValueError, match="range"):
        sim.set_powers(too_high)
    assert (sim.power_dbm == 20.0).all()


def test_configuration_views_are_read_only():
    sim = WirelessSimulation("office", seed=0)
    for view in (sim.channel, sim.width_mhz, sim.power_dbm, sim.slot):
        with pytest.raises(ValueError):
            view[0, 0] = 1
    with pytest.raises(ValueError):
        sim.power_dbm[:] = 0.0
    assert (sim.power_dbm == 20.0).all()
    assert sim.channel[0, 0] == 36


def test_run_takes_a_positive_whole_number_of_seconds():
    sim = WirelessSimulation(two_aps(), seed=0)
    for bad in (0, -5, 1.5):
        with pytest.raises(ValueError, match="whole number"):
            sim.run(bad)
    assert sim.time_s == 0.0
    sim.run(7)
    assert sim.time_s == 7.0


def test_num_networks_must_be_positive():
    with pytest.raises(ValueError, match="num_networks"):
        WirelessSimulation(two_aps(), num_networks=0)


# ----------------------------------------------------------------------------- (g) radar


def test_radar_burst_on_dfs_site_is_detected_by_the_ap_on_its_channel():
    sc = load_scenario("dfs_site")
    # dfs_site.yaml: radar "airport-approach" on channel 52, site-wide, at_s [300, 2700]
    airport = next(r for r in sc.radars if r.name == "airport-approach")
    assert airport.channel == 52 and 300 in airport.at_s and airport.position is None
    weather = next(r for r in sc.radars if r.name == "weather")
    assert weather.channel == 120 and 1200 in weather.at_s  # ETSI weather radar, site-wide
    # APs run 40 MHz: the one on 52+56 hears the 52 radar, the one on 116+120 the weather radar
    ap52 = next(i for i, ap in enumerate(sc.aps) if 52 in bonding_group(ap.channel, ap.width_mhz))
    ap120 = next(i for i, ap in enumerate(sc.aps) if 120 in bonding_group(ap.channel, ap.width_mhz))
    sim = WirelessSimulation(sc, seed=0)
    s = sim.run(1260)
    assert s.radar_detected.dtype == bool
    assert s.radar_detected[0, 300, ap52]
    assert s.radar_detected[0, 1200, ap120]
    # APs whose band overlaps no radar channel (52, 104, 120) never detect one
    radar_channels = {r.channel for r in sc.radars}
    quiet = [i for i, ap in enumerate(sc.aps) if not radar_channels & set(bonding_group(ap.channel, ap.width_mhz))]
    assert quiet
    assert not s.radar_detected[0][:, quiet].any()


def test_radar_is_detected_only_in_range_and_by_any_ap_whose_band_covers_it():
    sc = small_scenario(
        [
            {"position": [10, 10], "channel": 52},  # in range
            {"position": [90, 10], "channel": 52},  # 90 m away: out of range
            {"position": [12, 10], "channel": 56, "max_width_mhz": 40},  # in range, next channel
        ],
        radars=({"channel": 52, "position": [0, 10], "range_m": 30, "at_s": [10.5, 30]},),
    )
    sim = WirelessSimulation(sc, seed=0)
    first = sim.run(20)
    hits = first.radar_detected[0]
    assert np.flatnonzero(hits[:, 0]).tolist() == [10]  # at_s 10.5 falls in tick 10
    assert not hits[:, 1:].any()
    sim.set_channel(2, 56, 40, csa=True)  # 52+56 at 40 MHz now covers the radar channel
    second = sim.run(20)
    assert np.flatnonzero(second.radar_detected[0, :, 0]).tolist() == [10]  # t = 30 s
    assert np.flatnonzero(second.radar_detected[0, :, 2]).tolist() == [10]
    assert not second.radar_detected[0, :, 1].any()


# ----------------------------------------------------------------------------- non-Wi-Fi


def test_a_microwave_oven_is_seen_on_upper_2_4_ghz_channels_only():
    sc = small_scenario(
        [
            {"position": [5, 10], "channel": 11},
            {"position": [15, 10], "channel": 1},
            {"position": [25, 10], "channel": 36},
        ],
        area=(40.0, 20.0),
        mean_mbps=1.0,
        interferers=({"kind": "microwave", "position": [10, 12]},),
    )
    s = WirelessSimulation(sc, seed=0).run(10)
    microwave = INTERFERER_KINDS.index("microwave")
    # schema defaults: magnetron around 2455 MHz +- 15 MHz, 50 % duty; channel 11 spans 2451-2473 MHz
    assert (s.nonwifi_kind[0, :, 0] == microwave).all()
    assert s.nonwifi_duty_frac[0, :, 0] == pytest.approx(np.full(10, 0.5))
    assert s.cca_busy_frac[0, :, 0] == pytest.approx(np.full(10, 0.5))
    assert (s.nonwifi_kind[0, :, 1:] == -1).all()
    assert (s.nonwifi_duty_frac[0, :, 1:] == 0).all()
    assert (s.cca_busy_frac[0, :, 1:] == 0).all()


def test_an_interferer_scheduled_in_an_interval_is_sensed_only_then():
    sc = small_scenario(
        [{"position": [5, 10], "channel": 6}],
        area=(40.0, 20.0),
        mean_mbps=1.0,
        interferers=(
            {
                "kind": "generic",
                "position": [8, 10],
                "channel": 6,
                "duty_cycle": 0.4,
                "schedule": {"intervals_s": [[10, 20]]},
            },
        ),
    )
    s = WirelessSimulation(sc, seed=0).run(30)
    on = np.zeros(30, dtype=bool)
    on[10:20] = True
    generic = INTERFERER_KINDS.index("generic")
    assert (s.nonwifi_kind[0, on, 0] == generic).all()
    assert s.nonwifi_duty_frac[0, on, 0] == pytest.approx(np.full(10, 0.4))
    assert s.cca_busy_frac[0, on, 0] == pytest.approx(np.full(10, 0.4))  # 3 m away: far above -62 dBm
    assert (s.nonwifi_kind[0, ~on, 0] == -1).all()
    assert (s.cca_busy_frac[0, ~on, 0] == 0).all()


def test_an_interferer_no_ap_senses_and_no_client_hears_changes_nothing_when_on():
    """A 2.4 GHz microwave oven beside 5 GHz APs: whether it runs or not, every reading is the same,
    and with a 2.4 GHz AP in the room it is seen (the schedule still matters where it reaches)."""

    def run(schedule: dict, channel: int) -> Sensing:
        sc = small_scenario(
            [{"position": [5, 10], "channel": 36}, {"position": [30, 10], "channel": channel}],
            area=(40.0, 20.0),
            mean_mbps=5.0,
            interferers=({"kind": "microwave", "position": [8, 10], "schedule": schedule},),
        )
        return WirelessSimulation(sc, seed=0, num_networks=2).run(120)

    off, on = {"intervals_s": []}, {"intervals_s": [[10, 70]]}
    assert_sensing_equal(run(off, 40), run(on, 40))
    seen = run(on, 6).nonwifi_kind[0, :, 1]
    assert (seen[10:70] == INTERFERER_KINDS.index("microwave")).all() and (seen[70:] == -1).all()


# ----------------------------------------------------------------------------- (h) chunking


@pytest.mark.parametrize("chunks", [(60, 60), (45, 75), (1, 59, 30, 30)])
def test_chunking_run_calls_does_not_change_the_result(chunks):
    whole = WirelessSimulation("office", seed=4).run(120)
    sim = WirelessSimulation("office", seed=4)
    parts = [sim.run(c) for c in chunks]
    for name in SENSING_TICK_FIELDS:
        joined = np.concatenate([getattr(p, name) for p in parts], axis=1)
        assert np.array_equal(joined, getattr(whole, name)), name
    weights = np.array(chunks) / 120
    mean_thr = sum(w * p.client_throughput_mbps for w, p in zip(weights, parts, strict=True))
    assert mean_thr == pytest.approx(whole.client_throughput_mbps, rel=1e-9, abs=1e-9)
    assert np.array_equal(parts[-1].client_ap, whole.client_ap)
    assert sim.time_s == 120.0


def test_sensing_concat_joins_ticks_and_averages_client_throughput():
    sim = WirelessSimulation("office", seed=2)
    a, b = sim.run(20), sim.run(40)
    joined = Sensing.concat([a, b])
    assert joined.ticks == 60
    assert joined.t0_s == 0.0 and b.t0_s == 20.0
    assert np.array_equal(joined.cca_busy_frac[:, 20:], b.cca_busy_frac)
    assert joined.client_throughput_mbps == pytest.approx((a.client_throughput_mbps + 2 * b.client_throughput_mbps) / 3)


# ----------------------------------------------------------------------------- KPIs and sensing hygiene


def test_kpis_average_active_clients_and_aps():
    s = WirelessSimulation("office", seed=3).run(60)
    k = s.kpis()
    active = s.client_demand_mbps[0] > 0
    assert active.any() and not active.all()
    assert k["throughput_mean_mbps"][0] == pytest.approx(s.client_throughput_mbps[0, active].mean())
    assert k["throughput_p5_mbps"][0] == pytest.approx(np.percentile(s.client_throughput_mbps[0, active], 5))
    assert k["cca_busy_mean"][0] == pytest.approx(s.cca_busy_frac[0].mean())
    assert k["retry_rate_mean"][0] == pytest.approx(s.retry_rate[0].mean())
    assert 0.0 < k["cca_busy_mean"][0] < 1.0


def test_kpis_of_a_network_without_clients_are_zero_without_warnings():
    sc = small_scenario([{"position": [10, 20], "channel": 36}], clients=0)
    s = WirelessSimulation(sc, seed=0).run(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        k = s.kpis()
    assert k["throughput_mean_mbps"].tolist() == [0.0]
    assert k["throughput_p5_mbps"].tolist() == [0.0]
    assert k["cca_busy_mean"].tolist() == [0.0]


def test_per_tick_sensing_stays_in_physical_ranges():
    s = WirelessSimulation("enterprise", seed=1).run(60)
    for name in ("cca_busy_frac", "airtime_frac", "retry_rate", "nonwifi_duty_frac", "nonwifi_confidence"):
        x = getattr(s, name)
        assert x.min() >= 0.0 and x.max() <= 1.0, name
    assert (s.throughput_mbps >= 0).all()
    assert (s.client_throughput_mbps <= s.client_demand_mbps + 1e-9).all()
    assert s.clients_per_ap.sum() == (s.client_ap >= 0).sum()
    assert (s.client_ap < 30).all()
    assert np.isnan(s.client_rssi_dbm[s.client_ap < 0]).all()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("client_demand_mbps", 0.0),
        ("client_ap", 99),
        ("client_rssi_dbm", 0.0),
        ("cca_busy_frac", 0.5),
        ("nonwifi_kind", 2),
        ("transmitting", False),
    ],
)
def test_changing_a_returned_sensing_does_not_change_the_simulation(field, value):
    """Sensing is a measurement: a caller editing its arrays (say, reusing them as buffers, or
    normalising observations in place) must not alter what the simulation does next."""

    def second_run(tamper: bool) -> Sensing:
        sim = WirelessSimulation(two_aps(36, 36), seed=0)
        first = sim.run(30)  # half of a 60 s epoch: the next run continues the same epoch
        arr = getattr(first, field)
        if tamper:
            if arr.flags.writeable:
                arr[...] = value
            else:  # a view of what the simulation keeps: the edit is refused
                with pytest.raises(ValueError, match="read-only"):
                    arr[...] = value
        return sim.run(30)

    assert_sensing_equal(second_run(tamper=True), second_run(tamper=False))


def test_per_tick_sensing_of_a_steady_segment_is_a_read_only_view_over_the_ticks():
    """A segment with one driver state for every tick returns [B, 1, N] values seen over the ticks;
    the views are read-only, so no caller can write into values the simulation keeps."""
    s = WirelessSimulation("legacy_24", seed=0).run(60)  # microwave ovens: interferer state cached
    for name in SENSING_TICK_FIELDS:
        x = getattr(s, name)
        if name in ("radar_detected", "radar_burst"):
            continue
        assert x.shape[1] == 60 and x.strides[1] == 0 and not x.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            x[0, 0, 0] = 0


@pytest.mark.parametrize("name", ["office", "hall", "residential", "enterprise"])
def test_the_loss_raster_gives_the_path_loss_computed_directly(name):
    from rrm_gym.radio.propagation import geometric_loss_db
    from rrm_gym.sim.geometry import LossRaster, place_clients, wall_segments, walls_crossed

    sim = WirelessSimulation(name, seed=0)
    sc, walls = sim.scenario, wall_segments(sim.scenario)
    xy = place_clients(sc, np.random.default_rng(1), (300,))
    for src in (sim._tx_xy, sim._if_xy):
        raster = LossRaster.cached(src, walls, sc.area.width_m, sc.area.height_m, sc.propagation.model)
        if len(src) == 0:
            assert raster is None
            continue
        d = np.sqrt(((xy[:, None] - src[None]) ** 2).sum(axis=-1))
        direct = geometric_loss_db(d, walls_crossed(xy[:, None], src[None], walls), sc.propagation.model)
        np.testing.assert_allclose(raster.lookup(xy), direct, rtol=0, atol=1e-9)


def test_the_activity_profile_is_interpolated_between_whole_hours():
    sim = WirelessSimulation("office", seed=0)
    wrap = np.asarray(sim._profile_wrap)
    hours = np.concatenate([np.arange(24.0), np.random.default_rng(0).uniform(0, 24, 500)])
    assert [sim._activity(h) for h in hours] == np.interp(hours, np.arange(25), wrap).tolist()


def test_demand_follows_the_hourly_profile():
    silent = scenario_from_dict(
        {
            "name": "night",
            "area": {"width_m": 20, "height_m": 20},
            "aps": [{"position": [10, 10], "channel": 36}],
            "clients": {"count": 50, "demand": {"profile": "flat", "hourly": [0.0] * 24}},
        }
    )
    s = WirelessSimulation(silent, seed=0).run(60)
    assert (s.client_demand_mbps == 0).all()
    assert (s.throughput_mbps == 0).all()
    assert (s.airtime_frac == 0).all()
    sc = small_scenario([{"position": [10, 20], "channel": 36}], clients=3, mean_mbps=5.0)
    busy = WirelessSimulation(sc, seed=0).run(60)
    assert busy.client_demand_mbps[0] == pytest.approx(np.full(3, 5.0))


def test_rate_used_by_the_sim_is_the_he_table_rate():
    # a single client right next to its AP: 2 SS MCS 11 (HE table) times MAC efficiency, served in full
    # when its demand fits, i.e. demand / airtime equals the effective rate
    s = WirelessSimulation(small_scenario([{"position": [10, 20], "channel": 36}], clients=1, mean_mbps=50.0)).run(1)
    effective = s.throughput_mbps[0, 0, 0] / s.airtime_frac[0, 0, 0]
    assert effective == pytest.approx(2 * HE_RATE_20MHZ_1SS_MBPS[11] * MAC_EFFICIENCY, rel=1e-4)


@pytest.mark.parametrize("name", ["office", "hall", "enterprise"])
def test_association_is_a_fixed_point_so_only_changed_scores_move_clients(name):
    """The simulation re-associates only clients whose scores changed (relocated, or a new
    configuration): sound because associating again with unchanged scores returns the same APs,
    roaming hysteresis included. Held over epochs of moves and a power change."""
    sim = WirelessSimulation(name, seed=3, num_networks=2)
    for i in range(12):
        if i == 6:
            sim.set_power(0, float(sim.ap_min_power_dbm[0]), network=1)
        sim.run(60)
        assert np.array_equal(sim._associate(), sim._assoc), i


@pytest.mark.parametrize("name", ["office", "legacy_24", "residential"])
def test_hidden_node_candidates_are_each_aps_unheard_overlapping_transmitters_in_order(name):
    sim = WirelessSimulation(name, seed=1, num_networks=3)
    sim.set_channel(0, int(sim.channel[1, 1]), network=1)  # networks differ
    r = sim._radio()
    n = sim.num_aps
    cand = ~r.hears[:, :n] & (r.ov_db[:, :n] > -150.0)
    cand[:, np.arange(n), np.arange(n)] = False
    for b in range(3):
        for i in range(n):
            got = r.hidden_cand[b, i]
            assert got[got >= 0].tolist() == np.flatnonzero(cand[b, i]).tolist()
            assert (got[(got >= 0).sum() :] == -1).all()


@pytest.mark.parametrize("name", ["office", "legacy_24", "enterprise"])
def test_hidden_nodes_kept_row_by_row_equal_a_full_recomputation(name):
    """After epochs of relocations (rows redone one client at a time), the hidden-node lists equal
    those computed for every client from scratch."""
    sim = WirelessSimulation(name, seed=5, num_networks=2)
    for _ in range(8):
        sim.run(60)
    kept = sim._hidden_list
    r = sim._radio()
    sim._links_stale = True
    assert sim._links(r) is True
    full = sim._hidden(r, sim._assoc, True)
    for a, b in zip(kept, full, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["office", "legacy_24", "enterprise", "residential"])
def test_hidden_lists_patched_in_place_hold_each_clients_sources_in_order(name, monkeypatch):
    """Patched after epochs (old entries silenced, new ones appended), the hidden-node lists hold,
    client by client, the entries of the lists built in order from every row, in the same order,
    and their other entries name the silent source."""
    from rrm_gym.sim import simulation

    monkeypatch.setattr(simulation, "_ROWS_MIN_CLIENTS", 0)
    sim = WirelessSimulation(name, seed=5, num_networks=3)
    for _ in range(10):
        sim.run(60)
    holes = sim._hidden_holes
    assert holes is not None and holes.n_h > holes.live_h  # patched, with silenced entries
    kept = sim._hidden_list
    r = sim._radio()
    sim._links_stale = True
    assert sim._links(r) is True
    full = sim._hidden(r, sim._assoc, True)
    assert (holes.live_h, holes.live_c) == ((kept[1] != holes.silent).sum(), (kept[4] != holes.silent).sum())
    for live, lists in ((kept[1] != holes.silent, (0, 1, 2)), (kept[4] != holes.silent, (3, 4, 5))):
        order = np.argsort(kept[lists[0]][live], kind="stable")  # by client, each client's in place
        for i in lists:
            assert np.array_equal(kept[i][live][order], full[i]), i


def test_a_reading_held_over_every_epoch_of_a_long_run_stays_one_view():
    """office's APs sense no interferer: over three epochs the non-Wi-Fi readings are one held
    value, returned as a view over all 180 ticks, equal to joining the spans tick by tick."""
    long = WirelessSimulation("office", seed=0).run(180)
    sim = WirelessSimulation("office", seed=0)
    parts = [sim.run(60) for _ in range(3)]
    for name in ("nonwifi_kind", "nonwifi_confidence", "transmitting"):
        x = getattr(long, name)
        assert x.shape[1] == 180 and x.strides[1] == 0 and not x.flags.writeable, name
        assert np.array_equal(x, np.concatenate([getattr(p, name) for p in parts], axis=1)), name


def test_interferer_readings_kept_per_set_of_states_equal_readings_worked_out_afresh(monkeypatch):
    """legacy_24's ovens switch within segments, so most segments hold several interferer states;
    the readings kept per set of states (and per steady state) must be exactly those worked out
    for every segment afresh, and the keeping must have been used. In dfs_site (no interferer)
    an outage's ticks are states of their own: spans of one and of two such ticks, under one
    configuration, must each get readings for their own number of states."""
    from rrm_gym.sim import simulation

    def script(name: str, kept: int) -> tuple[list[Sensing], int]:
        monkeypatch.setattr(simulation, "_SENSED_KEPT", kept)
        calls = 0
        sense = simulation.WirelessSimulation._sense_interferers

        def spy(self, r, on_s):
            nonlocal calls
            calls += 1
            return sense(self, r, on_s)

        monkeypatch.setattr(simulation.WirelessSimulation, "_sense_interferers", spy)
        sim = WirelessSimulation(name, seed=3, num_networks=8)
        out = [sim.run(60) for _ in range(12)]
        other = {1: 6, 6: 1, 11: 6, 52: 56, 56: 52, 60: 64, 64: 60, 100: 104, 104: 100, 36: 40, 40: 36}
        sim.set_channel(0, other[int(sim.channel[1, 0])], network=1)  # an outage of 2 s
        out += [sim.run(1), sim.run(2), sim.run(57)]  # one outage tick (one state); one and a normal tick
        sim.set_power(1, 10.0, network=0)
        out += [sim.run(60) for _ in range(2)]
        monkeypatch.setattr(simulation.WirelessSimulation, "_sense_interferers", sense)
        return out, calls

    for name in ("legacy_24", "dfs_site"):
        afresh, calls_afresh = script(name, 0)  # nothing kept: worked out every segment
        kept, calls_kept = script(name, 256)
        assert calls_afresh == 17 and calls_kept < calls_afresh
        if name == "legacy_24":
            assert sum(p.nonwifi_duty_frac.strides[1] != 0 for p in kept) >= 10  # segments of several states
        for a, b in zip(afresh, kept, strict=True):
            assert_sensing_equal(a, b)


@pytest.mark.parametrize("name", ["enterprise", "legacy_24"])
def test_collision_losses_kept_with_the_hidden_lists_equal_losses_worked_out_afresh(name, monkeypatch):
    """The frame loss of each possible collision is kept with the hidden-node lists and worked
    out again only where its client's MCS changed or the entry is new: over epochs that patch the
    lists and a configuration change that rebuilds them, the sensing must be exactly what working
    every entry out afresh gives, and the kept losses must have been used."""
    from rrm_gym.sim import simulation

    monkeypatch.setattr(simulation, "_ROWS_MIN_CLIENTS", 0)  # patched lists even for three networks

    def script(afresh: bool) -> tuple[list[Sensing], int]:
        sim = WirelessSimulation(name, seed=4, num_networks=3)
        kept_uses = 0
        collision_per = simulation.WirelessSimulation._collision_per

        def spy(self, sinr_db, mcs):
            nonlocal kept_uses
            if afresh:
                self._collision_kept = None
            elif self._collision_kept is not None:
                kept_uses += 1
            return collision_per(self, sinr_db, mcs)

        monkeypatch.setattr(simulation.WirelessSimulation, "_collision_per", spy)
        out = [sim.run(60) for _ in range(8)]
        sim.set_power(2, 8.0, network=1)
        out += [sim.run(60) for _ in range(4)]
        monkeypatch.setattr(simulation.WirelessSimulation, "_collision_per", collision_per)
        return out, kept_uses

    afresh, _ = script(True)
    kept, uses = script(False)
    assert uses >= 8
    for a, b in zip(afresh, kept, strict=True):
        assert_sensing_equal(a, b)


@pytest.mark.parametrize("rows", [5, 64, 700])
def test_rows_put_whole_are_numpys_row_assignment(rows):
    """``_put_rows`` (few rows assigned plainly, many put as opaque items) writes the bytes numpy's
    row assignment writes, casting as it casts, and touches no other row."""
    from rrm_gym.sim.simulation import _put_rows

    rng = np.random.default_rng(rows)
    for dtype, width, values_dtype in ((np.float32, 8, np.float64), (np.float64, 3, np.float64), (np.intp, 5, np.intp)):
        x = rng.normal(size=(4, 500, width)).astype(dtype)
        at = np.sort(rng.choice(x.shape[0] * x.shape[1], rows, replace=False))
        values = (rng.normal(size=(rows, width)) * 100).astype(values_dtype)
        expected = x.copy()
        expected.reshape(-1, width)[at] = values
        _put_rows(x, at, values)
        assert x.dtype == dtype and np.array_equal(x, expected)


@pytest.mark.parametrize("shape", [(1, 3600, 2), (7, 3600, 3), (64, 50, 1)])
def test_uniform_draws_made_a_few_rows_at_a_time_are_one_draws_values(shape):
    """``_uniform_below`` (the draws of interferer sessions and radar bursts, a few networks at a
    time into one buffer) gives ``rng.random(shape) < p`` and leaves the stream where that leaves it."""
    from rrm_gym.sim.simulation import _uniform_below

    p = np.linspace(0.1, 0.9, shape[2])
    one, chunked = np.random.default_rng(5), np.random.default_rng(5)
    expected = one.random(shape) < p
    got = _uniform_below(chunked, shape, p, np.empty((3, *shape[1:])))
    assert got.dtype == bool and np.array_equal(got, expected)
    assert got.mean() == pytest.approx(p.mean(), abs=0.1)
    assert one.random() == chunked.random()


def test_interferer_sessions_drawn_a_few_networks_at_a_time_are_the_sessions_of_one_draw():
    """Random on/off sessions (``legacy_24``'s ovens and Bluetooth) over two hours of 9 networks:
    the chunked sampler gives what one ``[B, T, E]`` draw of starts and one of session lengths give,
    session ends carried from one hour to the next."""
    from rrm_gym.sim.simulation import _OnOff

    sc = load_scenario("legacy_24")
    schedules = [it.schedule for it in sc.interferers]
    assert any(s.sessions_per_hour > 0 for s in schedules)
    b, ticks = 9, 3600
    sampler = _OnOff(schedules, b, sc.start_hour)
    rng, ref_rng = np.random.default_rng(2), np.random.default_rng(2)
    end = np.full((b, len(schedules)), -np.inf)
    for t0 in (0.0, 3600.0):
        t = t0 + np.arange(ticks, dtype=float)
        hour = (sc.start_hour + t / 3600.0) % 24.0
        window = (hour[:, None] >= sampler.hours[:, 0]) & (hour[:, None] < sampler.hours[:, 1])
        starts = ref_rng.random((b, ticks, len(schedules))) < sampler.rate_per_s * window
        ends = np.where(starts, t[:, None] + ref_rng.exponential(sampler.mean_session_s, starts.shape), -np.inf)
        ends[:, 0] = np.maximum(ends[:, 0], end)
        ends = np.maximum.accumulate(ends, axis=1)
        end = ends[:, -1].copy()
        expected = sampler.always | (ends > t[:, None])
        got = sampler.sample(t0, ticks, rng)
        assert np.array_equal(got, expected)
        assert 0.0 < got.mean() < 1.0
    assert rng.random() == ref_rng.random()
