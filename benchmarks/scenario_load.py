"""What load each scenario represents: offered load, the airtime it needs, and how the shipped
plan copes, over one simulated hour of ``--networks`` draws (no event loop, no agent).

    python benchmarks/scenario_load.py [SCENARIO ...] [--networks 4] [--seed 0]

Columns: ``offered`` the mean load the clients offer per AP (Mb/s, downlink and uplink, over
the hour); ``need`` the share of an AP's airtime that load needs at each client's clean MCS
(a medium of its own, no retries; mean over APs, and the busiest AP): above 100 % no plan
can carry it; ``SLE`` the share of client time meeting its application's need on the shipped
plan; ``p95 ms`` the 95th-percentile latency; ``CCA`` busy. Every figure in docs/scenarios.md
comes from this script.
"""

from __future__ import annotations

import argparse

import numpy as np

from rrm_gym.config import load_scenario, packaged_scenarios
from rrm_gym.sim import Sensing, WirelessSimulation


def load_of(name: str, networks: int, seed: int) -> dict[str, float]:
    sim = WirelessSimulation(name, seed=seed, num_networks=networks)
    n = sim.num_aps
    need = np.zeros((networks, n))
    parts = []
    for _ in range(60):
        s = sim.run(60)
        parts.append(s)
        offered = s.client_demand_mbps * s.client_active_frac  # [B, K] mean over the minute
        rate = sim.link_rate_mbps()
        ap = s.client_ap
        for b in range(networks):
            ok = (ap[b] >= 0) & (rate[b] > 0)
            need[b] += np.bincount(ap[b][ok], offered[b][ok] / rate[b][ok], minlength=n) / 60
    hour = Sensing.concat(parts)
    k = hour.kpis()
    return {
        "offered": float(hour.demand_mbps.mean()),
        "need_mean": float(need.mean()),
        "need_max": float(need.max(axis=1).mean()),
        "sle": float(k["sle"].mean()),
        "p95": float(k["latency_p95_ms"].mean()),
        "cca": float(k["cca_busy_mean"].mean()),
        "tier": load_scenario(name).tier,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="default: every packaged scenario")
    parser.add_argument("--networks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = args.scenarios or packaged_scenarios()
    head = f"{'scenario':<22}{'tier':<9}{'offered Mb/s/AP':>16}{'need mean':>11}{'need max':>10}"
    print(f"{head}{'SLE':>7}{'p95 ms':>8}{'CCA':>6}")
    for name in names:
        r = load_of(name, args.networks, args.seed)
        print(
            f"{name:<22}{r['tier']:<9}{r['offered']:>16.1f}{r['need_mean']:>11.0%}{r['need_max']:>10.0%}"
            f"{r['sle']:>7.0%}{r['p95']:>8.0f}{r['cca']:>6.0%}"
        )


if __name__ == "__main__":
    main()
