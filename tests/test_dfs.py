"""DFS as regulation reads it: radar, detected or injected, bars every 20 MHz channel of the band
the AP was using, network-wide; the compliance monitor counts injected radar as radar and checks
the channel closing transmission time at the tick resolution."""

from __future__ import annotations

import numpy as np

from rrm_gym.config import scenario_from_dict
from rrm_gym.radio.regulatory import DFS_CLOSING_TIME_S, DFS_NON_OCCUPANCY_S, SLOT_MEMBERS, slot_index
from rrm_gym.safety import AuditLog, ChangeRequest, EventLoop, Outcome
from rrm_gym.safety.dfs import ComplianceMonitor
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
