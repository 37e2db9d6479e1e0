"""The shield and cooldown: what a change request becomes (applied, clipped, rejected, deferred) and
why; every path of a request (one at a time, batched, the general path) decides alike."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety_helpers import (
    KEY,
    assert_compliant,
    batch_site,
    config_of,
    covers,
    high_power_site,
    loop_state,
    make_loop,
    one_ap,
    radar_site,
    records,
    shield_site,
)

from rrm_gym.radio.regulatory import (
    ETSI,
    SLOT_CHANNEL,
    SLOT_WIDTH_MHZ,
)
from rrm_gym.safety import (
    AuditLog,
    ChangeRequest,
    CooldownConfig,
    EventLoop,
    EventLoopConfig,
    Outcome,
    ShieldConfig,
    Source,
)
from rrm_gym.safety.audit import verify_records
from rrm_gym.sim import WirelessSimulation


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


def test_at_most_a_quarter_of_the_aps_change_channel_at_one_instant_and_the_rest_are_deferred():
    sim, loop = make_loop(batch_site(8))
    loop.advance(1)
    now = sim.time_s
    assert loop.shield.channel_changes_left(now).tolist() == [2]
    results = [loop.submit(ChangeRequest(ap, channel=44)) for ap in range(8)]
    # first come, first served: the first two move, the other six are deferred, not rejected
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 2 + [Outcome.DEFERRED] * 6
    assert not any(r.accepted for r in results[2:])
    for r in results[2:]:
        assert "budget spent: at most 2 APs may change channel at once" in r.reason
    assert list(sim.channel[0]) == [44, 44] + [36] * 6
    assert loop.shield.channel_changes_left(now).tolist() == [0]
    # power changes are not channel changes
    assert loop.submit(ChangeRequest(7, power_dbm=15.0)).outcome is Outcome.APPLIED
    assert len(records(loop, execution_status="DEFERRED")) == 6
    assert not records(loop, execution_status="REJECTED")
    # the next instant has a fresh budget
    loop.advance(1)
    assert loop.shield.channel_changes_left(sim.time_s).tolist() == [2]
    results = [loop.submit(ChangeRequest(ap, channel=44)) for ap in range(2, 8)]
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 2 + [Outcome.DEFERRED] * 4
    assert_compliant(loop)


def test_the_channel_change_budget_is_per_network_and_emergencies_leave_it_alone():
    sim = WirelessSimulation(batch_site(8), seed=0, num_networks=2)
    loop = EventLoop(sim, audit=AuditLog(KEY, seed=0))
    loop.advance(1)
    now = sim.time_s
    loop.submit(ChangeRequest(0, channel=44, network=1))
    assert loop.shield.channel_changes_left(now).tolist() == [2, 1]
    loop.submit(ChangeRequest(1, channel=44, network=1, source=Source.MANUAL, emergency=True))
    assert loop.shield.channel_changes_left(now).tolist() == [2, 1]


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
    # audited as what it is to the requester: a rejection, whose reason says when to ask again
    assert c["audit_records_by_status"] == {"SUCCESS": 1, "REJECTED": 1}
    rejected = records(loop, execution_status="REJECTED")
    assert len(rejected) == 1 and rejected[0].reason == r.reason and rejected[0].configuration_changes == ()
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
            loop_tag = [None, "fast", "manual", "7 aa:bb:cc:dd:ee:ff"][
                int(rng.integers(0, 4)) if odd else int(rng.integers(1, 3))
            ]
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
        ref = loop_state(loops[0])
        for loop in loops[1:]:
            state = loop_state(loop)
            assert ref["audit"] == state["audit"] and ref["watching"] == state["watching"]
            assert ref["counters"] == state["counters"]
            assert np.array_equal(ref["power"], state["power"]) and np.array_equal(ref["slot"], state["slot"])
            assert np.array_equal(ref["last_change"], state["last_change"]) and ref["step"] == state["step"]
        seconds = int(rng.choice([1, 30, 60, 120]))
        for loop in loops:
            loop.advance(seconds)
    assert len(loops[2].audit._memory) > 0


@pytest.mark.parametrize("scenario", ["office", "dfs_site", "legacy_24", "high_power"])
def test_slot_masks_of_every_network_at_once_equal_slot_mask_ap_by_ap(scenario):
    """The batched mask (what the envs use) under cooldowns, radar non-occupancy and EIRP limits."""
    from rrm_gym.envs.core import candidate_slots

    if scenario == "high_power":
        scenario = high_power_site()
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
