"""Scenario schema: what a YAML scenario file may say, with ranges and defaults.

Every model forbids unknown keys, so a typo is an error rather than a silently
ignored setting. Checks that need more than one field (a channel the domain
allows, an AP inside the area) live in :func:`semantic_problems`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rrm_gym.radio.regulatory import DOMAINS, slot_index

Point = tuple[float, float]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PowerDbm = Annotated[float, Field(ge=-10.0, le=36.0)]
Width = Literal[20, 40, 80, 160]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Area(_Strict):
    width_m: Annotated[float, Field(gt=0, le=2000)]
    height_m: Annotated[float, Field(gt=0, le=2000)]


class WallGrid(_Strict):
    """Full-length walls every ``spacing`` metres (apartments, offices)."""

    spacing_x_m: Annotated[float, Field(gt=0)] | None = None
    spacing_y_m: Annotated[float, Field(gt=0)] | None = None


class Propagation(_Strict):
    model: Literal["enterprise", "residential"] = "enterprise"
    shadowing_sigma_db: Annotated[float, Field(ge=0.0, le=12.0)] = 5.0


class Loops(_Strict):
    """Periods of the three control loops and of client mobility/traffic updates."""

    fast_period_s: Annotated[int, Field(ge=1, le=86400)] = 60
    slow_period_s: Annotated[int, Field(ge=1, le=86400)] = 3600
    epoch_s: Annotated[int, Field(ge=1, le=3600)] = 60


class AccessPoint(_Strict):
    name: str | None = None
    position: Point
    channel: int
    width_mhz: Width = 20
    max_width_mhz: Width | None = None
    power_dbm: PowerDbm = 17.0
    min_power_dbm: PowerDbm = 2.0
    max_power_dbm: PowerDbm = 23.0
    spatial_streams: Annotated[int, Field(ge=1, le=8)] = 2
    height_m: Annotated[float, Field(ge=0.0, le=30.0)] = 3.0  # mounting height (ceiling)


class Hotspot(_Strict):
    center: Point
    radius_m: Annotated[float, Field(gt=0)]
    weight: Annotated[float, Field(gt=0)] = 1.0


class Placement(_Strict):
    kind: Literal["uniform", "hotspots"] = "uniform"
    hotspots: list[Hotspot] = []


class Demand(_Strict):
    """Per-client offered load: log-normal around ``mean_mbps`` times a diurnal profile."""

    mean_mbps: Annotated[float, Field(gt=0, le=10000)] = 5.0
    sigma: Annotated[float, Field(ge=0, le=3)] = 1.0
    profile: Literal["office", "residential", "flat"] = "office"
    # optional explicit activity probability for each hour 0..23 (overrides profile)
    hourly: Annotated[list[Fraction], Field(min_length=24, max_length=24)] | None = None


AppName = Literal["bulk", "web", "video", "call"]
Capability = Literal["ax", "ac", "n", "n24"]


class Traffic(_Strict):
    """Per-client applications (see :mod:`rrm_gym.sim.traffic`): ``mix`` gives the share of
    clients running each; ``rate_scale`` multiplies every application's rate; the share of
    clients active follows the diurnal ``profile`` (or ``hourly``, or a constant ``activity``)."""

    mix: dict[AppName, Fraction]
    rate_scale: Annotated[float, Field(gt=0, le=100)] = 1.0
    profile: Literal["office", "residential", "flat"] = "office"
    hourly: Annotated[list[Fraction], Field(min_length=24, max_length=24)] | None = None
    activity: Fraction | None = None  # the same share of clients active every hour (overrides both)


class Mobility(_Strict):
    """Nomadic users: a mobile client stays put for ``mean_dwell_s`` on average, then relocates."""

    mobile_fraction: Fraction = 0.2
    mean_dwell_s: Annotated[float, Field(gt=0)] = 1800.0


class Clients(_Strict):
    count: Annotated[int, Field(ge=0, le=20000)]
    placement: Placement = Placement()
    demand: Demand = Demand()
    mobility: Mobility = Mobility()
    spatial_streams: Annotated[int, Field(ge=1, le=8)] = 2
    roam_hysteresis_db: Annotated[float, Field(ge=0, le=30)] = 6.0
    # kept so that v0 files load; v1 steers by band_steering_rssi_dbm and client capability
    band_steering_db: Annotated[float, Field(ge=0, le=30)] = 5.0
    # applications (v1); without it, ``demand`` gives constant-rate clients as in v0
    traffic: Traffic | None = None
    # share of clients of each generation: ax (802.11ax), ac, n (dual-band 802.11n), n24 (2.4 GHz
    # only). Default: a 2026 enterprise fleet, Wi-Fi 6/6E devices a little over half of clients
    capabilities: dict[Capability, Fraction] = {"ax": 0.55, "ac": 0.35, "n": 0.1}
    tx_power_dbm: Annotated[float, Field(ge=0.0, le=30.0)] = 15.0  # client transmit power (uplink)
    height_m: Annotated[float, Field(ge=0.0, le=30.0)] = 1.0  # a device on a desk or in a hand
    # a dual-band client is steered to 5 GHz when it hears a 5 GHz AP at least this loud
    band_steering_rssi_dbm: Annotated[float, Field(ge=-95, le=-40)] = -75.0
    # a client looks for a better AP only once its AP's signal drops below this (sticky clients)
    roam_trigger_dbm: Annotated[float, Field(ge=-95, le=-40)] = -75.0


class NeighborAP(_Strict):
    """An unmanaged AP: fixed channel and power, busy ``load`` of the time."""

    name: str | None = None
    position: Point
    channel: int
    width_mhz: Width = 20
    power_dbm: PowerDbm = 17.0
    load: Fraction = 0.2
    height_m: Annotated[float, Field(ge=0.0, le=30.0)] = 3.0


class Schedule(_Strict):
    """When something is on: always, in fixed intervals, and/or in random sessions."""

    always: bool = False
    intervals_s: list[tuple[float, float]] = []
    sessions_per_hour: Annotated[float, Field(ge=0, le=3600)] = 0.0
    mean_session_s: Annotated[float, Field(gt=0)] = 120.0
    active_hours: tuple[float, float] = (0.0, 24.0)


class Interferer(_Strict):
    """A non-Wi-Fi source; ``duty_cycle`` is its on-time fraction while a session is active."""

    kind: Literal["microwave", "video_bridge", "bluetooth", "generic"]
    name: str | None = None
    position: Point
    channel: int | None = None
    center_mhz: Annotated[float, Field(gt=2300, lt=6000)] | None = None
    bandwidth_mhz: Annotated[float, Field(gt=0, le=200)] | None = None
    power_dbm: PowerDbm | None = None
    duty_cycle: Annotated[float, Field(gt=0, le=1)] | None = None
    schedule: Schedule = Schedule(always=True)


class Radar(_Strict):
    """Radar pulses on a DFS channel, heard by every AP within ``range_m`` of ``position``."""

    name: str | None = None
    channel: int
    position: Point | None = None
    range_m: Annotated[float, Field(gt=0)] | None = None
    at_s: list[Annotated[float, Field(ge=0)]] = []
    rate_per_hour: Annotated[float, Field(ge=0, le=3600)] = 0.0


class Wlan(_Strict):
    """What every managed and neighbour AP advertises: SSIDs (one beacon each every 102.4 ms)
    and the lowest basic rate per band, at which beacons go out."""

    ssids: Annotated[int, Field(ge=1, le=16)] = 3
    basic_rate_24_mbps: Literal[1, 2, 5.5, 6, 11, 12, 24] = 6
    basic_rate_5_mbps: Literal[6, 12, 24] = 6


class Scenario(_Strict):
    name: str
    description: str = ""
    tier: Literal["nominal", "peak"] = "nominal"
    wlan: Wlan = Wlan()
    regulatory_domain: Literal["FCC", "ETSI"] = "FCC"
    area: Area
    walls: list[tuple[float, float, float, float]] = []
    wall_grid: WallGrid | None = None
    propagation: Propagation = Propagation()
    loops: Loops = Loops()
    start_hour: Annotated[float, Field(ge=0, lt=24)] = 9.0
    aps: Annotated[list[AccessPoint], Field(min_length=1, max_length=2000)]
    clients: Clients
    neighbors: list[NeighborAP] = []
    interferers: list[Interferer] = []
    radars: list[Radar] = []


# Defaults per interferer kind: centre MHz, bandwidth MHz, power dBm, duty cycle.
INTERFERER_DEFAULTS = {
    "microwave": (2455.0, 30.0, 20.0, 0.5),  # magnetron sweeps ~2.44-2.47 GHz, on half of each mains cycle
    "video_bridge": (5785.0, 20.0, 10.0, 1.0),  # analogue video sender, continuous
    "bluetooth": (2441.0, 79.0, 4.0, 0.3),  # class-2 hopper over 79 x 1 MHz
    "generic": (2437.0, 20.0, 10.0, 0.5),
}


def semantic_problems(s: Scenario) -> list[tuple[str, str]]:
    """Cross-field problems as ``(field path, reason)`` pairs; empty when the scenario is sound."""
    out: list[tuple[str, str]] = []
    domain = DOMAINS[s.regulatory_domain]
    w, h = s.area.width_m, s.area.height_m

    def inside(path: str, p: tuple[float, float]) -> None:
        if not (0 <= p[0] <= w and 0 <= p[1] <= h):
            out.append((path, f"point {list(p)} is outside the area [0, {w:g}] x [0, {h:g}] m"))

    def legal(path: str, channel: int, width: int) -> None:
        if not domain.allows(channel, width):
            try:
                slot_index(channel, width)
                why = f"is not allowed in regulatory domain {domain.name}"
            except ValueError as e:
                why = f"is not a valid channel ({e})"
            out.append((path, f"channel {channel} at {width} MHz {why}"))

    for i, ap in enumerate(s.aps):
        p = f"aps[{i}]"
        inside(f"{p}.position", ap.position)
        legal(f"{p}.channel", ap.channel, ap.width_mhz)
        if ap.max_width_mhz is not None and ap.max_width_mhz < ap.width_mhz:
            out.append((f"{p}.max_width_mhz", f"{ap.max_width_mhz} is below width_mhz {ap.width_mhz}"))
        if ap.min_power_dbm > ap.max_power_dbm:
            out.append((f"{p}.min_power_dbm", f"{ap.min_power_dbm} exceeds max_power_dbm {ap.max_power_dbm}"))
        elif not ap.min_power_dbm <= ap.power_dbm <= ap.max_power_dbm:
            out.append((f"{p}.power_dbm", f"{ap.power_dbm} is outside [{ap.min_power_dbm}, {ap.max_power_dbm}] dBm"))
    names = [ap.name for ap in s.aps if ap.name is not None]
    if len(names) != len(set(names)):
        out.append(("aps", "AP names must be unique"))
    for i, hs in enumerate(s.clients.placement.hotspots):
        inside(f"clients.placement.hotspots[{i}].center", hs.center)
    if s.clients.placement.kind == "hotspots" and not s.clients.placement.hotspots:
        out.append(("clients.placement.hotspots", "placement kind 'hotspots' needs at least one hotspot"))
    for field, mix in (
        ("clients.traffic.mix", s.clients.traffic.mix if s.clients.traffic else None),
        ("clients.capabilities", s.clients.capabilities),
    ):
        if mix is not None and abs(sum(mix.values()) - 1.0) > 1e-6:
            out.append((field, f"shares must add up to 1, got {sum(mix.values()):g}"))
    if s.clients.traffic is not None and s.clients.demand != Demand():
        out.append(("clients.demand", "give traffic (applications) or demand (constant rate), not both"))
    for i, nb in enumerate(s.neighbors):
        legal(f"neighbors[{i}].channel", nb.channel, nb.width_mhz)
    for i, it in enumerate(s.interferers):
        if it.channel is not None and it.center_mhz is not None:
            out.append((f"interferers[{i}]", "give channel or center_mhz, not both"))
        elif it.channel is not None:
            try:
                slot_index(it.channel)
            except ValueError as e:
                out.append((f"interferers[{i}].channel", str(e)))
        _check_schedule(out, f"interferers[{i}].schedule", it.schedule)
    for i, r in enumerate(s.radars):
        if r.channel not in domain.dfs_channels:
            out.append((f"radars[{i}].channel", f"channel {r.channel} is not a DFS channel in {domain.name}"))
        if (r.position is None) != (r.range_m is None):
            out.append((f"radars[{i}]", "give both position and range_m, or neither (heard site-wide)"))
    if s.loops.slow_period_s % s.loops.fast_period_s:
        out.append(
            (
                "loops.slow_period_s",
                f"{s.loops.slow_period_s} is not a multiple of fast_period_s {s.loops.fast_period_s}",
            )
        )
    return out


def _check_schedule(out: list[tuple[str, str]], path: str, sch: Schedule) -> None:
    a, b = sch.active_hours
    if not (0 <= a < b <= 24):
        out.append((f"{path}.active_hours", f"{list(sch.active_hours)} must satisfy 0 <= start < end <= 24"))
    for j, (t0, t1) in enumerate(sch.intervals_s):
        if not 0 <= t0 < t1:
            out.append((f"{path}.intervals_s[{j}]", f"[{t0}, {t1}] must satisfy 0 <= start < end"))
