"""Helpers shared by the safety-layer tests: small hand-built scenarios (no shadowing, static
clients in 1 m hotspots at the APs, every client always active) so that what the loop must do is
known exactly, and ways to read what it did."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from rrm_gym.config import Scenario, scenario_from_dict
from rrm_gym.radio.regulatory import (
    DFS_NON_OCCUPANCY_S,
    SLOT_BAND_GHZ,
    SLOT_MEMBERS,
    SLOT_WIDTH_MHZ,
    slot_index,
)
from rrm_gym.safety import (
    AuditLog,
    ChangeRequest,
    Event,
    EventLoop,
    EventLoopConfig,
    EventType,
    Source,
)
from rrm_gym.sim import WirelessSimulation

KEY = b"test-safety-key-0123456789abcdef"


APPLIED_STATUSES = ("SUCCESS", "MODIFIED", "ROLLED_BACK")
COOLDOWN_S = {"channel": 300.0, "width_mhz": 300.0, "power_dbm": 60.0}  # CooldownConfig defaults
_CHANNELS_5 = (36, 40, 44, 48, 52, 56, 60, 64, *range(100, 145, 4), 149, 153, 157, 161, 165)
REAL_CHANNELS = (*range(1, 15), *_CHANNELS_5)


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


def radar_site(at_s: tuple[float, ...] = (300,)) -> Scenario:
    """ETSI: AP 0 on DFS channel 52, AP 1 on 36 far away; a site-wide radar on 52 at ``at_s``."""
    return small_scenario(
        [
            {"position": [10, 20], "channel": 52, "max_width_mhz": 40},
            {"position": [90, 20], "channel": 36, "max_width_mhz": 40},
        ],
        radars=({"name": "airport", "channel": 52, "at_s": list(at_s)},),
    )


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


def batch_site(n: int = 8) -> Scenario:
    return small_scenario([{"position": [5 + 12 * i, 20], "channel": 36} for i in range(n)], clients_per_ap=2)


def two_aps(channel_b: int) -> Scenario:
    """Two APs 20 m apart (they hear each other), AP 0 on 36; 10 clients each asking 18 Mb/s."""
    return small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [30, 20], "channel": channel_b}], mean_mbps=18.0
    )


def event(kind: EventType, tag: int) -> Event:
    return Event(kind, 0, tag, Source.INJECTED, float(tag))


def video_bridge_site() -> Scenario:
    """AP 0 on 36 with a continuous video bridge on 36 three metres away; AP 1 far away on 44."""
    return small_scenario(
        [{"position": [10, 20], "channel": 36}, {"position": [90, 20], "channel": 44}],
        interferers=({"kind": "video_bridge", "channel": 36, "position": [13, 20]},),
    )


def saturation_site(neighbor_load: float) -> Scenario:
    """AP 0 on 36 with light traffic next to an unmanaged co-channel neighbour that wants ``neighbor_load``."""
    return small_scenario(
        [{"position": [10, 20], "channel": 36}],
        mean_mbps=0.5,
        neighbors=({"position": [15, 20], "channel": 36, "load": neighbor_load, "power_dbm": 20},),
    )


def scripted_run(seed: int) -> EventLoop:
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


def loop_state(loop: EventLoop) -> dict:
    return {
        "power": loop.sim.power_dbm.copy(),
        "slot": loop.sim.slot.copy(),
        "audit": list(loop.audit._memory),
        "watching": sorted(loop.rollbacks.watching),
        "counters": loop.counters(),
        "last_change": loop.cooldown.last_change_s.copy(),
        "step": (list(loop.step_audit_ids), list(loop.step_audit_networks), loop.last_token),
    }


def high_power_site() -> Scenario:
    """ETSI radios that go up to 30 dBm: above the 23 dBm EIRP limit of channels 36-64."""
    aps = [{"position": [10 + 25 * i, 20], "channel": 100, "power_dbm": 28, "max_power_dbm": 30} for i in range(3)]
    return small_scenario(aps)
