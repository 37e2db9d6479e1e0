"""Safety layer (event loop): DFS, shield, cooldown, rollback, detectors and the audit trail.

Most tests run on small hand-built scenarios (no shadowing, static clients in 1 m hotspots at
the APs, every client always active) so that what the loop must do is known exactly; the DFS
and random-stream tests also run on the packaged ``dfs_site`` scenario.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rrm_gym.config import Scenario, scenario_from_dict
from rrm_gym.radio.regulatory import (
    DFS_NON_OCCUPANCY_S,
    ETSI,
    SLOT_BAND_GHZ,
    SLOT_CHANNEL,
    SLOT_MEMBERS,
    SLOT_WIDTH_MHZ,
    slot_index,
)
from rrm_gym.safety import (
    AuditLog,
    ChangeRequest,
    ComplianceMonitor,
    CooldownConfig,
    DetectorConfig,
    Event,
    EventLoop,
    EventLoopConfig,
    EventQueue,
    EventType,
    Outcome,
    RollbackConfig,
    ShieldConfig,
    Source,
    pseudonymise,
)
from rrm_gym.safety.audit import verify_records
from rrm_gym.safety.rollback import RollbackManager
from rrm_gym.sim import WirelessSimulation

KEY = b"test-safety-key-0123456789abcdef"
APPLIED_STATUSES = ("SUCCESS", "MODIFIED", "ROLLED_BACK")
COOLDOWN_S = {"channel": 300.0, "width_mhz": 300.0, "power_dbm": 60.0}  # CooldownConfig defaults
_CHANNELS_5 = (36, 40, 44, 48, 52, 56, 60, 64, *range(100, 145, 4), 149, 153, 157, 161, 165)
REAL_CHANNELS = (*range(1, 15), *_CHANNELS_5)


# ---------------------------------------------------------------- helpers


def small_scenario(
    aps: list[dict],
    *,
    domain: str = "ETSI",
    clients_per_ap: int = 10,
    mean_mbps: float = 15.0,
    area: tuple[float, float] = (100.0, 40.0),
    interferers: tuple[dict, ...] = (),
    radars: tuple[dict, ...] = (),
    neighbors: tuple[dict, ...] = (),
    hotspots: list[dict] | None = None,
) -> Scenario:
    """Deterministic geometry: no shadowing, ``clients_per_ap`` static clients in a 1 m hotspot at each AP
    (unless ``hotspots`` says otherwise), all always active with ``mean_mbps`` each."""
    if hotspots is None:
        hotspots = [{"center": list(ap["position"]), "radius_m": 1.0} for ap in aps]
    return scenario_from_dict(
        {
            "name": "safety-test",
            "regulatory_domain": domain,
            "area": {"width_m": area[0], "height_m": area[1]},
            "propagation": {"model": "enterprise", "shadowing_sigma_db": 0.0},
            "loops": {"fast_period_s": 60, "slow_period_s": 3600, "epoch_s": 60},
            "aps": [{"power_dbm": 20, "width_mhz": 20, **ap} for ap in aps],
            "clients": {
                "count": clients_per_ap * len(aps),
                "placement": {"kind": "hotspots", "hotspots": hotspots},
                "demand": {"mean_mbps": mean_mbps, "sigma": 0.0, "profile": "flat", "hourly": [1.0] * 24},
                "mobility": {"mobile_fraction": 0.0},
            },
            "neighbors": list(neighbors),
            "interferers": list(interferers),
            "radars": list(radars),
        },
        source="<test_safety>",
    )


def make_loop(
    scenario: Scenario | str, seed: int = 0, audit_seed: int | None = 0, **config
) -> tuple[WirelessSimulation, EventLoop]:
    sim = WirelessSimulation(scenario, seed=seed)
    loop = EventLoop(sim, config=EventLoopConfig(**config), audit=AuditLog(KEY, seed=audit_seed))
    return sim, loop


def one_ap(channel: int = 36, **ap) -> Scenario:
    """A single 5 GHz AP alone in the area with its ten clients."""
    return small_scenario([{"position": [10, 20], "channel": channel, "max_width_mhz": 40, **ap}])


def shield_site() -> Scenario:
    """ETSI: AP 0 a 30 dBm-capable radio on channel 100 at 28 dBm; AP 1 a 2.4 GHz radio; AP 2 on 36 (max 40 MHz)."""
    return small_scenario(
        [
            {"position": [10, 20], "channel": 100, "power_dbm": 28, "max_power_dbm": 30, "max_width_mhz": 40},
            {"position": [50, 20], "channel": 6},
            {"position": [90, 20], "channel": 36, "max_power_dbm": 30, "max_width_mhz": 40},
        ]
    )


def records(loop: EventLoop, **match) -> list:
    return [r for r in loop.audit.records if all(getattr(r, k) == v for k, v in match.items())]


def config_of(sim: WirelessSimulation, ap: int) -> tuple[int, int, float]:
    return int(sim.channel[0, ap]), int(sim.width_mhz[0, ap]), float(sim.power_dbm[0, ap])


def covers(sim: WirelessSimulation, ap: int, channel: int) -> bool:
    """Whether AP ``ap``'s band includes the 20 MHz channel ``channel``."""
    return bool(SLOT_MEMBERS[sim.slot[0, ap], channel])


def assert_compliant(loop: EventLoop) -> None:
    c = loop.counters()
    assert c["dfs_violations"] == 0, c
    assert c["cac_violation_s"] == 0, c
    assert c["non_occupancy_violation_s"] == 0, c
    assert c["eirp_violations"] == 0, c


# ---------------------------------------------------------------- 1. radar: move and non-occupancy


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


def radar_site(at_s: tuple[float, ...] = (300,)) -> Scenario:
    """ETSI: AP 0 on DFS channel 52, AP 1 on 36 far away; a site-wide radar on 52 at ``at_s``."""
    return small_scenario(
        [
            {"position": [10, 20], "channel": 52, "max_width_mhz": 40},
            {"position": [90, 20], "channel": 36, "max_width_mhz": 40},
        ],
        radars=({"name": "airport", "channel": 52, "at_s": list(at_s)},),
    )


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


# ---------------------------------------------------------------- 2. channel availability check


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


# ---------------------------------------------------------------- 3. rollback never restores a barred channel


def test_rollback_by_token_never_restores_a_barred_channel_and_restores_the_power_only():
    sim, loop = make_loop(radar_site(at_s=()))
    loop.advance(10)
    r = loop.submit(ChangeRequest(0, channel=40, power_dbm=15.0, source=Source.MANUAL, reason="test move"))
    assert r.outcome is Outcome.APPLIED
    token = loop.last_token
    assert token is not None
    assert records(loop, rollback_token=token, execution_status="SUCCESS")
    loop.advance(20)
    loop.inject_dfs_event(1, channel=52)  # radar reported on the old channel: 52 is barred
    assert loop.dfs.barred(0, slot_index(52), sim.time_s)
    assert config_of(sim, 0) == (40, 20, 15.0)  # AP 0 is not on 52: nothing to move

    result = loop.rollback(token)
    assert result.accepted
    assert result.applied == {"power_dbm": 20.0}
    assert config_of(sim, 0) == (40, 20, 20.0)
    assert sim.tx_enabled[0, 0]
    rb = records(loop, action_type="ROLLBACK", rollback_token=token)
    assert len(rb) == 1
    assert rb[0].execution_status == "ROLLED_BACK"
    assert "barred" in rb[0].reason and "power only" in rb[0].reason
    assert [c["param"] for c in rb[0].configuration_changes] == ["power_dbm"]
    assert loop.counters()["rollbacks_manual"] == 1

    # after non-occupancy the same token may restore the channel, which then needs its CAC
    loop.advance(int(loop.dfs.barred_until_s[0, 52] - sim.time_s) + 1)
    loop.rollback(token)
    assert config_of(sim, 0) == (52, 20, 20.0)
    assert not sim.tx_enabled[0, 0]
    loop.advance(70)
    assert sim.tx_enabled[0, 0]
    assert_compliant(loop)


def test_automatic_rollback_of_a_degrading_change_never_restores_a_barred_channel():
    # AP 1 leaves DFS channel 52 for 36, AP 0's channel: they share airtime, so the change degrades;
    # meanwhile radar bars 52. The automatic rollback must not put AP 1 back there.
    sc = small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [30, 20], "channel": 52}],
        mean_mbps=18.0,
    )
    sim, loop = make_loop(sc, rollback=RollbackConfig(window_s=60), react_to_saturation=False)
    loop.advance(60)
    assert loop.submit(ChangeRequest(1, channel=36, power_dbm=18.0)).accepted
    token = loop.last_token
    loop.advance(10)
    loop.inject_dfs_event(0, channel=52)
    loop.advance(60)
    assert loop.counters()["rollbacks_auto"] == 1
    assert not covers(sim, 1, 52)
    assert config_of(sim, 1) == (36, 20, 20.0)
    (rb,) = records(loop, action_type="ROLLBACK", rollback_token=token)
    assert rb.execution_status == "ROLLED_BACK"
    assert rb.event_type == "DEGRADATION"
    assert "barred" in rb.reason
    assert_compliant(loop)


# ---------------------------------------------------------------- 4. random and adversarial request streams


def mixed_site() -> Scenario:
    """ETSI with radios of every kind: 30 dBm-capable, 2.4 GHz, 80/160 MHz, weather channel; radar on 52,
    56, 104 and 120 at fixed and random times."""
    return small_scenario(
        [
            {"position": [5, 5], "channel": 52, "max_width_mhz": 80, "max_power_dbm": 30},
            {"position": [30, 5], "channel": 36, "width_mhz": 40, "max_width_mhz": 40, "max_power_dbm": 30},
            {"position": [55, 5], "channel": 1, "max_power_dbm": 30},
            {"position": [5, 35], "channel": 120},
            {"position": [30, 35], "channel": 100, "width_mhz": 80, "max_width_mhz": 160, "power_dbm": 28,
             "max_power_dbm": 30},
            {"position": [55, 35], "channel": 6, "min_power_dbm": -5, "max_power_dbm": 20},
        ],
        clients_per_ap=6,
        mean_mbps=10.0,
        area=(60.0, 40.0),
        radars=(
            {"name": "a", "channel": 52, "at_s": [100, 700], "rate_per_hour": 2.0},
            {"name": "b", "channel": 56, "rate_per_hour": 2.0},
            {"name": "c", "channel": 104, "at_s": [250], "rate_per_hour": 2.0},
            {"name": "d", "channel": 120, "at_s": [400], "rate_per_hour": 1.0},
        ),
    )  # fmt: skip


def fcc_site() -> Scenario:
    """FCC: 36 dBm-capable radios (DFS sub-bands allow 30 dBm), 160 MHz, U-NII-3 and 2.4 GHz; radar on 52, 100, 140."""
    return small_scenario(
        [
            {"position": [5, 5], "channel": 100, "width_mhz": 160, "max_width_mhz": 160, "power_dbm": 30,
             "max_power_dbm": 36},
            {"position": [30, 5], "channel": 149, "width_mhz": 80, "max_width_mhz": 80, "power_dbm": 34,
             "max_power_dbm": 36},
            {"position": [55, 5], "channel": 11, "power_dbm": 30, "max_power_dbm": 36},
            {"position": [30, 35], "channel": 56, "width_mhz": 40, "max_width_mhz": 80, "max_power_dbm": 36},
        ],
        domain="FCC",
        clients_per_ap=6,
        mean_mbps=10.0,
        area=(60.0, 40.0),
        radars=(
            {"name": "a", "channel": 52, "at_s": [90, 600], "rate_per_hour": 2.0},
            {"name": "b", "channel": 100, "at_s": [200], "rate_per_hour": 2.0},
            {"name": "c", "channel": 140, "rate_per_hour": 4.0},
        ),
    )  # fmt: skip


SITES = {"dfs_site": "dfs_site", "mixed": mixed_site(), "fcc": fcc_site()}

channels = st.one_of(st.none(), st.sampled_from(REAL_CHANNELS), st.sampled_from(REAL_CHANNELS), st.integers(-10, 260))
widths = st.one_of(st.none(), st.none(), st.sampled_from([20, 40, 80, 160]), st.integers(-40, 400))
powers = st.one_of(
    st.none(),
    st.none(),
    st.sampled_from([-100.0, -5.0, 0.0, 2.0, 17.5, 20.0, 20.5, 23.0, 23.000001, 28.0, 30.0, 30.5, 36.0, 1e9]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
)
requests = st.builds(
    ChangeRequest,
    ap=st.one_of(st.integers(0, 5), st.integers(0, 11), st.integers(-2, 13)),
    channel=channels,
    width_mhz=widths,
    power_dbm=powers,
    network=st.sampled_from([0] * 5 + [1] * 3 + [2, -1]),
    source=st.sampled_from([Source.AGENT, Source.MANUAL]),
    loop=st.sampled_from(["fast", "slow", "manual"]),
    emergency=st.sampled_from([False] * 4 + [True]),
    reason=st.text(max_size=12),
)
operations = st.one_of(
    st.tuples(st.just("burst"), st.lists(requests, min_size=1, max_size=12)),
    st.tuples(st.just("advance"), st.integers(1, 240)),
    st.tuples(
        st.just("radar"), st.integers(0, 5), st.sampled_from([None, 52, 56, 100, 104, 120, 124, 36]), st.integers(0, 1)
    ),
    st.tuples(st.just("rollback"), st.integers(0, 50)),
)


def assert_configuration_legal(sim: WirelessSimulation, loop: EventLoop) -> None:
    """Every AP on a slot its radio and the domain allow, power in range, EIRP respected while on air."""
    dom = sim.domain
    for b in range(sim.num_networks):
        for ap in range(sim.num_aps):
            slot = int(sim.slot[b, ap])
            assert dom.slot_allowed[slot], (b, ap, slot)
            assert SLOT_BAND_GHZ[slot] == sim.ap_band_ghz[ap]
            assert SLOT_WIDTH_MHZ[slot] <= sim.ap_max_width_mhz[ap]
            p = float(sim.power_dbm[b, ap])
            assert sim.ap_min_power_dbm[ap] <= p <= sim.ap_max_power_dbm[ap]
            if sim.tx_enabled[b, ap]:
                assert p <= dom.slot_max_eirp_dbm[slot] + 1e-9, (b, ap, slot, p)
                assert not loop.dfs.in_cac(b, ap, sim.time_s)


class AuditReplay:
    """Replays the audit trail's configuration changes, checking each old value against the replayed state."""

    def __init__(self, loop: EventLoop) -> None:
        sim = loop.sim
        self.loop = loop
        self.seen = 0
        self.config = {
            (b, ap): {
                "channel": int(sim.channel[b, ap]),
                "width_mhz": int(sim.width_mhz[b, ap]),
                "power_dbm": float(sim.power_dbm[b, ap]),
                "tx_enabled": True,
            }
            for b in range(sim.num_networks)
            for ap in range(sim.num_aps)
        }
        self.last_change: dict[tuple[int, int, str], float] = {}
        # every radar bar (with the audit sequence number it preceded), to tell whether a channel
        # was barred when a past record was written
        self.bars: list[tuple[int, int, float, int]] = []
        bar = loop.dfs.bar

        def recording_bar(network: int, slot: int, now_s: float) -> float:
            self.bars.append((network, slot, now_s, loop.audit.next_sequence))
            return bar(network, slot, now_s)

        loop.dfs.bar = recording_bar

    def barred_before(self, rec) -> bool:  # noqa: ANN001
        """Whether the slot ``rec`` moved its AP to was in non-occupancy when ``rec`` was written."""
        cfg = self.config[(rec.network, rec.ap_id)]
        members = SLOT_MEMBERS[slot_index(cfg["channel"], cfg["width_mhz"])]
        return any(
            b == rec.network
            and seq <= rec.sequence
            and (SLOT_MEMBERS[s] & members).any()
            and t0 <= rec.sim_time_s < t0 + DFS_NON_OCCUPANCY_S
            for b, s, t0, seq in self.bars
        )

    def book(self) -> None:
        recs = self.loop.audit.records
        for rec in recs[self.seen :]:
            if rec.execution_status not in APPLIED_STATUSES:
                assert rec.configuration_changes == ()
                continue
            cfg = self.config[(rec.network, rec.ap_id)]
            for c in rec.configuration_changes:
                if c["param"] != "tx_enabled":
                    assert cfg[c["param"]] == c["old_value"], (rec, cfg)
                cfg[c["param"]] = c["new_value"]
                self.last_change[(rec.network, rec.ap_id, c["param"])] = rec.sim_time_s
            if any(c["param"] in ("channel", "width_mhz") for c in rec.configuration_changes):
                # no move (request, emergency or rollback) puts an AP on a channel in radar non-occupancy
                assert not self.barred_before(rec), rec
        self.seen = len(recs)

    def assert_matches(self, sim: WirelessSimulation) -> None:
        for (b, ap), cfg in self.config.items():
            assert (cfg["channel"], cfg["width_mhz"], cfg["power_dbm"]) == (
                int(sim.channel[b, ap]),
                int(sim.width_mhz[b, ap]),
                float(sim.power_dbm[b, ap]),
            ), (b, ap)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    site=st.sampled_from(sorted(SITES)),
    seed=st.integers(0, 3),
    networks=st.sampled_from([1, 1, 2]),
    ops=st.lists(operations, min_size=4, max_size=30),
)
def test_compliance_monitor_reads_zero_under_random_and_adversarial_request_streams(site, seed, networks, ops):
    sim = WirelessSimulation(SITES[site], seed=seed, num_networks=networks)
    loop = EventLoop(sim, audit=AuditLog(KEY, seed=0))
    max_changes = loop.shield.max_channel_changes
    replay = AuditReplay(loop)
    channel_changes: dict[tuple[float, int], int] = {}

    for op in [*ops, ("advance", 360)]:
        kind = op[0]
        if kind == "burst":
            for req in op[1]:
                before = (sim.slot.copy(), sim.power_dbm.copy(), sim.tx_enabled.copy())
                result = loop.submit(req)  # must never raise
                assert result.outcome in (Outcome.APPLIED, Outcome.MODIFIED, Outcome.REJECTED)
                # an agent cannot claim an emergency: its request is judged as a normal one
                expected = dataclasses.replace(req, emergency=False) if req.source is Source.AGENT else req
                assert result.request == expected
                req = result.request
                if not result.accepted or not result.applied:
                    assert result.reason
                    assert np.array_equal(sim.slot, before[0]) and np.array_equal(sim.power_dbm, before[1])
                    assert np.array_equal(sim.tx_enabled, before[2])
                else:
                    if not req.emergency:
                        for p in result.applied:
                            last = replay.last_change.get((req.network, req.ap, p), -np.inf)
                            assert sim.time_s - last >= COOLDOWN_S[p], (req, result, last)
                        if "channel" in result.applied or "width_mhz" in result.applied:
                            key = (sim.time_s, req.network)
                            channel_changes[key] = channel_changes.get(key, 0) + 1
                            assert channel_changes[key] <= max_changes
                    if "power_dbm" in result.applied:
                        assert math.isfinite(result.applied["power_dbm"])
                replay.book()
                assert_configuration_legal(sim, loop)
        elif kind == "advance":
            loop.advance(op[1])
        elif kind == "radar":
            loop.inject_dfs_event(op[1] % sim.num_aps, channel=op[2], network=op[3] % networks)
        else:
            tokens = list(loop.rollbacks.history)  # changes not yet rolled back
            if tokens:
                loop.rollback(tokens[op[1] % len(tokens)])
        replay.book()
        replay.assert_matches(sim)
        assert_configuration_legal(sim, loop)

    c = loop.counters()
    assert c["dfs_violations"] == 0, c
    assert c["eirp_violations"] == 0, c
    assert c["dfs_reaction_worst_s"] <= 1.0
    check = verify_records(loop.audit.records, KEY, allow_unsealed=True)
    assert check.ok, check
    assert check.records == len(loop.audit.records)


def test_malformed_numeric_channel_or_width_is_rejected_not_raised():
    sim, loop = make_loop(one_ap(36))
    for req in (
        ChangeRequest(0, channel=math.nan),
        ChangeRequest(0, channel=math.inf),
        ChangeRequest(0, width_mhz=math.nan),
    ):
        result = loop.submit(req)
        assert result.outcome is Outcome.REJECTED, req
        assert config_of(sim, 0) == (36, 20, 20.0)


# ---------------------------------------------------------------- 5. shield outcomes and reasons


@pytest.mark.parametrize(
    ("request_", "outcome", "applied", "reason"),
    [
        (ChangeRequest(2, channel=40), Outcome.APPLIED, {"channel": 40}, "ok"),
        (ChangeRequest(2, channel=40, width_mhz=40), Outcome.APPLIED, {"channel": 40, "width_mhz": 40}, "ok"),
        # channel 100 at 28 dBm (30 dBm sub-band) to 36 (23 dBm): power follows the EIRP limit down
        (ChangeRequest(0, channel=36), Outcome.MODIFIED, {"channel": 36, "power_dbm": 23.0}, "EIRP limit"),
        (ChangeRequest(2, power_dbm=26.0), Outcome.MODIFIED, {"power_dbm": 23.0}, "EIRP limit"),
        (ChangeRequest(0, power_dbm=35.0), Outcome.MODIFIED, {"power_dbm": 30.0}, "radio range"),
        (ChangeRequest(2, power_dbm=-5.0), Outcome.MODIFIED, {"power_dbm": 2.0}, "radio range"),
        (ChangeRequest(2, channel=144), Outcome.REJECTED, {}, "not allowed in ETSI"),
        (ChangeRequest(2, channel=165), Outcome.REJECTED, {}, "not allowed in ETSI"),
        (ChangeRequest(2, channel=6), Outcome.REJECTED, {}, "5 GHz radio"),
        (ChangeRequest(1, channel=36), Outcome.REJECTED, {}, "2.4 GHz radio"),
        (ChangeRequest(2, channel=36, width_mhz=80), Outcome.REJECTED, {}, "at most 40 MHz"),
        (ChangeRequest(2, power_dbm=math.nan), Outcome.REJECTED, {}, "not a number"),
        (ChangeRequest(2, power_dbm=math.inf), Outcome.REJECTED, {}, "not a number"),
        (ChangeRequest(3, channel=40), Outcome.REJECTED, {}, "no AP 3"),
        (ChangeRequest(-1, channel=40), Outcome.REJECTED, {}, "no AP -1"),
        (ChangeRequest(2, channel=40, network=1), Outcome.REJECTED, {}, "no network 1"),
        (ChangeRequest(2, channel=37), Outcome.REJECTED, {}, "invalid channel"),
        (ChangeRequest(2, channel=44, width_mhz=30), Outcome.REJECTED, {}, "invalid channel"),
    ],
)
def test_shield_outcome_and_reason(request_, outcome, applied, reason):
    sim, loop = make_loop(shield_site())
    loop.advance(1)
    before = [config_of(sim, ap) for ap in range(sim.num_aps)]
    result = loop.submit(request_)
    assert result.outcome is outcome
    assert result.applied == applied
    assert reason in result.reason
    (rec,) = loop.audit.records
    assert rec.reason == (result.reason if outcome is not Outcome.APPLIED else request_.reason)
    if outcome is Outcome.REJECTED:
        assert [config_of(sim, ap) for ap in range(sim.num_aps)] == before
        assert rec.execution_status == "REJECTED"
        assert rec.configuration_changes == ()
    else:
        ap = request_.ap
        now = config_of(sim, ap)
        for p, v in applied.items():
            assert now[("channel", "width_mhz", "power_dbm").index(p)] == v
        assert rec.execution_status == ("SUCCESS" if outcome is Outcome.APPLIED else "MODIFIED")
        assert {c["param"]: c["new_value"] for c in rec.configuration_changes} == applied
    s = loop.advance(5)
    assert_compliant(loop)
    assert s.transmitting[0].all()


def test_shield_rejects_a_barred_channel_but_not_its_unbarred_neighbour():
    sim, loop = make_loop(shield_site())
    loop.inject_dfs_event(0)  # radar on AP 0's channel 100: 100 is barred, AP 0 moves
    assert sim.channel[0, 0] != 100
    for req in (ChangeRequest(2, channel=100), ChangeRequest(2, channel=104, width_mhz=40)):
        r = loop.submit(req)
        assert r.outcome is Outcome.REJECTED
        assert "barred after radar" in r.reason
    r = loop.submit(ChangeRequest(2, channel=104))
    assert r.outcome is Outcome.APPLIED
    assert_compliant(loop)


def test_no_change_request_is_applied_without_an_action_or_audit_record():
    sim, loop = make_loop(shield_site())
    r = loop.submit(ChangeRequest(2, channel=36, width_mhz=20, power_dbm=20.0))
    assert r.outcome is Outcome.APPLIED
    assert r.applied == {}
    assert loop.audit.records == []
    assert loop.counters()["actions_executed"] == 0


def test_shield_never_sets_power_above_the_eirp_limit_even_when_the_radio_minimum_exceeds_it():
    # A radio that cannot go below 24 dBm may not use ETSI 36-64 (23 dBm) at all.
    sim, loop = make_loop(one_ap(100, power_dbm=26, min_power_dbm=24, max_power_dbm=30))
    result = loop.submit(ChangeRequest(0, channel=36))
    assert not (result.accepted and sim.power_dbm[0, 0] > ETSI.max_eirp_dbm(36)), result
    loop.advance(10)
    assert loop.counters()["eirp_violations"] == 0


def batch_site(n: int = 8) -> Scenario:
    return small_scenario([{"position": [5 + 12 * i, 20], "channel": 36} for i in range(n)], clients_per_ap=2)


def test_at_most_a_quarter_of_the_aps_may_change_channel_at_one_instant():
    sim, loop = make_loop(batch_site(8))
    loop.advance(1)
    results = [loop.submit(ChangeRequest(ap, channel=44)) for ap in range(8)]
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 2 + [Outcome.REJECTED] * 6
    for r in results[2:]:
        assert "at most 2 APs may change channel at once" in r.reason
    assert list(sim.channel[0]) == [44, 44] + [36] * 6
    # power changes are not channel changes
    assert loop.submit(ChangeRequest(7, power_dbm=15.0)).outcome is Outcome.APPLIED
    assert len(records(loop, execution_status="REJECTED")) == 6
    # the next instant has a fresh budget
    loop.advance(1)
    results = [loop.submit(ChangeRequest(ap, channel=44)) for ap in range(2, 8)]
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 2 + [Outcome.REJECTED] * 4
    assert_compliant(loop)


def test_channel_change_fraction_is_configurable_and_emergencies_are_not_limited():
    sim, loop = make_loop(batch_site(8), shield=ShieldConfig(max_channel_change_frac=0.5))
    loop.advance(1)
    results = [loop.submit(ChangeRequest(ap, channel=52)) for ap in range(8)]
    assert sum(r.accepted for r in results) == 4
    loop.advance(100)  # CACs done; all four hear an injected radar report each at one instant
    for ap in range(4):
        loop.inject_dfs_event(ap)
    assert not any(covers(sim, ap, 52) for ap in range(8))
    assert len(records(loop, event_type="DFS_RADAR", execution_status="SUCCESS")) == 4
    assert_compliant(loop)


# ---------------------------------------------------------------- 6. cooldown and emergency bypass


def test_a_second_channel_change_within_the_cooldown_is_deferred_and_audited():
    sim, loop = make_loop(shield_site())
    loop.advance(1)
    assert loop.submit(ChangeRequest(2, channel=40)).outcome is Outcome.APPLIED
    loop.advance(10)
    r = loop.submit(ChangeRequest(2, channel=44, source=Source.MANUAL))
    assert r.outcome is Outcome.REJECTED
    assert r.reason.startswith("cooldown")
    assert "channel" in r.reason and "290 s" in r.reason
    assert sim.channel[0, 2] == 40
    c = loop.counters()
    assert c["cooldown_deferrals"] == 1
    assert c["audit_records_by_status"] == {"SUCCESS": 1, "DEFERRED": 1}
    deferred = records(loop, execution_status="DEFERRED")
    assert len(deferred) == 1 and deferred[0].reason == r.reason and deferred[0].configuration_changes == ()
    # other parameters have their own clocks: a power change is fine right away
    assert loop.submit(ChangeRequest(2, power_dbm=17.0)).outcome is Outcome.APPLIED
    r = loop.submit(ChangeRequest(2, power_dbm=14.0))
    assert r.outcome is Outcome.REJECTED and "cooldown: power_dbm" in r.reason
    loop.advance(60)
    assert loop.submit(ChangeRequest(2, power_dbm=14.0)).outcome is Outcome.APPLIED
    loop.advance(229)  # t = 300: one second short of the channel cooldown
    assert loop.submit(ChangeRequest(2, channel=44)).outcome is Outcome.REJECTED
    loop.advance(1)
    assert loop.submit(ChangeRequest(2, channel=44)).outcome is Outcome.APPLIED
    assert loop.counters()["cooldown_deferrals"] == 3


def test_cooldown_times_are_configurable():
    sim, loop = make_loop(shield_site(), cooldown=CooldownConfig(channel_s=20.0, width_s=20.0, power_s=0.0))
    assert loop.submit(ChangeRequest(2, channel=40)).accepted
    assert loop.submit(ChangeRequest(2, power_dbm=10.0)).accepted
    assert loop.submit(ChangeRequest(2, power_dbm=11.0)).accepted
    loop.advance(19)
    assert not loop.submit(ChangeRequest(2, channel=44)).accepted
    loop.advance(1)
    assert loop.submit(ChangeRequest(2, channel=44)).accepted
    with pytest.raises(ValueError):
        CooldownConfig(channel_s=-1.0)


def test_a_radar_move_within_the_cooldown_still_happens():
    sim, loop = make_loop(radar_site(at_s=(100,)))
    loop.advance(10)
    # AP 1 moves onto 52 at t = 10: its channel may not change again (by request) before t = 310
    assert loop.submit(ChangeRequest(1, channel=52)).outcome is Outcome.APPLIED
    loop.advance(80)
    assert sim.tx_enabled[0, 1]
    assert not loop.submit(ChangeRequest(1, channel=40)).accepted  # cooldown
    loop.advance(11)  # radar at t = 100
    assert not covers(sim, 1, 52) and not covers(sim, 0, 52)
    moves = records(loop, event_type="DFS_RADAR")
    assert sorted(r.ap_id for r in moves) == [0, 1]
    assert all(r.execution_status == "SUCCESS" and r.sim_time_s == 101.0 for r in moves)
    c = loop.counters()
    assert c["cooldown_deferrals"] == 1
    assert c["dfs_reaction_worst_s"] <= 1.0
    # the emergency move restarts the channel cooldown
    r = loop.submit(ChangeRequest(1, channel=48))
    assert r.outcome is Outcome.REJECTED and r.reason.startswith("cooldown")
    assert_compliant(loop)


# ---------------------------------------------------------------- 7. automatic rollback


def two_aps(channel_b: int) -> Scenario:
    """Two APs 20 m apart (they hear each other), AP 0 on 36; 10 clients each asking 18 Mb/s."""
    return small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [30, 20], "channel": channel_b}], mean_mbps=18.0
    )


def test_a_degrading_change_is_rolled_back_automatically_after_the_window():
    sim, loop = make_loop(two_aps(44), rollback=RollbackConfig(window_s=60), react_to_saturation=False)
    s = loop.advance(60)
    assert s.retry_rate[0].max() < 1e-9
    r = loop.submit(ChangeRequest(1, channel=36, reason="agent: try co-channel"))  # onto AP 0's channel
    assert r.outcome is Outcome.APPLIED
    token = loop.last_token
    s = loop.advance(59)
    assert config_of(sim, 1) == (36, 20, 20.0)
    assert s.throughput_mbps[0, 10:, 1].mean() < 0.8 * s.demand_mbps[0, 10:, 1].mean()
    loop.advance(1)  # the window closes at t = 120
    assert config_of(sim, 1) == (44, 20, 20.0)
    c = loop.counters()
    assert c["rollbacks_auto"] == 1
    assert c["rollbacks_manual"] == 0
    assert c["events_by_type"].get("DEGRADATION") == 1
    (rb,) = records(loop, action_type="ROLLBACK")
    assert rb.rollback_token == token
    assert rb.execution_status == "ROLLED_BACK"
    assert rb.event_type == "DEGRADATION"
    assert rb.sim_time_s == 120.0
    assert rb.reason.startswith("degradation")
    assert rb.configuration_changes == ({"param": "channel", "old_value": 36, "new_value": 44},)
    assert rb.details["satisfaction_after"] < rb.details["satisfaction_before"] or (
        rb.details["retry_after"] > rb.details["retry_before"]
    )
    loop.advance(120)
    assert config_of(sim, 1) == (44, 20, 20.0)
    assert loop.counters()["rollbacks_auto"] == 1
    assert_compliant(loop)


def test_an_improving_change_is_kept():
    sim, loop = make_loop(two_aps(36), rollback=RollbackConfig(window_s=60), react_to_saturation=False)
    loop.advance(60)
    r = loop.submit(ChangeRequest(1, channel=44))  # off the shared channel
    assert r.outcome is Outcome.APPLIED
    loop.advance(180)
    assert config_of(sim, 1) == (44, 20, 20.0)
    c = loop.counters()
    assert c["rollbacks_auto"] == 0
    assert "DEGRADATION" not in c["events_by_type"]
    assert records(loop, action_type="ROLLBACK") == []


def test_auto_rollback_off_keeps_a_degrading_change():
    sim, loop = make_loop(
        two_aps(44), rollback=RollbackConfig(window_s=60), react_to_saturation=False, auto_rollback=False
    )
    loop.advance(60)
    assert loop.submit(ChangeRequest(1, channel=36)).accepted
    loop.advance(180)
    assert sim.channel[0, 1] == 36
    assert loop.counters()["rollbacks_auto"] == 0


def test_a_degrading_power_cut_is_rolled_back():
    # AP 1 cut to its minimum power: its far-ish clients drop MCS and can no longer be served in full.
    sc = small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [60, 20], "channel": 44}],
        mean_mbps=18.0,
        hotspots=[{"center": [10, 20], "radius_m": 1.0}, {"center": [75, 20], "radius_m": 1.0}],
    )
    sim, loop = make_loop(sc, rollback=RollbackConfig(window_s=60), react_to_saturation=False)
    loop.advance(60)
    r = loop.submit(ChangeRequest(1, power_dbm=float(sim.ap_min_power_dbm[1])))
    assert r.outcome is Outcome.APPLIED
    token = loop.last_token
    loop.advance(60)
    assert sim.power_dbm[0, 1] == 20.0
    assert loop.counters()["rollbacks_auto"] == 1
    (rb,) = records(loop, action_type="ROLLBACK")
    assert rb.rollback_token == token
    assert rb.configuration_changes == ({"param": "power_dbm", "old_value": 2.0, "new_value": 20.0},)


# ---------------------------------------------------------------- 8. manual rollback


def test_manual_rollback_by_token_restores_the_previous_configuration():
    sim, loop = make_loop(shield_site())
    loop.advance(5)
    before = config_of(sim, 2)
    assert loop.submit(ChangeRequest(2, channel=44, width_mhz=40, power_dbm=15.0)).outcome is Outcome.APPLIED
    token = loop.last_token
    assert config_of(sim, 2) == (44, 40, 15.0)
    loop.advance(30)
    result = loop.rollback(token)
    assert result.accepted
    assert config_of(sim, 2) == before
    c = loop.counters()
    assert c["rollbacks_manual"] == 1
    assert c["rollbacks_auto"] == 0
    (rb,) = records(loop, action_type="ROLLBACK")
    assert rb.rollback_token == token
    assert rb.execution_status == "ROLLED_BACK"
    assert rb.source == "manual"
    assert {c["param"]: (c["old_value"], c["new_value"]) for c in rb.configuration_changes} == {
        "channel": (44, 36),
        "width_mhz": (40, 20),
        "power_dbm": (15.0, 20.0),
    }
    # the change is no longer watched: no automatic rollback follows
    loop.advance(300)
    assert loop.counters()["rollbacks_auto"] == 0
    assert config_of(sim, 2) == before
    assert_compliant(loop)


def test_manual_rollback_after_the_watch_window_still_works():
    # thresholds no change can cross: the change stands until the manual rollback
    never = RollbackConfig(window_s=30, retry_abs_increase=2.0, satisfaction_drop=2.0)
    sim, loop = make_loop(shield_site(), rollback=never)
    loop.submit(ChangeRequest(2, power_dbm=12.0))
    token = loop.last_token
    loop.advance(200)
    assert sim.power_dbm[0, 2] == 12.0
    loop.rollback(token)
    assert sim.power_dbm[0, 2] == 20.0
    assert loop.counters()["rollbacks_manual"] == 1


def test_a_newer_change_on_an_ap_supersedes_its_open_watch_and_older_tokens_stay_restorable():
    """One open watch per AP: a newer change replaces the AP's watch (listed oldest change first),
    the window's end closes them, and a superseded change can still be undone by its token."""
    sim, loop = make_loop(shield_site(), cooldown=CooldownConfig(0.0, 0.0, 0.0))
    loop.advance(60)
    tokens = []
    for ap, power in ((2, 17.0), (1, 17.0), (2, 14.0)):
        assert loop.submit(ChangeRequest(ap, power_dbm=power)).outcome is Outcome.APPLIED
        tokens.append(loop.last_token)
    first, other, newest = tokens
    assert list(loop.rollbacks.watching) == [other, newest]
    assert [(w.ap, w.old, w.new) for w in loop.rollbacks.watching.values()] == [
        (1, {"power_dbm": 20.0}, {"power_dbm": 17.0}),
        (2, {"power_dbm": 17.0}, {"power_dbm": 14.0}),
    ]
    loop.advance(loop.config.rollback.window_s + 60)
    assert loop.rollbacks.watching == {} and loop.counters()["rollbacks_auto"] == 0
    loop.rollback(first)  # the superseded change: AP 2 back to its power before it
    assert sim.power_dbm[0, 2] == 20.0 and first not in loop.rollbacks.history
    with pytest.raises(KeyError):
        loop.rollback(first)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_rollback_history_keeps_the_newest_changes_as_given(seed):
    """The tokens kept, each watch read back, the open watches, the window's sums and the
    watches due must be what a plain record of every change gives, as the limit changes,
    watches are closed, forgotten or narrowed."""
    rng = np.random.default_rng(seed)
    nets, aps, window = 2, 3, 120
    rm = RollbackManager(RollbackConfig(window_s=window), nets, aps, history_limit=5)
    changes: list[dict] = []  # the plain record: every change, in order
    kept: list[str] = []  # tokens not yet forgotten or rolled back, oldest first
    open_: dict[tuple[int, int], dict] = {}
    now, held_aside = 0.0, 0
    for step in range(160):
        op = rng.random()
        b, ap = int(rng.integers(nets)), int(rng.integers(aps))
        if op < 0.6:
            old, new = {"power_dbm": float(rng.integers(20))}, {"power_dbm": float(rng.integers(20))}
            token = rm.watch(b, ap, old, new, now, "rb", "fast" if op < 0.3 else "slow")
            c = {"token": token, "network": b, "ap": ap, "old": old, "new": new, "start_s": now,
                 "loop": "fast" if op < 0.3 else "slow", "ticks": 0, "retry_sum": 0.0, "served_sum": 0.0}  # fmt: skip
            changes.append(c)
            kept.append(token)
            open_[b, ap] = c
            kept = kept[-rm.history_limit :] if len(changes) > rm.history_limit else kept
            kept = [t for t in kept if t in {c["token"] for c in changes[-rm.history_limit :]}]
        elif op < 0.7 and kept:  # a token rolled back (popped), or part of it narrowed
            token = kept[int(rng.integers(len(kept)))]
            c = next(c for c in changes if c["token"] == token)
            if rng.random() < 0.5:
                assert rm.history.pop(token).token == token
                kept.remove(token)
            else:
                c["old"] = {"channel": 36}
                rm.keep_old(rm.history[token], c["old"])
        elif op < 0.75:
            rm.forget_ap(b, ap)
            open_.pop((b, ap), None)
        elif op < 0.8:
            rm.history_limit = int(rng.integers(2, 8))  # takes effect with the next change
        else:  # time passes: the open watches fold the span in, and those whose window closed are due
            ticks = int(rng.integers(1, 90))
            retry, served = rng.random((nets, ticks, aps)), rng.random((nets, ticks, aps))
            offered = np.ones((nets, ticks, aps))
            sensing = types.SimpleNamespace(
                t0_s=now, ticks=ticks, retry_rate=retry, throughput_mbps=served, demand_mbps=offered
            )
            rm.observe(sensing)
            for c in open_.values():
                lo, hi = max(now, c["start_s"]), min(now + ticks, c["start_s"] + window)
                if hi > lo:
                    c["ticks"] += int(hi - lo)
                    span = (c["network"], slice(int(lo - now), int(hi - now)), c["ap"])
                    c["retry_sum"] += float(retry[span].sum())
                    c["served_sum"] += float(served[span].sum())
            now += ticks
            due = [c for c in changes if open_.get((c["network"], c["ap"])) is c and c["start_s"] + window <= now]
            assert [w.token for w in rm.due(now)] == [c["token"] for c in due]
            for c in due:
                del open_[c["network"], c["ap"]]

        def as_watched(w):
            return {"token": w.token, "network": w.network, "ap": w.ap, "old": w.old, "new": w.new,
                    "start_s": w.start_s, "loop": w.loop, "ticks": w.ticks, "retry_sum": pytest.approx(w.retry_sum),
                    "served_sum": pytest.approx(w.served_sum)}  # fmt: skip

        assert list(rm.history) == kept and len(rm.history) == len(kept), step
        gone = [c["token"] for c in changes if c["token"] not in kept]  # forgotten or rolled back
        assert not any(t in rm.history or rm.history.get(t) is not None for t in gone)
        by_token = {c["token"]: c for c in changes}
        assert [as_watched(w) for w in rm.history.values()] == [by_token[t] for t in kept]
        opened = sorted(open_.values(), key=changes.index)
        assert [as_watched(w) for w in rm.watching.values()] == opened
        assert all(w.end_s == w.start_s + window for w in rm.watching.values())
        held_aside += any(w.token not in rm.history for w in rm.watching.values())
    assert held_aside  # an open watch outlived its token at some point


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_rollback_manager_keeps_its_own_changes(how):
    """A copy (the oracle baseline deep-copies its env; vector envs pickle theirs) watches on its
    own: the original's history and open watches are untouched."""
    rm = RollbackManager(RollbackConfig(), 1, 3)
    first = rm.watch(0, 1, {"power_dbm": 20.0}, {"power_dbm": 14.0}, 0.0, "rb", "fast")
    twin = copy.deepcopy(rm) if how == "deepcopy" else pickle.loads(pickle.dumps(rm))
    second = twin.watch(0, 2, {"power_dbm": 20.0}, {"power_dbm": 8.0}, 5.0, "rb", "slow")
    assert list(rm.history) == [first] and list(twin.history) == [first, second]
    assert [w.ap for w in rm.watching.values()] == [1] and [w.ap for w in twin.watching.values()] == [1, 2]
    assert twin.history[second].new == {"power_dbm": 8.0} and second not in rm.history
    third = rm.watch(0, 0, {"power_dbm": 20.0}, {"power_dbm": 11.0}, 6.0)
    assert rm.history[third].old == {"power_dbm": 20.0} and len(twin.history) == 2


def test_manual_rollback_of_an_unknown_token_raises_key_error():
    sim, loop = make_loop(shield_site())
    with pytest.raises(KeyError):
        loop.rollback("rb-n0-ap0-999999")
    assert loop.audit.records == []


def test_rolling_back_a_power_change_does_not_reapply_a_channel_that_was_rolled_back():
    # channel 36 -> 40 (token 1), then a power change (token 2); undo both, newest-first or oldest-first:
    # the AP must end on its original channel. Undoing a power change must not touch the channel.
    sim, loop = make_loop(shield_site())
    assert loop.submit(ChangeRequest(2, channel=40)).accepted
    t1 = loop.last_token
    loop.advance(10)
    assert loop.submit(ChangeRequest(2, power_dbm=15.0)).accepted
    t2 = loop.last_token
    loop.rollback(t1)
    assert sim.channel[0, 2] == 36
    loop.rollback(t2)
    assert sim.channel[0, 2] == 36, "rolling back the power change put the AP back on the rolled-back channel 40"
    rb2 = records(loop, action_type="ROLLBACK", rollback_token=t2)[0]
    assert all(c["param"] == "power_dbm" for c in rb2.configuration_changes)


# ---------------------------------------------------------------- 9. audit


def test_every_applied_change_is_a_signed_record_whose_changes_replay_to_the_final_configuration():
    sim, loop = make_loop(radar_site(at_s=(200,)))
    initial = {ap: dict(zip(("channel", "width_mhz", "power_dbm"), config_of(sim, ap), strict=True)) for ap in (0, 1)}
    loop.advance(5)
    loop.submit(ChangeRequest(1, channel=44, width_mhz=40))  # APPLIED
    loop.submit(ChangeRequest(0, power_dbm=40.0))  # MODIFIED: clipped
    loop.submit(ChangeRequest(0, channel=144))  # REJECTED
    loop.submit(ChangeRequest(1, channel=40))  # DEFERRED (cooldown)
    loop.advance(30)
    loop.rollback(loop.last_token)  # ROLLED_BACK
    loop.advance(200)  # radar at 200: AP 0 moves
    loop.inject_interference_event(1, kind="microwave", duty_cycle=0.9, confidence=0.95)
    loop.advance(10)

    recs = loop.audit.records
    statuses = {r.execution_status for r in recs}
    assert {"SUCCESS", "MODIFIED", "REJECTED", "DEFERRED", "ROLLED_BACK"} <= statuses
    c = loop.counters()
    assert c["audit_records_by_status"] == loop.audit.counts_by_status
    assert sum(c["audit_records_by_status"].get(s, 0) for s in APPLIED_STATUSES) == c["actions_executed"]
    assert [r.sequence for r in recs] == list(range(len(recs)))
    replay = {ap: dict(cfg) for ap, cfg in initial.items()}
    for r in recs:
        assert len(r.signature) == 64
        if r.execution_status in APPLIED_STATUSES:
            assert r.configuration_changes
        else:
            assert r.configuration_changes == ()
        for ch in r.configuration_changes:
            assert set(ch) == {"param", "old_value", "new_value"}
            assert ch["old_value"] != ch["new_value"]
            assert replay[r.ap_id][ch["param"]] == ch["old_value"], (r, replay)
            replay[r.ap_id][ch["param"]] = ch["new_value"]
    for ap in (0, 1):
        assert tuple(replay[ap].values()) == config_of(sim, ap)
    check = verify_records(recs, KEY, allow_unsealed=True)
    assert check.ok and check.records == len(recs)
    assert loop.audit.verify().ok
    # a record edited after the fact no longer verifies
    tampered = [r.to_dict() for r in recs]
    tampered[1]["configuration_changes"][0]["new_value"] = 165
    bad = verify_records(tampered, KEY, allow_unsealed=True)
    assert not bad.ok and bad.first_bad_line == 2


def test_client_identifiers_never_reach_the_audit_log_in_the_clear(tmp_path):
    sim, loop = make_loop(shield_site())
    mac = "AA-BB-CC-DD-EE-0F"
    loop.submit(ChangeRequest(2, channel=40, source=Source.MANUAL, reason=f"client {mac} complained"))
    loop.submit(ChangeRequest(2, power_dbm=17.0, reason=f"roam issue aa:bb:cc:dd:ee:0f and {mac.lower()}"))
    out = tmp_path / "audit.jsonl"
    assert loop.audit.export(out) == 2
    text = out.read_text()
    for form in (mac, mac.lower(), mac.replace("-", ":"), mac.lower().replace("-", ":")):
        assert form not in text
        assert all(form not in json.dumps(r.to_dict()) for r in loop.audit.records)
    alias = pseudonymise(mac, KEY)
    assert alias == loop.audit.pseudonymise("aa:bb:cc:dd:ee:0f")
    r0, r1 = loop.audit.records
    assert r0.reason == f"client {alias} complained"
    assert r1.reason.count(alias) == 2
    # values under client keys are pseudonymised wherever they appear
    rec = loop.audit.append(
        sim_time_s=sim.time_s,
        event_type="CHANGE_REQUEST",
        source="manual",
        execution_status="REJECTED",
        details={"client_id": "laptop-17", "clients": [mac]},
    )
    assert rec.details == {"client_id": pseudonymise("laptop-17", KEY), "clients": [alias]}
    assert verify_records(loop.audit.records, KEY, allow_unsealed=True).ok
    # the loop's own records carry caller text in their details too: the loop tag, and what an
    # injected event says (a MAC right after an escaped control character included)
    loop.submit(ChangeRequest(3, power_dbm=14.0, loop=f"fast {mac}"))
    loop.submit(ChangeRequest(4, power_dbm=14.0, loop=f"\x1f{mac}"))
    loop.inject_interference_event(2, kind=f"camera {mac.lower()}")
    held = list(loop.audit._memory)
    assert len(held) >= 5
    for form in (mac, mac.lower(), mac.replace("-", ":"), mac.lower().replace("-", ":")):
        assert all(form not in text for text in held)
    assert [r.details["loop"] for r in loop.audit.records[3:5]] == [f"fast {alias}", f"\x1f{alias}"]
    assert verify_records(loop.audit.records, KEY, allow_unsealed=True).ok


# ---------------------------------------------------------------- 10. event queue


def _event(kind: EventType, tag: int) -> Event:
    return Event(kind, 0, tag, Source.INJECTED, float(tag))


def test_event_queue_pops_emergencies_first_and_keeps_arrival_order_within_a_priority():
    q = EventQueue()
    order = [
        EventType.CHANGE_REQUEST,
        EventType.SPECTRUM_SATURATION,
        EventType.DFS_RADAR,
        EventType.CHANGE_REQUEST,
        EventType.NON_WIFI_INTERFERENCE,
        EventType.DFS_RADAR,
        EventType.DEGRADATION,
    ]
    for i, kind in enumerate(order):
        q.push(_event(kind, i))
    assert len(q) == len(order) and q
    popped = [q.pop() for _ in range(len(order))]
    assert [(e.type, e.ap) for e in popped] == [
        (EventType.DFS_RADAR, 2),
        (EventType.DFS_RADAR, 5),
        (EventType.NON_WIFI_INTERFERENCE, 4),
        (EventType.SPECTRUM_SATURATION, 1),
        (EventType.DEGRADATION, 6),
        (EventType.CHANGE_REQUEST, 0),
        (EventType.CHANGE_REQUEST, 3),
    ]
    assert not q and len(q) == 0
    with pytest.raises(IndexError):
        q.pop()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(list(EventType)), max_size=40), st.integers(0, 40))
def test_event_queue_order_is_a_stable_sort_by_priority(kinds, pops_before_refill):
    q = EventQueue()
    for i, kind in enumerate(kinds):
        q.push(_event(kind, i))
    k = min(pops_before_refill, len(kinds))
    got = [q.pop().ap for _ in range(k)]
    assert got == sorted(range(len(kinds)), key=lambda i: (int(kinds[i]), i))[:k]
    # an emergency pushed mid-drain overtakes every waiting lower-priority event, not earlier emergencies
    kinds = [*kinds, EventType.DFS_RADAR]
    q.push(_event(EventType.DFS_RADAR, len(kinds) - 1))
    got += [q.pop().ap for _ in range(len(q))]
    assert got[k:] == sorted(got[k:], key=lambda i: (int(kinds[i]), i))
    assert sorted(got) == list(range(len(kinds)))


# ---------------------------------------------------------------- 11. detectors


def video_bridge_site() -> Scenario:
    """AP 0 on 36 with a continuous video bridge on 36 three metres away; AP 1 far away on 44."""
    return small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [90, 20], "channel": 44}],
        interferers=({"kind": "video_bridge", "channel": 36, "position": [13, 20]},),
    )


def test_sustained_non_wifi_interference_is_reported_after_the_sustain_time_and_the_ap_moves_off():
    sim, loop = make_loop(video_bridge_site(), react_to_interference=True)
    s = loop.advance(9)
    assert s.nonwifi_confidence[0, :, 0].min() >= 0.6 and s.nonwifi_duty_frac[0, :, 0].min() >= 0.3
    assert loop.counters()["events_by_type"] == {}
    assert sim.channel[0, 0] == 36
    loop.advance(1)  # ten seconds sustained
    c = loop.counters()
    assert c["events_by_type"] == {"NON_WIFI_INTERFERENCE": 1}
    assert c["events_by_source"] == {"detected": 1}
    assert not covers(sim, 0, 36)
    assert sim.channel[0, 1] == 44  # AP 1 does not hear it: untouched
    (rec,) = records(loop, event_type="NON_WIFI_INTERFERENCE")
    assert rec.sim_time_s == 10.0
    assert rec.ap_id == 0 and rec.source == "detected" and rec.execution_status == "SUCCESS"
    assert rec.details["kind"] == "video_bridge"
    assert "video_bridge" in rec.reason
    s = loop.advance(60)
    assert s.nonwifi_duty_frac[0, :, 0].max() == 0.0  # off its channel, the bridge is not seen
    assert loop.counters()["events_by_type"] == {"NON_WIFI_INTERFERENCE": 1}
    assert_compliant(loop)


def test_non_wifi_sustain_time_is_configurable_and_reaction_can_be_disabled():
    sim, loop = make_loop(
        video_bridge_site(),
        detectors=DetectorConfig(nonwifi_sustain_s=25, saturation_sustain_s=3600),
        react_to_interference=False,
    )
    loop.advance(24)
    assert loop.counters()["events_by_type"] == {}
    loop.advance(1)
    assert loop.counters()["events_by_type"] == {"NON_WIFI_INTERFERENCE": 1}
    loop.advance(25)  # still there: reported again every sustain time
    assert loop.counters()["events_by_type"] == {"NON_WIFI_INTERFERENCE": 2}
    assert sim.channel[0, 0] == 36
    assert loop.audit.records == []


def saturation_site(neighbor_load: float) -> Scenario:
    """AP 0 on 36 with light traffic next to an unmanaged co-channel neighbour that wants ``neighbor_load``."""
    return small_scenario(
        [{"position": [10, 20], "channel": 36}],
        mean_mbps=0.5,
        neighbors=({"position": [15, 20], "channel": 36, "load": neighbor_load, "power_dbm": 20},),
    )


def test_sustained_spectrum_saturation_fires_after_the_sustain_time():
    sim, loop = make_loop(saturation_site(1.0), react_to_saturation=True, saturation_margin=0.0)
    s = loop.advance(29)
    assert s.cca_busy_frac[0, :, 0].min() >= 0.9
    assert loop.counters()["events_by_type"] == {}
    loop.advance(1)
    assert loop.counters()["events_by_type"] == {"SPECTRUM_SATURATION": 1}
    (rec,) = records(loop, event_type="SPECTRUM_SATURATION")
    assert rec.sim_time_s == 30.0
    assert rec.details["cca_busy_pct"] >= 90.0
    assert "saturation" in rec.reason
    assert not covers(sim, 0, 36)
    s = loop.advance(30)
    assert s.cca_busy_frac[0, :, 0].max() < 0.9
    assert_compliant(loop)


def test_busy_but_unsaturated_medium_fires_no_saturation_event():
    sim, loop = make_loop(saturation_site(0.5))
    s = loop.advance(120)
    assert 0.3 < s.cca_busy_frac[0, :, 0].mean() < 0.9
    assert loop.counters()["events_by_type"] == {}
    assert sim.channel[0, 0] == 36


def test_injected_events_are_counted_by_source_and_handled():
    sim, loop = make_loop(shield_site())
    loop.inject_interference_event(2, kind="microwave", duty_cycle=0.9, confidence=0.95)
    assert sim.channel[0, 2] != 36
    loop.inject_spectrum_saturation_event(1, cca_busy_pct=97.0)
    loop.inject_dfs_event(0)
    c = loop.counters()
    assert c["events_by_source"] == {"injected": 3}
    assert c["events_by_type"] == {"NON_WIFI_INTERFERENCE": 1, "SPECTRUM_SATURATION": 1, "DFS_RADAR": 1}
    assert sim.channel[0, 0] != 100
    assert all(r.source == "injected" for r in loop.audit.records)


# ---------------------------------------------------------------- 12. determinism


def _scripted_run(seed: int) -> EventLoop:
    sim, loop = make_loop("dfs_site", seed=seed, audit_seed=11)
    script = [
        (
            0,
            [ChangeRequest(1, channel=36), ChangeRequest(2, channel=120, width_mhz=20), ChangeRequest(3, power_dbm=30)],
        ),
        (200, [ChangeRequest(4, channel=44, source=Source.MANUAL), ChangeRequest(1, channel=40)]),
        (400, [ChangeRequest(5, channel=52), ChangeRequest(0, power_dbm=5.0)]),
        (1300, [ChangeRequest(0, channel=52), ChangeRequest(6, channel=100, width_mhz=40)]),
    ]
    for t, reqs in script:
        if t > sim.time_s:
            loop.advance(int(t - sim.time_s))
        for req in reqs:
            loop.submit(req)
        if loop.last_token and t == 400:
            loop.rollback(loop.last_token)
    loop.inject_interference_event(7, kind="video_bridge")
    loop.advance(600)
    return loop


def test_same_scenario_seed_and_requests_give_identical_counters_and_audit_trail():
    a, b = _scripted_run(2), _scripted_run(2)
    assert a.counters() == b.counters()
    assert [r.to_dict() for r in a.audit.records] == [r.to_dict() for r in b.audit.records]
    assert np.array_equal(a.sim.slot, b.sim.slot) and np.array_equal(a.sim.power_dbm, b.sim.power_dbm)
    assert a.counters()["radar_hits"] > 0
    assert_compliant(a)


# ------------------------------------------------------------------------------ batched requests


def _loop_state(loop: EventLoop) -> dict:
    return {
        "power": loop.sim.power_dbm.copy(),
        "slot": loop.sim.slot.copy(),
        "audit": list(loop.audit._memory),
        "watching": sorted(loop.rollbacks.watching),
        "counters": loop.counters(),
        "last_change": loop.cooldown.last_change_s.copy(),
        "step": (list(loop.step_audit_ids), list(loop.step_audit_networks), loop.last_token),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), networks=st.integers(1, 3))
def test_submit_and_submit_many_decide_changes_and_audit_exactly_as_the_general_path(seed, networks):
    """``submit`` and ``submit_many`` check power-only requests on arrays (a batch of one for
    ``submit``); each must do exactly what Shield.check and _handle_request do."""
    rng = np.random.default_rng(seed)
    loops = []
    for _ in range(3):
        sim = WirelessSimulation("office", seed=seed, num_networks=networks)
        config = EventLoopConfig(auto_rollback=seed % 3 > 0)  # changes watched (or not) for rollback
        loops.append(EventLoop(sim, config, audit=AuditLog(b"k" * 16, seed=seed)))
        loops[-1].take_results()  # results and audit ids are kept from here on
    n = loops[0].sim.num_aps
    for _ in range(4):
        batch = []
        for _ in range(int(rng.integers(1, 25))):
            kind = rng.random()
            ap = int(rng.integers(-1, n + 1)) if kind < 0.03 else int(rng.integers(0, n))
            # loop tags and reasons as agents, people and odd callers give them (a MAC is pseudonymised)
            odd = rng.random() < 0.1
            loop_tag = [None, "fast", "manual", 7][int(rng.integers(0, 4)) if odd else int(rng.integers(1, 3))]
            reason = str(rng.choice(["", "step", "client aa:bb:cc:dd:ee:ff roams"]))
            common = {"network": int(rng.integers(0, networks)), "loop": loop_tag, "reason": reason}
            if kind < 0.15:  # a channel request between power requests
                batch.append(ChangeRequest(ap, channel=int(rng.choice([36, 44, 52, 149])), **common))
            elif kind < 0.2:
                batch.append(ChangeRequest(ap, **common))  # nothing asked
            else:
                power = float(rng.choice([-5.0, 2.0, 8.0, 11.0, 14.0, 17.0, 20.0, 23.0, 40.0, np.nan]))
                # a power of another number type (a whole number, numpy's float) when it has one
                as_type = [float, float, np.float64, int][int(rng.integers(0, 4))]
                if np.isfinite(power):
                    power = as_type(power)
                source = Source.MANUAL if rng.random() < 0.2 else Source.AGENT
                batch.append(ChangeRequest(ap, power_dbm=power, source=source, emergency=rng.random() < 0.2, **common))
        general = [loops[0]._submit_checked(r) for r in batch]
        one = [loops[1].submit(r) for r in batch]
        many = loops[2].submit_many(batch)
        for results in (one, many):
            assert [(r.outcome, r.reason, r.applied, r.previous) for r in general] == [
                (r.outcome, r.reason, r.applied, r.previous) for r in results
            ]
        ref = _loop_state(loops[0])
        for loop in loops[1:]:
            state = _loop_state(loop)
            assert ref["audit"] == state["audit"] and ref["watching"] == state["watching"]
            assert ref["counters"] == state["counters"]
            assert np.array_equal(ref["power"], state["power"]) and np.array_equal(ref["slot"], state["slot"])
            assert np.array_equal(ref["last_change"], state["last_change"]) and ref["step"] == state["step"]
        seconds = int(rng.choice([1, 30, 60, 120]))
        for loop in loops:
            loop.advance(seconds)
    assert len(loops[2].audit._memory) > 0


def _high_power_site() -> Scenario:
    """ETSI radios that go up to 30 dBm: above the 23 dBm EIRP limit of channels 36-64."""
    aps = [{"position": [10 + 25 * i, 20], "channel": 100, "power_dbm": 28, "max_power_dbm": 30} for i in range(3)]
    return small_scenario(aps)


@pytest.mark.parametrize("scenario", ["office", "dfs_site", "legacy_24", "high_power"])
def test_slot_masks_of_every_network_at_once_equal_slot_mask_ap_by_ap(scenario):
    """The batched mask (what the envs use) under cooldowns, radar non-occupancy and EIRP limits."""
    from rrm_gym.envs.core import candidate_slots

    if scenario == "high_power":
        scenario = _high_power_site()
    rng = np.random.default_rng(0)
    sim = WirelessSimulation(scenario, seed=1, num_networks=3)
    loop = EventLoop(sim)
    n = sim.num_aps
    slots = [candidate_slots(sim, i, True) for i in range(n)]
    table = np.full((n, max(map(len, slots))), -1)
    for i, choices in enumerate(slots):
        table[i, : len(choices)] = choices
    partial = 0
    for it in range(6):
        for _ in range(10):
            b, ap = int(rng.integers(3)), int(rng.integers(n))
            slot = int(rng.choice(slots[ap]))
            power = float(rng.uniform(0, 30))
            loop.submit(ChangeRequest(ap, int(SLOT_CHANNEL[slot]), int(SLOT_WIDTH_MHZ[slot]), power, network=b))
        if it == 2:
            loop.inject_dfs_event(0, network=1)  # non-occupancy in one network only
        masks = loop.shield.slot_masks(table, sim.time_s)
        for b in range(3):
            for ap in range(n):
                expected = loop.shield.slot_mask(b, ap, slots[ap], sim.time_s)
                assert np.array_equal(masks[b, ap, : len(slots[ap])], expected), (it, b, ap)
                assert not masks[b, ap, len(slots[ap]) :].any()
                partial += not expected.all()
        loop.advance(int(rng.choice([30, 60, 400])))
    assert partial > 0  # some choices were masked out


def test_take_results_returns_what_happened_since_the_last_call_and_nothing_piles_up_before_the_first():
    sim = WirelessSimulation("office", seed=0)
    loop = EventLoop(sim, EventLoopConfig(cooldown=CooldownConfig(0.0, 0.0, 0.0)))
    for power in (8.0, 11.0, 14.0):  # a loop driven by submit()'s return values alone ...
        assert loop.submit(ChangeRequest(1, power_dbm=power)).applied == {"power_dbm": power}
    assert len(loop.step_results) == 0 and len(loop.step_audit_ids) == 0  # ... keeps none of them
    assert loop.take_results() == ([], []) and loop.audit.total == 3
    results = loop.submit_many([ChangeRequest(2, power_dbm=5.0), ChangeRequest(3, channel=149)])
    results.append(loop.submit(ChangeRequest(4, power_dbm=sim.ap_power_dbm(4))))  # no change: not audited
    taken, audit_ids = loop.take_results()
    assert taken == results and len(audit_ids) == 2
    assert audit_ids == [r.audit_id for r in loop.audit.records[-2:]]
    assert loop.take_results() == ([], [])


def test_prepared_request_details_are_reused_only_for_equal_requests():
    # the loop keeps each distinct request's audit details prepared (by type and repr of what it
    # asks for, and its loop tag); records must be what details prepared afresh per record give
    def run(fresh: bool) -> list[str]:
        sim = WirelessSimulation("office", seed=0)
        loop = EventLoop(sim, audit=AuditLog(b"k" * 16, seed=3))
        requests = [
            ChangeRequest(1, power_dbm=11.0),
            ChangeRequest(1, power_dbm=11),  # another type, another record
            ChangeRequest(1, power_dbm=np.float64(11.0)),
            ChangeRequest(2, power_dbm=-0.0, loop="fast"),
            ChangeRequest(0, power_dbm=0.0, loop="fast"),  # (another AP: not a no-change, so audited)
            ChangeRequest(3, channel=149, loop="slow"),  # (accepted or rejected: audited either way)
            ChangeRequest(4, channel=149, power_dbm=8.0, loop="slow"),
            ChangeRequest(6, channel=np.int64(149), loop="slow"),
            ChangeRequest(5, channel=157, width_mhz=40, loop="slow aa:bb:cc:dd:ee:ff"),
            ChangeRequest(7, channel=157, width_mhz=40, loop=None),
            ChangeRequest(6, power_dbm=5.0, loop="manual"),
        ]
        for _ in range(3):
            for req in requests:
                if fresh:
                    loop._prepared_details = None  # nothing kept: this request's details prepared afresh
                loop.submit(req)
            loop.advance(400)
        return list(loop.audit._memory)

    cached, fresh = run(False), run(True)
    assert cached == fresh
    assert len(cached) > 20 and all("aa:bb:cc" not in line for line in cached)


def test_power_request_details_follow_the_loops_audit_log_when_it_is_replaced():
    # the loop prepares each distinct request's details once per audit log (they are pseudonymised
    # with its key): a new log gets its own, and every record verifies under its log's key
    sim = WirelessSimulation("office", seed=0)
    loop = EventLoop(sim, EventLoopConfig(cooldown=CooldownConfig(0.0, 0.0, 0.0)), audit=AuditLog(b"first-key-" * 3))
    mac = "aa:bb:cc:dd:ee:ff"
    for power in (8.0, 11.0, 8.0):
        loop.submit(ChangeRequest(1, power_dbm=power, loop=f"fast {mac}"))
    first = loop.audit
    loop.audit = AuditLog(b"second-key-" * 3)
    for power in (11.0, 8.0):
        loop.submit(ChangeRequest(1, power_dbm=power, loop=f"fast {mac}"))
    cases = ((first, b"first-key-" * 3, [8.0, 11.0, 8.0]), (loop.audit, b"second-key-" * 3, [11.0, 8.0]))
    for log, key, powers in cases:
        records = log.records
        assert verify_records(records, key, allow_unsealed=True).ok
        assert [r.details["requested"]["power_dbm"] for r in records] == powers
        assert all(mac not in json.dumps(r.to_dict()) for r in records)
    assert first.records[0].details["loop"] != loop.audit.records[0].details["loop"]  # keyed pseudonyms
