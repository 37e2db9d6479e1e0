"""Client applications and the load they offer: which application each client runs, when it is
active (the diurnal profile), and what it asks of the network in each slice of an epoch.

An epoch (``loops.epoch_s``, 60 s by default) is cut into :data:`SLICES` slices. Web and bulk
clients are on or off per slice (reading pages between bursts, transfers of seconds to a
minute), so the minute's peaks meet the medium, not its mean; video and calls hold their rate
through the epoch.

Shapes: ``B`` networks, ``K`` clients, ``L`` slices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rrm_gym.config.schema import Clients

SLICES = 6  # slices per epoch: 10 s at the default 60 s epoch

# Hourly probability that a client is active (hour 0..23).
DIURNAL_PROFILES = {
    "office": (0.05,) * 7 + (0.3, 0.6, 0.85, 0.85, 0.85, 0.6, 0.85, 0.85, 0.85, 0.85, 0.5, 0.25) + (0.08,) * 5,
    "residential": (0.15,) * 7 + (0.4, 0.4) + (0.3,) * 8 + (0.5, 0.85, 0.85, 0.85, 0.85, 0.85, 0.4),
    "flat": (0.8,) * 24,
}


@dataclass(frozen=True)
class App:
    """What one kind of application offers and needs.

    ``rate_mbps`` (log-normal, ``sigma``) is the rate it offers while on (for an elastic flow: what
    it would take from an idle network, the server's or WAN's limit); ``uplink_share`` of it goes
    from the client to the AP; ``duty`` is the share of slices it is on; ``need_mbps`` (elastic
    only) is the rate its user counts as good service; ``latency_ms`` its bound on the Wi-Fi hop
    (``inf``: none)."""

    name: str
    elastic: bool
    rate_mbps: float
    sigma: float
    uplink_share: float
    duty: float
    latency_ms: float
    need_mbps: float = 0.0


# Sources: bulk: a TCP transfer (file sync, updates, downloads) limited by the server or WAN at
# tens of Mb/s, with TCP acks upstream, on in 15 % of the slices (transfers of seconds to a
# minute); good service at 10 Mb/s. Web: pages of 2-4 MB (HTTP Archive page weights) loaded in
# bursts of a few seconds, on a quarter of the time. Video: adaptive HD streaming at 3-8 Mb/s
# (streaming services' HD guidance), latency-tolerant thanks to its buffer. Call: a two-way 720p
# video call, about 1.5 Mb/s each way (conferencing vendors' bandwidth guides), within 50 ms on
# the Wi-Fi hop (ITU-T G.114 budgets 150 ms mouth to ear).
APPS: dict[str, App] = {
    "bulk": App("bulk", True, 50.0, 0.6, 0.05, 0.15, float("inf"), need_mbps=10.0),
    "web": App("web", False, 8.0, 0.8, 0.1, 0.25, 100.0),
    "video": App("video", False, 5.0, 0.4, 0.02, 1.0, 200.0),
    "call": App("call", False, 3.0, 0.3, 0.5, 1.0, 50.0),
    # a v0 scenario's ``demand`` block: constant rate, downlink only, 100 ms bound
    "constant": App("constant", False, 5.0, 1.0, 0.0, 1.0, 100.0),
}
APP_NAMES = tuple(APPS)
APP_ELASTIC = np.array([a.elastic for a in APPS.values()])
APP_UPLINK = np.array([a.uplink_share for a in APPS.values()])
APP_LATENCY_MS = np.array([a.latency_ms for a in APPS.values()])
APP_NEED_MBPS = np.array([a.need_mbps for a in APPS.values()])
SLE_SERVED_SHARE = 0.95  # an inelastic flow meets its need when this share of its load is delivered


class Traffic:
    """The applications of the ``[B, K]`` clients and the load they offer.

    ``app`` ``[B, K]`` index into :data:`APP_NAMES`; ``rate_mbps`` ``[B, K]`` the rate each offers
    while on. :meth:`new_epoch` draws who is active and which slices bursty clients are on in."""

    def __init__(self, clients: Clients, rng: np.random.Generator, shape: tuple[int, int]) -> None:
        b, k = shape
        traffic = clients.traffic
        if traffic is None:  # a v0 ``demand`` block: constant-rate clients
            d = clients.demand
            self.app = np.full(shape, APP_NAMES.index("constant"), dtype=np.int8)
            mu = np.log(d.mean_mbps) - 0.5 * d.sigma**2  # log-normal with that mean
            self.rate_mbps = rng.lognormal(mu, d.sigma, shape)
            profile = d.hourly or DIURNAL_PROFILES[d.profile]
        else:
            names = list(traffic.mix)
            share = np.array([traffic.mix[n] for n in names], dtype=float)
            pick = rng.choice(len(names), size=shape, p=share / share.sum())
            self.app = np.array([APP_NAMES.index(n) for n in names], dtype=np.int8)[pick]
            mean = np.array([APPS[n].rate_mbps for n in APP_NAMES]) * traffic.rate_scale
            sigma = np.array([APPS[n].sigma for n in APP_NAMES])
            m, s = mean[self.app], sigma[self.app]
            self.rate_mbps = rng.lognormal(np.log(m) - 0.5 * s**2, s, shape)
            if traffic.activity is not None:
                profile = (traffic.activity,) * 24
            else:
                profile = traffic.hourly or DIURNAL_PROFILES[traffic.profile]
        self._profile_wrap = [float(v) for v in profile] + [float(profile[0])]
        self.elastic = APP_ELASTIC[self.app]  # [B, K]
        self.uplink_share = APP_UPLINK[self.app]
        self.latency_bound_ms = APP_LATENCY_MS[self.app]
        self.need_mbps = np.where(self.elastic, APP_NEED_MBPS[self.app], 0.0)
        duty = np.array([a.duty for a in APPS.values()])[self.app]
        self._bursty = duty < 1.0  # [B, K]
        self._duty = duty
        self.any_bursty = bool(self._bursty.any())
        self.active = np.zeros(shape, dtype=bool)  # [B, K] this epoch
        self.on = np.zeros((b, 1, k), dtype=bool)  # [B, L or 1, K] on in each slice (1: all alike)

    def activity(self, hour: float) -> float:
        """The diurnal profile at ``hour`` in [0, 24), linear between whole hours."""
        p = self._profile_wrap
        j = int(hour)
        return (p[j + 1] - p[j]) * (hour - j) + p[j]

    def new_epoch(self, hour: float, rng: np.random.Generator) -> None:
        """Draw who is active this epoch and, for web and bulk clients, which slices they are on in."""
        b, k = self.app.shape
        self.active = rng.random((b, k)) < self.activity(hour)
        if self.any_bursty:
            on = rng.random((b, SLICES, k)) < self._duty[:, None, :]
            self.on = self.active[:, None, :] & (on | ~self._bursty[:, None, :])
        else:
            self.on = self.active[:, None, :]

    def offered_mbps(self) -> np.ndarray:
        """``[B, L or 1, K]`` rate offered in each slice (0 when off)."""
        return np.where(self.on, self.rate_mbps[:, None, :], 0.0)
