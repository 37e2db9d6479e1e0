"""Scenario schema: what a YAML scenario file may say, with ranges and defaults.

Every model forbids unknown keys, so a typo is an error rather than a silently
ignored setting. Checks that need more than one field (a channel the domain
allows, an AP inside the area) live in :func:`semantic_problems`.
"""

from __future__ import annotations

import math
import numbers
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from rrm_gym.radio.regulatory import DOMAINS, slot_index


def _kind(value: Any) -> str:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "a boolean"
    return {str: "a string", type(None): "null", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _numeric(what: str) -> Any:
    """A validator that passes numbers only: ``true`` is not channel 1, ``"36"`` is not 36."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or type(value).__name__ == "bool_":
            raise PydanticCustomError(
                "number_type", f"Input should be a valid {what}, got {{kind}}", {"kind": _kind(value)}
            )
        return value

    return BeforeValidator(check)


def _boolean(value: Any) -> Any:
    """``true`` or ``false`` and nothing else: 1 or "yes" is not a switch."""
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be true or false, got {kind}", {"kind": _kind(value)})
    return value


# Numbers are finite (the models set allow_inf_nan=False) and never booleans or strings.
Float = Annotated[float, _numeric("number")]
Int = Annotated[int, _numeric("integer")]
Bool = Annotated[bool, BeforeValidator(_boolean)]
# Coordinates: anywhere within 100 km of the floor's origin (neighbours and radars lie outside it)
Coordinate = Annotated[Float, Field(ge=-100_000.0, le=100_000.0)]
Point = tuple[Coordinate, Coordinate]
Fraction = Annotated[Float, Field(ge=0.0, le=1.0)]
PowerDbm = Annotated[Float, Field(ge=-10.0, le=36.0)]
Width = Annotated[Literal[20, 40, 80, 160], _numeric("number")]
# A label printed in tables, logs and file names: one line, no path separators.
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^/\\\x00-\x1f\x7f]+$")]
Seconds = Annotated[Float, Field(gt=0, le=1e7)]  # about 115 days
# Fields whose length sets how much memory a simulation needs (see ``estimated_memory_bytes``)
MAX_WALLS = 20_000
MAX_NEIGHBORS = 2_000
MAX_INTERFERERS = 500
MAX_RADARS = 100
MAX_HOTSPOTS = 1_000
MAX_TIMES = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Area(_Strict):
    width_m: Annotated[Float, Field(gt=0, le=2000)]
    height_m: Annotated[Float, Field(gt=0, le=2000)]


class WallGrid(_Strict):
    """Full-length walls every ``spacing`` metres (apartments, offices): 1 m to 2 km."""

    spacing_x_m: Annotated[Float, Field(ge=1.0, le=2000)] | None = None
    spacing_y_m: Annotated[Float, Field(ge=1.0, le=2000)] | None = None


class Propagation(_Strict):
    model: Literal["enterprise", "residential"] = "enterprise"
    shadowing_sigma_db: Annotated[Float, Field(ge=0.0, le=12.0)] = 5.0


class Loops(_Strict):
    """Periods of the three control loops and of client mobility/traffic updates."""

    fast_period_s: Annotated[Int, Field(ge=1, le=86400)] = 60
    slow_period_s: Annotated[Int, Field(ge=1, le=86400)] = 3600
    epoch_s: Annotated[Int, Field(ge=1, le=3600)] = 60


class AccessPoint(_Strict):
    name: Label | None = None
    position: Point
    channel: Int
    width_mhz: Width = 20
    max_width_mhz: Width | None = None
    power_dbm: PowerDbm = 17.0
    min_power_dbm: PowerDbm = 2.0
    max_power_dbm: PowerDbm = 23.0
    spatial_streams: Annotated[Int, Field(ge=1, le=8)] = 2
    height_m: Annotated[Float, Field(ge=0.0, le=30.0)] = 3.0  # mounting height (ceiling)


class Hotspot(_Strict):
    center: Point
    radius_m: Annotated[Float, Field(gt=0, le=10_000)]
    weight: Annotated[Float, Field(gt=0, le=1e6)] = 1.0


class Placement(_Strict):
    kind: Literal["uniform", "hotspots"] = "uniform"
    hotspots: Annotated[list[Hotspot], Field(max_length=MAX_HOTSPOTS)] = []


class Demand(_Strict):
    """Per-client offered load: log-normal around ``mean_mbps`` times a diurnal profile."""

    mean_mbps: Annotated[Float, Field(gt=0, le=10000)] = 5.0
    sigma: Annotated[Float, Field(ge=0, le=3)] = 1.0
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
    rate_scale: Annotated[Float, Field(gt=0, le=100)] = 1.0
    profile: Literal["office", "residential", "flat"] = "office"
    hourly: Annotated[list[Fraction], Field(min_length=24, max_length=24)] | None = None
    activity: Fraction | None = None  # the same share of clients active every hour (overrides both)


class Mobility(_Strict):
    """Nomadic users: a mobile client stays put for ``mean_dwell_s`` on average, then relocates."""

    mobile_fraction: Fraction = 0.2
    mean_dwell_s: Seconds = 1800.0


class Clients(_Strict):
    count: Annotated[Int, Field(ge=0, le=20000)]
    placement: Placement = Placement()
    demand: Demand = Demand()
    mobility: Mobility = Mobility()
    spatial_streams: Annotated[Int, Field(ge=1, le=8)] = 2
    roam_hysteresis_db: Annotated[Float, Field(ge=0, le=30)] = 6.0
    # kept so that v0 files load; v1 steers by band_steering_rssi_dbm and client capability
    band_steering_db: Annotated[Float, Field(ge=0, le=30)] = 5.0
    # applications (v1); without it, ``demand`` gives constant-rate clients as in v0
    traffic: Traffic | None = None
    # share of clients of each generation: ax (802.11ax), ac, n (dual-band 802.11n), n24 (2.4 GHz
    # only). Default: a 2026 enterprise fleet, Wi-Fi 6/6E devices a little over half of clients
    capabilities: dict[Capability, Fraction] = {"ax": 0.55, "ac": 0.35, "n": 0.1}
    tx_power_dbm: Annotated[Float, Field(ge=0.0, le=30.0)] = 15.0  # client transmit power (uplink)
    height_m: Annotated[Float, Field(ge=0.0, le=30.0)] = 1.0  # a device on a desk or in a hand
    # a dual-band client is steered to 5 GHz when it hears a 5 GHz AP at least this loud
    band_steering_rssi_dbm: Annotated[Float, Field(ge=-95, le=-40)] = -75.0
    # a client looks for a better AP only once its AP's signal drops below this (sticky clients)
    roam_trigger_dbm: Annotated[Float, Field(ge=-95, le=-40)] = -75.0


class NeighborAP(_Strict):
    """An unmanaged AP: fixed channel and power, busy ``load`` of the time."""

    name: Label | None = None
    position: Point
    channel: Int
    width_mhz: Width = 20
    power_dbm: PowerDbm = 17.0
    load: Fraction = 0.2
    height_m: Annotated[Float, Field(ge=0.0, le=30.0)] = 3.0


class Schedule(_Strict):
    """When something is on: always, in fixed intervals, and/or in random sessions."""

    always: Bool = False
    intervals_s: Annotated[
        list[tuple[Annotated[Float, Field(ge=0, le=1e9)], Annotated[Float, Field(ge=0, le=1e9)]]],
        Field(max_length=MAX_TIMES),
    ] = []
    sessions_per_hour: Annotated[Float, Field(ge=0, le=3600)] = 0.0
    mean_session_s: Seconds = 120.0
    active_hours: tuple[Float, Float] = (0.0, 24.0)


class Interferer(_Strict):
    """A non-Wi-Fi source; ``duty_cycle`` is its on-time fraction while a session is active."""

    kind: Literal["microwave", "video_bridge", "bluetooth", "generic"]
    name: Label | None = None
    position: Point
    channel: Int | None = None
    center_mhz: Annotated[Float, Field(gt=2300, lt=6000)] | None = None
    bandwidth_mhz: Annotated[Float, Field(gt=0, le=200)] | None = None
    power_dbm: PowerDbm | None = None
    duty_cycle: Annotated[Float, Field(gt=0, le=1)] | None = None
    schedule: Schedule = Schedule(always=True)


class Radar(_Strict):
    """Radar pulses on a DFS channel, heard by every AP within ``range_m`` of ``position``."""

    name: Label | None = None
    channel: Int
    position: Point | None = None
    range_m: Annotated[Float, Field(gt=0, le=100_000)] | None = None
    at_s: Annotated[list[Annotated[Float, Field(ge=0, le=1e9)]], Field(max_length=MAX_TIMES)] = []
    rate_per_hour: Annotated[Float, Field(ge=0, le=3600)] = 0.0


class Wlan(_Strict):
    """What every managed and neighbour AP advertises: SSIDs (one beacon each every 102.4 ms)
    and the lowest basic rate per band, at which beacons go out."""

    ssids: Annotated[Int, Field(ge=1, le=16)] = 3
    basic_rate_24_mbps: Annotated[Literal[1, 2, 5.5, 6, 11, 12, 24], _numeric("number")] = 6
    basic_rate_5_mbps: Annotated[Literal[6, 12, 24], _numeric("number")] = 6


class Scenario(_Strict):
    name: Label
    description: Annotated[str, Field(max_length=10_000)] = ""
    tier: Literal["nominal", "peak"] = "nominal"
    wlan: Wlan = Wlan()
    regulatory_domain: Literal["FCC", "ETSI"] = "FCC"
    area: Area
    walls: Annotated[list[tuple[Coordinate, Coordinate, Coordinate, Coordinate]], Field(max_length=MAX_WALLS)] = []
    wall_grid: WallGrid | None = None
    propagation: Propagation = Propagation()
    loops: Loops = Loops()
    start_hour: Annotated[Float, Field(ge=0, lt=24)] = 9.0
    aps: Annotated[list[AccessPoint], Field(min_length=1, max_length=2000)]
    clients: Clients
    neighbors: Annotated[list[NeighborAP], Field(max_length=MAX_NEIGHBORS)] = []
    interferers: Annotated[list[Interferer], Field(max_length=MAX_INTERFERERS)] = []
    radars: Annotated[list[Radar], Field(max_length=MAX_RADARS)] = []


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
    out += memory_problems(s)
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


# What one simulated network may need at most (see docs/scenarios.md, "Limits").
MAX_SCENARIO_MEMORY_BYTES = 2 * 1024**3
# rrm_gym.sim.geometry's client grid pitch (CLIENT_GRID_M) and loss-raster budget (LossRaster.build)
_CLIENT_GRID_M = 0.5
_RASTER_MAX_CELLS = 2_000_000
_BYTES_PER_WALL_TEST = 32  # float64 temporaries of one link crossing one wall (geometry.walls_crossed)
_BYTES_PER_CLIENT_LINK = 120  # path loss, link terms and rates of one client to one transmitter
_BYTES_PER_TICK_READING = 80  # the per-second readings of one AP (Sensing's [B, T, N] fields)
_FIXED_BYTES = 16 * 1024**2  # tables, traffic state and the like, whatever the size


def wall_count(s: Scenario) -> int:
    """Walls the simulation draws: the explicit ones and those of ``wall_grid``."""
    count = len(s.walls)
    grid = s.wall_grid
    if grid is not None:
        for spacing, extent in ((grid.spacing_x_m, s.area.width_m), (grid.spacing_y_m, s.area.height_m)):
            if spacing:
                count += max(0, math.ceil((extent - 1e-9 - spacing) / spacing))
    return count


def memory_terms(s: Scenario) -> dict[str, int]:
    """Estimated peak bytes of one simulated network, by the fields that set each term: walls
    crossed between transmitters, each AP's per-second readings over a slow period, the client-grid
    loss rasters (or, where a floor is too large
    for a raster, every client link tested against every wall), and the per-client link state."""
    n, k, walls = len(s.aps), s.clients.count, wall_count(s)
    tx, its = n + len(s.neighbors), len(s.interferers)
    cells = math.ceil(s.area.width_m / _CLIENT_GRID_M) * math.ceil(s.area.height_m / _CLIENT_GRID_M)
    ticks = max(s.loops.slow_period_s, s.loops.fast_period_s)  # a slow period's readings are kept
    terms = {
        "fixed": _FIXED_BYTES,
        "loops.slow_period_s x aps, radars": _BYTES_PER_TICK_READING * ticks * (n + len(s.radars)),
        "aps, neighbors, interferers x walls, wall_grid": _BYTES_PER_WALL_TEST * walls * (tx * tx + its * n),
        "clients.count x aps, neighbors, interferers": _BYTES_PER_CLIENT_LINK * k * (tx + its),
    }
    raster = client_walls = 0
    for sources in (tx, its):
        if sources and cells * sources <= _RASTER_MAX_CELLS:  # a raster over the client grid, per source
            raster += 17 * cells * sources + _BYTES_PER_WALL_TEST * cells * walls
        elif sources:  # no raster: each client's links tested wall by wall
            client_walls += _BYTES_PER_WALL_TEST * k * sources * walls
    terms["area x walls, wall_grid x aps, neighbors, interferers"] = raster
    terms["clients.count x aps, neighbors, interferers x walls, wall_grid"] = client_walls
    return terms


def estimated_memory_bytes(s: Scenario) -> int:
    """Estimated peak memory of one simulated network of ``s`` (a batch of B networks needs
    about B times as much); an upper estimate, within about 1.5x of what is measured."""
    return sum(memory_terms(s).values())


def memory_problems(s: Scenario) -> list[tuple[str, str]]:
    """A problem when ``s`` would need more than :data:`MAX_SCENARIO_MEMORY_BYTES`."""
    terms = memory_terms(s)
    total = sum(terms.values())
    if total <= MAX_SCENARIO_MEMORY_BYTES:
        return []
    fields = max(terms, key=lambda t: terms[t])
    sizes = (
        f"{len(s.aps)} APs, {len(s.neighbors)} neighbours, {len(s.interferers)} interferers, "
        f"{s.clients.count} clients, {wall_count(s)} walls, area {s.area.width_m:g} x {s.area.height_m:g} m"
    )
    gib = 1024**3
    return [
        (
            "",
            f"too large to simulate: about {total / gib:.1f} GiB per network, over the limit of "
            f"{MAX_SCENARIO_MEMORY_BYTES / gib:g} GiB ({sizes}); most of it from {fields}",
        )
    ]
