"""Non-Wi-Fi interferers and radars: when each is on, and how much of its power lands in each
channel. Shapes: ``B`` networks, ``T`` ticks, ``E`` scheduled sources, ``I`` interferers,
``R`` radars, ``S`` slots."""

from __future__ import annotations

import numpy as np

from rrm_gym.config.schema import INTERFERER_DEFAULTS, Interferer, Radar, Schedule
from rrm_gym.radio.regulatory import SLOTS, slot_index

INTERFERER_KINDS = ("microwave", "video_bridge", "bluetooth", "generic")
NEG_DB = -300.0  # "no power" in dB, finite so that arithmetic stays warning-free


class OnOff:
    """Per-tick on/off of E scheduled sources in B networks (always, intervals, random sessions)."""

    def __init__(self, schedules: list[Schedule], num_networks: int, start_hour: float) -> None:
        self.always = np.array([s.always for s in schedules], dtype=bool)
        self.intervals = [np.asarray(s.intervals_s, dtype=float).reshape(-1, 2) for s in schedules]
        self.rate_per_s = np.array([s.sessions_per_hour / 3600.0 for s in schedules])
        self.mean_session_s = np.array([s.mean_session_s for s in schedules])
        self.hours = np.array([s.active_hours for s in schedules], dtype=float).reshape(-1, 2)
        self.start_hour = start_hour
        self.session_end_s = np.full((num_networks, len(schedules)), -np.inf)  # [B, E]

    def sample(self, t0_s: float, ticks: int, rng: np.random.Generator) -> np.ndarray:
        """``[B, T, E]`` bool for ticks starting at ``t0_s``; a session carries over to the next call."""
        b, e = self.session_end_s.shape
        t = t0_s + np.arange(ticks, dtype=float)  # [T]
        on = np.broadcast_to(self.always, (ticks, e)).copy()
        for j, iv in enumerate(self.intervals):
            if len(iv):
                on[:, j] |= ((t[:, None] >= iv[:, 0]) & (t[:, None] < iv[:, 1])).any(axis=1)
        if not self.rate_per_s.any():
            return np.broadcast_to(on, (b, ticks, e))
        hour = (self.start_hour + t / 3600.0) % 24.0
        window = (hour[:, None] >= self.hours[:, 0]) & (hour[:, None] < self.hours[:, 1])  # [T, E]
        starts = rng.random((b, ticks, e)) < self.rate_per_s * window
        ends = t[:, None] + rng.exponential(self.mean_session_s, (b, ticks, e))  # a session from each start
        ends = np.where(starts, ends, -np.inf)
        ends[:, 0] = np.maximum(ends[:, 0], self.session_end_s)
        ends = np.maximum.accumulate(ends, axis=1)
        self.session_end_s = ends[:, -1].copy()
        return (ends > t[:, None]) | on


def interferer_spec(it: Interferer) -> tuple[float, float, float, float]:
    """Centre (MHz), bandwidth (MHz), power (dBm) and duty cycle of an interferer, defaults filled."""
    c, bw, p, duty = INTERFERER_DEFAULTS[it.kind]
    if it.channel is not None:
        c = SLOTS[slot_index(it.channel)].center_mhz
    elif it.center_mhz is not None:
        c = it.center_mhz
    return (
        c,
        it.bandwidth_mhz if it.bandwidth_mhz is not None else bw,
        it.power_dbm if it.power_dbm is not None else p,
        it.duty_cycle if it.duty_cycle is not None else duty,
    )


def interferer_bands(its: list[Interferer]) -> tuple[np.ndarray, np.ndarray]:
    """``[I, S]`` share of each interferer's power in each slot's band (dB) and its duty there.
    A hopper (Bluetooth) puts full power in the band for the share of hops that land there; a
    fixed-frequency source puts that share of its power there all the time."""
    spec = [interferer_spec(it) for it in its]
    lo = np.array([s[0] - s[1] / 2 for s in spec]).reshape(-1, 1)
    hi = np.array([s[0] + s[1] / 2 for s in spec]).reshape(-1, 1)
    slo = np.array([sl.span_mhz[0] for sl in SLOTS])
    shi = np.array([sl.span_mhz[1] for sl in SLOTS])
    frac = np.clip(np.minimum(hi, shi) - np.maximum(lo, slo), 0.0, None) / np.maximum(hi - lo, 1e-9)
    hopper = np.array([it.kind == "bluetooth" for it in its], dtype=bool).reshape(-1, 1)
    duty = np.array([s[3] for s in spec], dtype=float).reshape(-1, 1)
    with np.errstate(divide="ignore"):
        band_db = np.where(hopper, np.where(frac > 0, 0.0, NEG_DB), np.maximum(10 * np.log10(frac), NEG_DB))
    return band_db, np.where(hopper, frac, frac > 0) * duty


def radar_bursts(
    radars: list[Radar], at_ticks: list[np.ndarray], t0_s: float, ticks: int, b: int, rng: np.random.Generator
) -> np.ndarray:
    """``[B, T, R]`` radar pulses: scheduled ones at their ticks, random ones at their hourly rate."""
    rate = np.array([r.rate_per_hour / 3600.0 for r in radars])
    if rate.any():
        burst = rng.random((b, ticks, len(radars))) < rate
    else:
        burst = np.zeros((b, ticks, len(radars)), dtype=bool)
    t = int(t0_s) + np.arange(ticks)
    for j, at in enumerate(at_ticks):
        if len(at):
            burst[:, np.isin(t, at), j] = True
    return burst
