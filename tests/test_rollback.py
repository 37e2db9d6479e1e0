"""Rollback: every watched change judged after its window, undone when KPIs degrade, by token on
request, never onto a barred channel; the history of tokens as given."""

from __future__ import annotations

import copy
import pickle
import types

import numpy as np
import pytest
from safety_helpers import (
    assert_compliant,
    config_of,
    covers,
    make_loop,
    radar_site,
    records,
    shield_site,
    small_scenario,
    two_aps,
)

from rrm_gym.radio.regulatory import (
    slot_index,
)
from rrm_gym.safety import (
    ChangeRequest,
    CooldownConfig,
    Outcome,
    RollbackConfig,
    Source,
)
from rrm_gym.safety.rollback import RollbackManager


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
