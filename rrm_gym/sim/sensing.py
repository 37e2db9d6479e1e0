"""What the APs and the controller measure over a span of ticks, and the KPIs and experience
utility worked out from it (telemetry a controller has: per-AP counters, per-client throughput,
latency and application class)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

import numpy as np

UTILITY_FLOOR = 0.01  # a client getting under 1 % of what it needs counts as getting 1 %


@dataclass(frozen=True)
class Sensing:
    """What the APs and the controller measured over one span of ticks.

    Per-tick arrays are ``[B, T, N]``. Per-client arrays ``[B, K]`` are means over the ticks the
    client had traffic (``client_active_frac`` of the span; 0 where it had none) or, for
    association, RSSI and SNR, the span's last tick. The ``client_*`` application fields are
    fixed per episode. Copy an array before writing into it: some are views other spans share.
    """

    t0_s: float
    cca_busy_frac: np.ndarray  # [B, T, N] medium busy (other Wi-Fi heard + non-Wi-Fi energy)
    airtime_frac: np.ndarray  # [B, T, N] own transmit time, retries and beacons included
    retry_rate: np.ndarray  # [B, T, N] share of the AP's transmissions that are retries
    throughput_mbps: np.ndarray  # [B, T, N] delivered by each AP's BSS (downlink and uplink)
    latency_ms: np.ndarray  # [B, T, N] traffic-weighted delay of its inelastic clients' packets
    nonwifi_duty_frac: np.ndarray  # [B, T, N] duty cycle of detected non-Wi-Fi energy
    nonwifi_confidence: np.ndarray  # [B, T, N] classifier confidence in [0, 1]
    nonwifi_kind: np.ndarray  # [B, T, N] index into INTERFERER_KINDS, -1 none
    radar_detected: np.ndarray  # [B, T, N] bool
    demand_mbps: np.ndarray  # [B, T, N] load offered to each AP's BSS by its clients
    transmitting: np.ndarray  # [B, T, N] bool: the radio is on (beacons at least)
    radar_burst: np.ndarray  # [B, T, R] ground truth of radar pulses, for compliance monitoring only
    client_ap: np.ndarray  # [B, K] serving AP, -1 unassociated
    client_rssi_dbm: np.ndarray  # [B, K] downlink signal, NaN unassociated
    client_snr_db: np.ndarray  # [B, K]
    client_throughput_mbps: np.ndarray  # [B, K] delivered, mean over its active ticks
    client_demand_mbps: np.ndarray  # [B, K] offered, mean over its active ticks (elastic: its cap)
    client_latency_ms: np.ndarray  # [B, K] mean over its active ticks
    client_sle_throughput: np.ndarray  # [B, K] share of its active ticks meeting its throughput need
    client_sle_latency: np.ndarray  # [B, K] share of its active ticks within its latency bound
    client_sle: np.ndarray  # [B, K] share of its active ticks meeting both
    client_active_frac: np.ndarray  # [B, K] share of the span it had traffic
    client_elastic: np.ndarray  # [B, K] bool: an elastic (bulk TCP) flow
    client_need_mbps: np.ndarray  # [B, K] elastic flows' good-service rate (0 for inelastic)
    client_latency_bound_ms: np.ndarray  # [B, K] its application's bound (inf: none)
    clients_per_ap: np.ndarray  # [B, N]
    neighbor_rssi_dbm: np.ndarray  # [B, N, N] RSSI at AP i of managed AP j, NaN if not heard
    foreign_rssi_dbm: np.ndarray  # [B, N, M] RSSI at AP i of unmanaged AP m, NaN if not heard
    foreign_channel: np.ndarray  # [M] primary channel of each unmanaged AP
    foreign_slot: np.ndarray  # [M] its slot (channel and width), as an off-channel scan reports it

    @property
    def ticks(self) -> int:
        return self.cca_busy_frac.shape[1]

    @property
    def client_active(self) -> np.ndarray:
        """``[B, K]`` bool: the client had traffic in the span."""
        return self.client_active_frac > 0

    def experience_utility(self) -> np.ndarray:
        """``[B]`` the experience utility of each network (nats; see :func:`client_utility`):
        the mean over clients with traffic, 0 with none."""
        return _masked_mean(client_utility(self), self.client_active)

    def experience_ceiling(self) -> np.ndarray:
        """``[B]`` the experience utility had every client got all it offered with no delay: 0 for
        inelastic applications, ln(rate limit / need) for elastic flows (the demand ceiling of the
        default reward)."""
        return _masked_mean(np.log(np.maximum(_utility_cap(self), UTILITY_FLOOR)), self.client_active)

    def kpis(self) -> dict[str, np.ndarray]:
        """Network KPIs per network ``[B]``, over clients with traffic and APs that carried some
        (never diluted by idle time): delivered throughput mean/p5, the same for elastic flows,
        p95 latency, service-level shares (client time meeting its throughput need, its latency
        bound, both), CCA busy and retry rate, and the experience utility."""
        active = self.client_active
        weight = self.client_active_frac
        elastic = active & self.client_elastic
        inelastic = active & ~self.client_elastic
        ap_active = self.demand_mbps.sum(axis=1) > 0  # [B, N]
        return {
            "throughput_mean_mbps": _masked_mean(self.client_throughput_mbps, active),
            "throughput_p5_mbps": _masked_percentile(self.client_throughput_mbps, active, 5.0),
            "elastic_mean_mbps": _masked_mean(self.client_throughput_mbps, elastic),
            "elastic_p5_mbps": _masked_percentile(self.client_throughput_mbps, elastic, 5.0),
            "latency_p95_ms": _masked_percentile(self.client_latency_ms, inelastic, 95.0),
            "sle_throughput": _weighted_mean(self.client_sle_throughput, weight),
            "sle_latency": _weighted_mean(self.client_sle_latency, np.where(self.client_elastic, 0.0, weight)),
            "sle": _weighted_mean(self.client_sle, weight),
            "cca_busy_mean": _masked_mean(self.cca_busy_frac.mean(axis=1, dtype=np.float64), ap_active),
            "retry_rate_mean": _masked_mean(self.retry_rate.mean(axis=1, dtype=np.float64), ap_active),
            "experience_utility": self.experience_utility(),
        }

    @staticmethod
    def concat(parts: list[Sensing]) -> Sensing:
        """Join consecutive spans into one: per-tick readings along the tick axis, per-client
        means weighted by each span's active ticks, the rest from the last span. The parts must
        follow each other in time (``ValueError`` otherwise)."""
        if not parts:
            raise ValueError("Sensing.concat needs at least one span")
        for before, after in itertools.pairwise(parts):
            if after.t0_s != before.t0_s + before.ticks:
                raise ValueError(
                    f"Sensing.concat: a span starting at {after.t0_s:g} s does not follow one of {before.ticks} ticks "
                    f"from {before.t0_s:g} s"
                )
        if len(parts) == 1:
            return parts[0]
        last = parts[-1]
        out = {f.name: getattr(last, f.name) for f in fields(Sensing)}
        out["t0_s"] = parts[0].t0_s
        for name in _TICK_FIELDS:
            out[name] = np.concatenate([getattr(p, name) for p in parts], axis=1)
        ticks = np.array([p.ticks for p in parts], dtype=float)
        active = np.stack([p.client_active_frac * t for p, t in zip(parts, ticks, strict=True)])  # [P, B, K]
        total = active.sum(axis=0)
        safe = np.maximum(total, 1e-12)
        for name in _CLIENT_MEANS:
            acc = sum(getattr(p, name) * a for p, a in zip(parts, active, strict=True))
            out[name] = np.where(total > 0, acc / safe, 0.0)
        out["client_active_frac"] = total / ticks.sum()
        return Sensing(**out)


def client_utility(s: Sensing) -> np.ndarray:
    """``[B, K]`` each client's experience utility (nats) over span ``s``:

    ``ln(clip(throughput / need, 0.01, cap)) - ln(1 + latency / bound)``

    where an inelastic flow's need is what it offered (cap 1: nothing is gained past its need)
    and an elastic flow's is its good-service rate (cap: its own rate limit over that, so more
    throughput keeps paying until the flow is served in full); the latency term is 0 for
    elastic flows (no bound). 0 for a served light client with a short queue, negative as
    service falls short or queues grow; values are meaningful for clients with traffic only."""
    need = np.where(s.client_elastic, s.client_need_mbps, s.client_demand_mbps)
    ratio = s.client_throughput_mbps / np.maximum(need, 1e-9)
    thr = np.log(np.clip(ratio, UTILITY_FLOOR, np.maximum(_utility_cap(s), UTILITY_FLOOR)))
    lat = np.log1p(s.client_latency_ms / s.client_latency_bound_ms)
    return thr - np.where(s.client_elastic, 0.0, lat)


def _utility_cap(s: Sensing) -> np.ndarray:
    """``[B, K]`` the most throughput over need that counts: 1 for inelastic flows, an elastic
    flow's rate limit over its good-service rate."""
    return np.where(s.client_elastic, s.client_demand_mbps / np.maximum(s.client_need_mbps, 1e-9), 1.0)


# the per-tick readings of a span ([B, T, ...]), and its per-client means over active ticks
_TICK_FIELDS = (
    "cca_busy_frac",
    "airtime_frac",
    "retry_rate",
    "throughput_mbps",
    "latency_ms",
    "nonwifi_duty_frac",
    "nonwifi_confidence",
    "nonwifi_kind",
    "radar_detected",
    "demand_mbps",
    "transmitting",
    "radar_burst",
)
_CLIENT_MEANS = (
    "client_throughput_mbps",
    "client_demand_mbps",
    "client_latency_ms",
    "client_sle_throughput",
    "client_sle_latency",
    "client_sle",
)


def _masked_mean(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    count = mask.sum(axis=1)
    return np.where(count > 0, np.where(mask, x, 0.0).sum(axis=1) / np.maximum(count, 1), 0.0)


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1)
    return np.where(total > 0, (x * w).sum(axis=1) / np.maximum(total, 1e-12), 0.0)


def _masked_percentile(x: np.ndarray, mask: np.ndarray, q: float) -> np.ndarray:
    """``[B]`` the ``q``-th percentile (linear, as ``np.percentile``) of each row's masked values; 0
    where a row has none."""
    count = mask.sum(axis=1)
    big = np.finfo(float).max  # masked-out values sort last (finite: no inf - inf below)
    ranked = np.sort(np.where(mask, x, big), axis=1)
    pos = np.clip(q / 100.0 * (count - 1), 0, None)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    rows = np.arange(len(count))
    frac = pos - lo
    lo_v = ranked[rows, np.minimum(lo, x.shape[1] - 1)] if x.shape[1] else np.zeros(len(count))
    hi_v = ranked[rows, np.minimum(hi, x.shape[1] - 1)] if x.shape[1] else np.zeros(len(count))
    val = lo_v + np.where(frac > 0, hi_v - lo_v, 0.0) * frac
    return np.where(count > 0, val, 0.0)
