"""Realism table: what channel plans and power do to a network, for a Wi-Fi engineer to check.

    python benchmarks/realism.py [--scenarios office enterprise hall ...] [--networks 4] [--hours 1]

For each scenario (nominal and peak tier) and each plan: every 5 GHz radio on one channel
(36 at 40 MHz), the scenario's own plan, and a 12-channel plan (the twelve FCC 40 MHz channels,
DFS included, handed out by greedy colouring of the AP-to-AP path loss so that the strongest
neighbours differ); each at maximum power and 9 dB below it. 2.4 GHz radios keep their plan.
The simulator alone (no event loop, no agent), ``--networks`` draws over ``--hours``: delivered
throughput mean and p5 over active clients, p95 latency, the service-level share (client time
meeting its application's throughput need and latency bound), CCA busy and retry over active
APs, and the experience utility (the envs' default reward). Every figure of the realism table
in docs/benchmark.md comes from this script.
"""

from __future__ import annotations

import argparse

import numpy as np

from rrm_gym.config import load_scenario
from rrm_gym.sim import Sensing, WirelessSimulation

CHANNELS_40 = (36, 44, 52, 60, 100, 108, 116, 124, 132, 140, 149, 157)  # FCC 40 MHz groups, DFS included
REDUCED_DB = 9.0


def twelve_channel_plan(sim: WirelessSimulation) -> dict[int, int]:
    """5 GHz AP -> primary channel: the loudest-neighboured AP first, each taking the 40 MHz
    channel on which the strongest AP already placed is weakest (path loss with no shadowing)."""
    five = [i for i in range(sim.num_aps) if sim.ap_band_ghz[i] == 5.0]
    loss = sim._pl_tt[0, : sim.num_aps, : sim.num_aps]
    order = sorted(five, key=lambda i: np.sort(loss[i, five])[1])  # the nearest neighbour first
    plan: dict[int, int] = {}
    for ap in order:
        worst = {ch: min((loss[ap, o] for o, c in plan.items() if c == ch), default=np.inf) for ch in CHANNELS_40}
        plan[ap] = max(CHANNELS_40, key=lambda ch: worst[ch])
    return plan


def run(name: str, plan: str, reduced: bool, networks: int, hours: float, seed: int) -> dict[str, float]:
    sim = WirelessSimulation(name, seed=seed, num_networks=networks)
    five = [i for i in range(sim.num_aps) if sim.ap_band_ghz[i] == 5.0]
    if plan == "one channel":
        channels = dict.fromkeys(five, 36)
    elif plan == "12 channels":
        channels = twelve_channel_plan(sim)
    else:
        channels = {}
    for b in range(networks):
        for ap, ch in channels.items():
            width = min(40, int(sim.ap_max_width_mhz[ap]))
            sim.set_channel(ap, ch, width, network=b, csa=True)
    power = sim.ap_max_power_dbm - (REDUCED_DB if reduced else 0.0)
    sim.set_powers(np.broadcast_to(np.maximum(power, sim.ap_min_power_dbm), (networks, sim.num_aps)))
    s = Sensing.concat([sim.run(600) for _ in range(int(round(hours * 6)))])
    k = s.kpis()
    return {key: float(v.mean()) for key, v in k.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["office", "office_peak", "enterprise", "enterprise_peak", "hall", "hall_keynote"],
    )
    parser.add_argument("--networks", type=int, default=4)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        "| scenario | tier | plan | power | mean Mb/s | p5 Mb/s | p95 latency ms | SLE | CCA busy | retry | utility |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for name in args.scenarios:
        tier = load_scenario(name).tier
        for plan in ("one channel", "packaged", "12 channels"):
            for reduced in (False, True):
                k = run(name, plan, reduced, args.networks, args.hours, args.seed)
                power = f"max - {REDUCED_DB:g} dB" if reduced else "max"
                print(
                    f"| {name} | {tier} | {plan} | {power} | {k['throughput_mean_mbps']:.2f} | "
                    f"{k['throughput_p5_mbps']:.2f} | {k['latency_p95_ms']:.0f} | {k['sle']:.1%} | "
                    f"{k['cca_busy_mean']:.1%} | {k['retry_rate_mean']:.1%} | {k['experience_utility']:.3f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
