"""The integrated event-loop demo behind ``rrm-gym demo``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rrm_gym.config import Scenario
from rrm_gym.safety.audit import AuditLog
from rrm_gym.safety.events import ChangeRequest, Source
from rrm_gym.safety.loop import EventLoop
from rrm_gym.sim import WirelessSimulation


@dataclass
class DemoReport:
    scenario: str
    periods: int
    period_s: int
    counters: dict[str, Any]
    kpis: dict[str, float]
    injected: list[str] = field(default_factory=list)


def run_demo(
    scenario: Scenario | str = "dfs_site",
    periods: int = 100,
    seed: int = 0,
    audit: AuditLog | None = None,
    progress: Any = None,
) -> DemoReport:
    """Run ``periods`` fast-loop periods with detection on, a random-power fast loop, and
    injected radar, interference and saturation events, a harmful manual change (which the
    rollback monitor should undo) and a manual rollback by token."""
    sim = WirelessSimulation(scenario, seed=seed)
    name = sim.scenario.name
    loop = EventLoop(sim, audit=audit)
    rng = np.random.default_rng(seed)
    period = sim.scenario.loops.fast_period_s
    n = sim.num_aps
    injected: list[str] = []
    kpi_sum: dict[str, float] = {}
    agent_tokens: list[str] = []
    for step in range(periods):
        # fast loop: a random power proposal for two APs (the shield clips, cooldown defers)
        for ap in rng.choice(n, size=min(2, n), replace=False):
            req = ChangeRequest(int(ap), power_dbm=float(rng.choice([5.0, 11.0, 17.0, 23.0, 30.0])), loop="fast")
            if loop.submit(req).applied and loop.last_token:
                agent_tokens.append(loop.last_token)
        if step == 10:
            on_dfs = np.flatnonzero(sim.domain.slot_dfs[sim.slot[0]] & sim.tx_enabled[0])
            ap = int(on_dfs[0]) if len(on_dfs) else 0
            injected.append(f"step 10: radar injected at AP {ap} on channel {int(sim.channel[0, ap])}")
            loop.inject_dfs_event(ap)
        if step == 20:
            loop.inject_interference_event(1 % n, kind="video_bridge", duty_cycle=0.9, confidence=0.95)
            injected.append("step 20: non-Wi-Fi interference at AP 1")
        if step == 30:
            loop.inject_spectrum_saturation_event(2 % n, cca_busy_pct=96.0)
            injected.append("step 30: spectrum saturation (96 % CCA busy) at AP 2")
        if step == 40:
            ap = 3 % n
            loop.submit(
                ChangeRequest(
                    ap,
                    power_dbm=float(sim.ap_min_power_dbm[ap]),
                    source=Source.MANUAL,
                    loop="manual",
                    reason="operator test: minimum power",
                )
            )
            injected.append(f"step 40: manual change, AP {ap} to minimum power")
        if step == 60 and agent_tokens:
            token = agent_tokens[0]
            loop.rollback(token)
            injected.append(f"step 60: manual rollback of {token}")
        s = loop.advance(period)
        for key, value in s.kpis().items():
            kpi_sum[key] = kpi_sum.get(key, 0.0) + float(value[0])
        loop.take_results()
        if progress is not None:
            progress()
    kpis = {k: v / periods for k, v in kpi_sum.items()}
    return DemoReport(name, periods, period, loop.counters(), kpis, injected)
