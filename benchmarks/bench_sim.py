"""Simulation speed: one simulated hour of each packaged scenario at B = 1 and B = 64.

Prints wall time per simulated hour, simulated seconds per wall second, client-AP
link-seconds per wall second and the batching gain of B = 64, and times random
steps of gymnasium's CartPole-v1 in the same run so figures can be compared as
ratios on a noisy machine. Each hour is timed as one ``run(3600)`` call and as 60
calls of ``run(60)`` (the fast loop's pattern); the gain compares like with like.
Every repeat replays the same hour, B = 1 and B = 64 timed one after the other
within it; the gain is the median of the repeats' gains, each time the fastest
repeat.

    python benchmarks/bench_sim.py [--scenarios office enterprise] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

from reference import cartpole_steps_per_s

from rrm_gym.config import load_scenario, packaged_scenarios
from rrm_gym.sim import WirelessSimulation


def hour_s(scenario: str, setups: list[tuple[int, int]], repeats: int) -> list[list[float]]:
    """Wall-clock timings of one simulated hour (after a warm-up hour) for each ``(num_networks,
    chunk_s)`` setup, per repeat: ``times[setup][repeat]``.

    Every repeat replays the same hour, from copies of the warmed-up simulations, with the setups
    timed one after another (the first of them rotating from repeat to repeat), so a slow spell of
    this shared machine, which lasts seconds or more, mostly hits a repeat's setups alike: a ratio
    of two setups is taken within each repeat and its median over the repeats is robust to such
    spells; an absolute time is the fastest repeat, the least noisy estimate of the intrinsic cost.
    (Alternating finer, call by call, would charge each setup for the caches the other one left
    cold.)"""
    warm = []
    for b, _ in setups:
        sim = WirelessSimulation(scenario, seed=0, num_networks=b)
        sim.run(3600)
        warm.append(sim)
    times: list[list[float]] = [[] for _ in setups]
    for rep in range(repeats):
        k = rep % len(setups)
        for i in [*range(k, len(setups)), *range(k)]:
            sim, chunk_s = copy.deepcopy(warm[i]), setups[i][1]
            t = time.perf_counter()
            for _ in range(3600 // chunk_s):
                sim.run(chunk_s)
            times[i].append(time.perf_counter() - t)
            del sim
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=packaged_scenarios())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    cartpole = cartpole_steps_per_s()
    print(f"CartPole-v1 random steps: {cartpole:,.0f} steps/s (reference, same process)\n")
    head = (
        f"{'scenario':<12} {'APs':>4} {'clients':>7} | {'B=1 ms/h':>9} {'60x60s ms/h':>11} {'sim s/s':>9} "
        f"{'links*s/s':>11} {'x CartPole':>10} | {f'B={args.batch} ms/h':>11} {'per net-h':>9} {'gain':>6} "
        f"{'60x60s ms/h':>11} {'gain':>6}"
    )
    print(head)
    print("-" * len(head))
    for name in args.scenarios:
        sc = load_scenario(name)
        n, k = len(sc.aps), sc.clients.count
        fast = sc.loops.fast_period_s
        setups = [(1, 3600), (1, fast), (args.batch, 3600), (args.batch, fast)]
        runs = hour_s(name, setups, args.repeats)
        one, stepped, batch, batch_stepped = (min(t) for t in runs)
        sim_per_s = 3600.0 / one
        links_per_s = sim_per_s * n * k
        # the gain within each repeat (B = 1 and B = 64 timed one after the other), its median over them
        gain = statistics.median(args.batch * a / c for a, c in zip(runs[0], runs[2], strict=True))
        gain_stepped = statistics.median(args.batch * a / c for a, c in zip(runs[1], runs[3], strict=True))
        print(
            f"{name:<12} {n:>4} {k:>7} | {one * 1e3:>9.1f} {stepped * 1e3:>11.1f} {sim_per_s:>9,.0f} "
            f"{links_per_s:>11.2e} {sim_per_s / cartpole:>10.2f} | {batch * 1e3:>11.1f} "
            f"{batch / args.batch * 1e3:>9.2f} "
            f"{gain:>5.1f}x {batch_stepped * 1e3:>11.1f} {gain_stepped:>5.1f}x"
        )
    print(
        "\nms/h: wall milliseconds per simulated hour (fastest of the repeats); 60x60s: the same hour as 60 calls of "
        "run(60), the fast-loop pattern;\nsim s/s: simulated seconds per wall second; links*s/s: client-AP "
        "link-seconds per wall second (clients x APs); x CartPole: simulated seconds\nper wall second over "
        "CartPole-v1 steps per second; gain: B-network throughput per network-hour over B = 1, for one\n"
        "run(3600) call and for 60 run(60) calls (a long call also pays for concatenating every tick of B networks'\n"
        "sensing), the median over the repeats of the gain within each (B = 1 and B timed one after the other)."
    )


if __name__ == "__main__":
    main()
