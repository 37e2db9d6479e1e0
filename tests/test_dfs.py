"""DFS as regulation reads it: radar, detected or injected, bars every 20 MHz channel of the band
the AP was using, network-wide; the compliance monitor counts injected radar as radar and checks
the channel closing transmission time at the tick resolution."""

from __future__ import annotations

import numpy as np
import pytest
from safety_helpers import (
    assert_compliant,
    covers,
    make_loop,
    one_ap,
    radar_site,
    records,
)

from rrm_gym.config import scenario_from_dict
from rrm_gym.radio.regulatory import (
    DFS_CLOSING_TIME_S,
    DFS_NON_OCCUPANCY_S,
    ETSI,
    SLOT_MEMBERS,
    slot_index,
)
from rrm_gym.safety import (
    AuditLog,
    ChangeRequest,
    ComplianceMonitor,
    EventLoop,
    Outcome,
    Source,
)
from rrm_gym.sim import WirelessSimulation

KEY = b"test-dfs-key-0123456789"


def site(aps: list[dict], domain: str = "ETSI"):
    return scenario_from_dict(
        {
            "name": "dfs-test",
            "regulatory_domain": domain,
            "area": {"width_m": 100.0, "height_m": 40.0},
            "propagation": {"model": "enterprise", "shadowing_sigma_db": 0.0},
            "loops": {"fast_period_s": 60, "slow_period_s": 3600, "epoch_s": 60},
            "aps": [{"power_dbm": 20, **ap} for ap in aps],
            "clients": {
                "count": 4 * len(aps),
                "placement": {
                    "kind": "hotspots",
                    "hotspots": [{"center": list(ap["position"]), "radius_m": 1.0} for ap in aps],
                },
                "demand": {"mean_mbps": 5.0, "sigma": 0.0, "profile": "flat", "hourly": [1.0] * 24},
                "mobility": {"mobile_fraction": 0.0},
            },
        },
        source="<test_dfs>",
    )


def bonded_site(domain: str = "ETSI"):
    """AP 0 on 52 at 40 MHz (52 + 56), APs 1 and 2 on 36 and 100 at 20 MHz."""
    return site(
        [
            {"position": [10, 20], "channel": 52, "width_mhz": 40, "max_width_mhz": 40},
            {"position": [50, 20], "channel": 36, "width_mhz": 20, "max_width_mhz": 40},
            {"position": [90, 20], "channel": 100, "width_mhz": 20, "max_width_mhz": 40},
        ],
        domain,
    )


def on_channel(sim: WirelessSimulation, ap: int, channel: int) -> bool:
    return bool(SLOT_MEMBERS[sim.slot[0, ap], channel])


def test_injected_radar_bars_every_20_mhz_channel_of_the_band_network_wide():
    sim = WirelessSimulation(bonded_site(), seed=0)
    loop = EventLoop(sim, audit=AuditLog(KEY))
    loop.advance(5)
    loop.inject_dfs_event(0)  # reported on AP 0's primary channel, 52
    now = sim.time_s
    for ch in (52, 56):
        assert loop.dfs.barred(0, slot_index(ch), now), ch
        assert not on_channel(sim, 0, ch)
    # another AP may not walk onto the other half of the band in the same second
    r = loop.submit(ChangeRequest(1, channel=56))
    assert r.outcome is Outcome.REJECTED and "barred after radar" in r.reason
    # and the radar's audit record names the whole band
    (rec,) = [x for x in loop.audit.records if x.event_type == "DFS_RADAR"]
    assert rec.execution_status == "SUCCESS"
    # over the non-occupancy period nobody transmits on 52 or 56, and the monitor agrees
    loop.advance(600)
    for ap in range(3):
        assert not on_channel(sim, ap, 52) and not on_channel(sim, ap, 56)
    c = loop.counters()
    assert c["radar_hits"] == 1 and c["dfs_violations"] == 0 and c["closing_violations"] == 0


def test_radar_reported_outside_the_aps_band_bars_only_that_channel():
    sim = WirelessSimulation(bonded_site(), seed=0)
    loop = EventLoop(sim, audit=AuditLog(KEY))
    loop.inject_dfs_event(0, channel=104)  # an off-channel report: AP 0 is on 52 + 56
    assert loop.dfs.barred(0, slot_index(104), sim.time_s)
    assert not loop.dfs.barred(0, slot_index(52), sim.time_s) and on_channel(sim, 0, 52)


def test_the_monitor_counts_injected_radar_and_catches_a_radio_put_back_on_its_band():
    sim = WirelessSimulation(bonded_site(), seed=0)
    loop = EventLoop(sim, audit=AuditLog(KEY))
    loop.advance(5)
    loop.inject_dfs_event(0)
    assert loop.counters()["radar_hits"] == 1
    loop.advance(20)
    # bypass the loop, as a broken controller would: AP 0 back on 56 (the half that was not its primary)
    sim.set_channel(0, 56, 20)
    loop.advance(30)
    c = loop.counters()
    assert c["non_occupancy_violation_s"] >= 25, c
    assert c["dfs_violations"] >= 25


def test_closing_transmission_time_is_checked_at_the_tick_resolution():
    for domain in ("FCC", "ETSI"):
        sim = WirelessSimulation(bonded_site(domain), seed=0)
        mon = ComplianceMonitor(sim)
        sim.run(3)
        # radar reported at t = 3; the radio stays on its band for 4 more seconds before it leaves
        mon.note_radar(0, 0, SLOT_MEMBERS[sim.slot[0, 0]], float(sim.time_s))
        slot, power = sim.slot.copy(), sim.power_dbm.copy()
        s = sim.run(5)
        mon.observe(s, slot, power)
        airtime = float(s.airtime_frac[0, 1:, 0].sum())  # the seconds after the pulse's own
        assert mon.closing_worst_s == 0.0  # the window is still open
        sim.set_channel(0, 36, 20)
        slot = sim.slot.copy()
        mon.observe(sim.run(10), slot, power)
        assert np.isclose(mon.closing_worst_s, airtime) and airtime > 0
        assert mon.closing_violations == int(airtime > DFS_CLOSING_TIME_S[domain]), (domain, airtime)
        # within the move time: not a non-occupancy violation
        assert mon.non_occupancy_violation_s == 0


def test_a_prompt_move_uses_no_closing_transmission_time():
    sim = WirelessSimulation(bonded_site("FCC"), seed=0)
    loop = EventLoop(sim, audit=AuditLog(KEY))
    loop.advance(5)
    loop.inject_dfs_event(0)
    loop.advance(30)
    assert loop.compliance.closing_worst_s == 0.0 and loop.counters()["closing_violations"] == 0
    assert DFS_NON_OCCUPANCY_S == 1800.0


# ---- radar, non-occupancy and CAC on small sites and dfs_site


def test_radar_on_dfs_site_moves_the_ap_off_channel_within_one_second_and_bars_it_for_non_occupancy():
    sim, loop = make_loop("dfs_site", seed=0)
    radar = next(r for r in sim.scenario.radars if r.channel == 52 and 300 in r.at_s)
    assert radar.position is None  # heard site-wide
    on_52 = [ap for ap in range(sim.num_aps) if covers(sim, ap, 52)]
    assert on_52, "dfs_site should start an AP on channel 52"

    loop.advance(300)
    assert all(covers(sim, ap, 52) for ap in on_52), "no radar on 52 before t = 300"
    loop.advance(10)
    # off the channel well within the 10 s move time: the loop acts at the next tick boundary
    assert not any(covers(sim, ap, 52) for ap in on_52)
    moves = [r for r in records(loop, event_type="DFS_RADAR") if r.details.get("detected_s") == 300.0]
    assert sorted(r.ap_id for r in moves) == on_52
    for r in moves:
        assert r.sim_time_s == 301.0
        assert r.execution_status == "SUCCESS"
        assert r.action_type == "CHANNEL_CHANGE"
        assert "radar" in r.reason
    c = loop.counters()
    assert 0 < c["dfs_reaction_worst_s"] <= 1.0
    assert c["radar_hits"] >= len(on_52)
    assert_compliant(loop)

    # for the non-occupancy period no request may put an AP back on 52, at any width
    ap = on_52[0]
    while sim.time_s < 300 + DFS_NON_OCCUPANCY_S - 1:
        for source in (Source.AGENT, Source.MANUAL):
            for width in (20, 40):
                r = loop.submit(ChangeRequest(ap, channel=52, width_mhz=width, source=source))
                assert r.outcome is Outcome.REJECTED
                assert "barred" in r.reason
                assert not covers(sim, ap, 52)
        loop.advance(min(250, int(300 + DFS_NON_OCCUPANCY_S - 1 - sim.time_s)))
    assert loop.dfs.barred(0, slot_index(52), sim.time_s)
    assert not any(covers(sim, a, 52) for a in range(sim.num_aps))
    assert_compliant(loop)


def test_radar_channel_is_accepted_again_only_after_non_occupancy_and_then_needs_a_fresh_cac():
    sim, loop = make_loop(radar_site())
    loop.advance(301)
    assert sim.channel[0, 0] != 52
    assert sim.tx_enabled[0, 0]
    until = float(loop.dfs.barred_until_s[0, 52])
    assert 300 + DFS_NON_OCCUPANCY_S <= until <= 301 + DFS_NON_OCCUPANCY_S

    loop.advance(int(until - sim.time_s) - 1)
    r = loop.submit(ChangeRequest(0, channel=52, source=Source.MANUAL))
    assert r.outcome is Outcome.REJECTED and "barred" in r.reason
    loop.advance(1)
    assert not loop.dfs.barred(0, slot_index(52), sim.time_s)
    r = loop.submit(ChangeRequest(0, channel=52, source=Source.MANUAL))
    assert r.outcome is Outcome.APPLIED
    assert sim.channel[0, 0] == 52
    assert not sim.tx_enabled[0, 0]  # channel availability check first
    s = loop.advance(59)
    assert not s.transmitting[0, :, 0].any()
    loop.advance(1)
    assert sim.tx_enabled[0, 0]
    s = loop.advance(10)
    assert s.transmitting[0, :, 0].all()
    assert s.throughput_mbps[0, :, 0].min() > 0
    assert_compliant(loop)


def test_radar_heard_during_a_cac_moves_the_silent_ap_and_bars_the_channel():
    sim, loop = make_loop(radar_site(at_s=(30,)))
    # AP 1 goes to 52 at t = 0: still in its 60 s CAC when the radar appears at t = 30
    assert loop.submit(ChangeRequest(1, channel=52)).accepted
    loop.advance(31)
    assert not covers(sim, 1, 52) and not covers(sim, 0, 52)
    assert sim.tx_enabled[0, 0]
    assert loop.dfs.barred(0, slot_index(52), sim.time_s)
    assert loop.counters()["dfs_reaction_worst_s"] <= 1.0
    assert_compliant(loop)


@pytest.mark.parametrize(
    ("channel", "width", "cac_s"),
    [(52, 20, 60), (100, 20, 60), (64, 40, 60), (120, 20, 600), (124, 20, 600), (128, 20, 600), (116, 40, 600)],
)
def test_cac_keeps_an_ap_silent_on_a_fresh_dfs_channel_for_its_full_duration(channel, width, cac_s):
    assert ETSI.cac_s(channel, width) == cac_s
    sim, loop = make_loop(one_ap(36))
    loop.advance(5)
    r = loop.submit(ChangeRequest(0, channel=channel, width_mhz=width))
    assert r.outcome is Outcome.APPLIED
    assert (sim.channel[0, 0], sim.width_mhz[0, 0]) == (channel, width)
    assert not sim.tx_enabled[0, 0]

    s = loop.advance(cac_s - 1)  # up to one second before the CAC ends
    assert not s.transmitting[0, :, 0].any()
    assert s.throughput_mbps[0, :, 0].max() == 0.0
    assert not sim.tx_enabled[0, 0]
    loop.advance(1)
    assert sim.tx_enabled[0, 0]
    s = loop.advance(5)
    assert s.transmitting[0, :, 0].all()
    assert s.throughput_mbps[0, :, 0].min() > 0
    assert (sim.channel[0, 0], sim.width_mhz[0, 0]) == (channel, width)
    assert_compliant(loop)


def test_a_move_to_a_non_dfs_channel_needs_no_cac():
    sim, loop = make_loop(radar_site())
    r = loop.submit(ChangeRequest(0, channel=40))
    assert r.outcome is Outcome.APPLIED
    assert sim.tx_enabled[0, 0]
    s = loop.advance(5)
    assert s.transmitting[0, :, 0].all()
    assert_compliant(loop)


def test_sensing_returned_by_advance_shows_the_ap_silent_for_every_second_of_its_cac():
    # The span that ends at the CAC deadline must still read "not transmitting" after the loop
    # switches the radio back on: Sensing is a record of what happened, not a view of live state.
    sim, loop = make_loop(one_ap(36))
    loop.advance(5)
    assert loop.submit(ChangeRequest(0, channel=52)).accepted
    s = loop.advance(60)  # t = 5 .. 64: the CAC runs exactly to the end of this call
    assert sim.tx_enabled[0, 0]
    assert not s.transmitting[0, :, 0].any(), np.flatnonzero(s.transmitting[0, :, 0]) + s.t0_s


def test_compliance_monitor_counts_cac_violations_of_a_sim_that_moves_onto_dfs_without_silence():
    sim = WirelessSimulation(one_ap(36), seed=0)
    mon = ComplianceMonitor(sim)
    sim.set_channel(0, 52)
    slot, power = sim.slot.copy(), sim.power_dbm.copy()
    mon.observe(sim.run(60), slot, power)
    assert mon.cac_violation_s == 60
    assert mon.dfs_violations == 60
    assert mon.non_occupancy_violation_s == 0
    mon.observe(sim.run(10), slot, power)
    assert mon.cac_violation_s == 70  # it never listened: every second on air is a breach


def test_compliance_monitor_accepts_a_full_cac_and_counts_one_that_ends_a_second_early():
    def run(silent_s: int) -> ComplianceMonitor:
        sim = WirelessSimulation(one_ap(36), seed=0)
        mon = ComplianceMonitor(sim)
        sim.set_channel(0, 120)  # ETSI weather channel: 600 s
        sim.set_tx_enabled(0, False)
        slot, power = sim.slot.copy(), sim.power_dbm.copy()
        mon.observe(sim.run(silent_s), slot, power)
        sim.set_tx_enabled(0, True)
        mon.observe(sim.run(10), slot, power)
        return mon

    assert run(600).dfs_violations == 0
    early = run(599)
    assert early.cac_violation_s == 10
    assert early.non_occupancy_violation_s == 0


def test_compliance_monitor_counts_non_occupancy_violations_of_an_ap_that_ignores_radar():
    sim = WirelessSimulation(radar_site(at_s=(5,)), seed=0)
    mon = ComplianceMonitor(sim)
    slot, power = sim.slot.copy(), sim.power_dbm.copy()
    mon.observe(sim.run(60), slot, power)
    assert mon.radar_hits == 1  # AP 0 on 52; AP 1 on 36 has nothing to do
    # pulse at t = 5, move time 10 s: every second on air from t = 15 is a breach
    assert mon.non_occupancy_violation_s == 60 - 15
    mon.observe(sim.run(60), slot, power)
    assert mon.non_occupancy_violation_s == 120 - 15
    assert mon.cac_violation_s == 0


def test_compliance_monitor_accepts_a_move_within_the_move_time_and_counts_an_early_return():
    sim = WirelessSimulation(radar_site(at_s=(5,)), seed=0)
    mon = ComplianceMonitor(sim)

    def span(seconds: int) -> None:
        slot, power = sim.slot.copy(), sim.power_dbm.copy()
        mon.observe(sim.run(seconds), slot, power)

    span(14)  # the pulse at t = 5; still on 52 up to t = 13, inside the 10 s move time
    sim.set_channel(0, 40)
    span(86)
    assert mon.dfs_violations == 0
    # back to 52 after a full, silent CAC, but 160 s after the pulse: non-occupancy still runs
    sim.set_channel(0, 52)
    sim.set_tx_enabled(0, False)
    span(60)
    sim.set_tx_enabled(0, True)
    span(10)
    assert mon.cac_violation_s == 0
    assert mon.non_occupancy_violation_s == 10


def test_compliance_monitor_counts_eirp_violations_while_transmitting_only():
    sim = WirelessSimulation(one_ap(36, max_power_dbm=30), seed=0)
    mon = ComplianceMonitor(sim)
    sim.set_power(0, 26.0)  # ETSI 5150-5350 MHz: 23 dBm
    slot, power = sim.slot.copy(), sim.power_dbm.copy()
    mon.observe(sim.run(10), slot, power)
    assert mon.eirp_violation_s == 10
    sim.set_tx_enabled(0, False)
    mon.observe(sim.run(10), slot, power)
    assert mon.eirp_violation_s == 10
    assert mon.dfs_violations == 0
