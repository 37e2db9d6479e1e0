"""Detectors: sensing in, events out, vectorized over networks, ticks and APs.

Conditions that must be *sustained* (non-Wi-Fi energy, saturation) keep a run-length
counter per AP across spans, and fire when the run reaches the sustain time, then again
every sustain time while it persists (a handler that could not act hears about it again).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rrm_gym.safety.events import EventType
from rrm_gym.sim import INTERFERER_KINDS, Sensing


@dataclass(frozen=True)
class DetectorConfig:
    nonwifi_confidence: float = 0.6  # classifier confidence needed
    nonwifi_duty: float = 0.3  # duty cycle needed
    nonwifi_sustain_s: int = 10
    saturation_cca: float = 0.9  # CCA busy fraction
    saturation_sustain_s: int = 30

    def __post_init__(self) -> None:
        if self.nonwifi_sustain_s < 1 or self.saturation_sustain_s < 1:
            raise ValueError("sustain times must be at least one 1 s tick")


@dataclass(frozen=True)
class Detection:
    type: EventType
    network: int
    ap: int
    tick: int  # index into the span
    data: dict


def _run_lengths(cond: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """Consecutive-true counts ending at each tick, ``cond`` ``[B, T, N]``, carrying ``carry`` ``[B, N]`` in."""
    t = cond.shape[1]
    idx = np.arange(t)[None, :, None]
    last_false = np.maximum.accumulate(np.where(cond, -1, idx), axis=1)
    return np.where(last_false < 0, idx + 1 + carry[:, None, :], idx - last_false)


class Detectors:
    """Radar, non-Wi-Fi interference and spectrum saturation detectors for B x N APs."""

    def __init__(self, config: DetectorConfig, num_networks: int, num_aps: int) -> None:
        self.config = config
        self._nonwifi_run = np.zeros((num_networks, num_aps), dtype=np.int64)
        self._saturation_run = np.zeros((num_networks, num_aps), dtype=np.int64)
        self._cache: tuple[Sensing, tuple] | None = None

    def _triggers(self, s: Sensing) -> tuple[np.ndarray, ...]:
        if self._cache is not None and self._cache[0] is s:
            return self._cache[1]
        c = self.config
        nonwifi = (s.nonwifi_confidence >= c.nonwifi_confidence) & (s.nonwifi_duty_frac >= c.nonwifi_duty)
        saturated = s.cca_busy_frac >= c.saturation_cca
        nw_fire, nw_run = self._sustained(nonwifi, self._nonwifi_run, c.nonwifi_sustain_s)
        sat_fire, sat_run = self._sustained(saturated, self._saturation_run, c.saturation_sustain_s)
        out = (s.radar_detected, nw_fire, sat_fire, nw_run, sat_run)
        self._cache = (s, out)
        return out

    @staticmethod
    def _sustained(cond: np.ndarray, carry: np.ndarray, sustain: int) -> tuple[np.ndarray, np.ndarray]:
        """Ticks where ``cond`` has held for a multiple of ``sustain`` ticks, and the run-length counts
        at the end of the span ``[B, N]``."""
        if not cond.any():
            return np.zeros(cond.shape, dtype=bool), np.zeros_like(carry)
        run = _run_lengths(cond, carry)
        return cond & (run % sustain == 0), run[:, -1].copy()

    def first_tick(self, s: Sensing, types: frozenset[EventType] | None = None) -> int | None:
        """Earliest tick of the span at which a detector of ``types`` (default: all) fires,
        without consuming the span."""
        radar, nw, sat, _, _ = self._triggers(s)
        kinds = {EventType.DFS_RADAR: radar, EventType.NON_WIFI_INTERFERENCE: nw, EventType.SPECTRUM_SATURATION: sat}
        chosen = [v for k, v in kinds.items() if types is None or k in types]
        if not chosen:
            return None
        fired = np.logical_or.reduce(chosen).any(axis=(0, 2))
        return int(np.argmax(fired)) if fired.any() else None

    def consume(self, s: Sensing) -> list[Detection]:
        """Detections in the span, in tick order; updates the sustain counters."""
        radar, nw, sat, nw_run, sat_run = self._triggers(s)
        self._nonwifi_run, self._saturation_run = nw_run, sat_run
        out: list[Detection] = []
        for b, t, n in zip(*np.nonzero(radar), strict=True):
            out.append(Detection(EventType.DFS_RADAR, int(b), int(n), int(t), {}))
        for b, t, n in zip(*np.nonzero(nw), strict=True):
            kind = int(s.nonwifi_kind[b, t, n])
            out.append(
                Detection(
                    EventType.NON_WIFI_INTERFERENCE,
                    int(b),
                    int(n),
                    int(t),
                    {
                        "kind": INTERFERER_KINDS[kind] if kind >= 0 else "unknown",
                        "duty_cycle": round(float(s.nonwifi_duty_frac[b, t, n]), 3),
                        "confidence": round(float(s.nonwifi_confidence[b, t, n]), 3),
                    },
                )
            )
        for b, t, n in zip(*np.nonzero(sat), strict=True):
            out.append(
                Detection(
                    EventType.SPECTRUM_SATURATION,
                    int(b),
                    int(n),
                    int(t),
                    {"cca_busy_pct": round(100.0 * float(s.cca_busy_frac[b, t, n]), 1)},
                )
            )
        out.sort(key=lambda d: (d.tick, int(d.type)))
        return out

    def reset_ap(self, network: int, ap: int) -> None:
        """Forget sustained conditions of an AP that just moved (its old channel's history is moot)."""
        self._nonwifi_run[network, ap] = 0
        self._saturation_run[network, ap] = 0
