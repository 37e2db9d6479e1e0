"""What the compiled kernels (``rrm_gym.sim.kernels``) buy: one simulated hour with them and with
their numpy references, in the same process, alternating.

    python benchmarks/ab_kernels.py [--scenarios office enterprise] [--batch 1 64] [--repeats 3]

For each scenario and batch size: the wall time of a simulated hour in 60 calls of ``run(60)``
(the fast loop's pattern) after a warm-up minute, kernels and references taking turns over
``--repeats`` replays of the same hour; the fastest of each, and their ratio. The kernels stay
only while they pay at least 10 % here (STYLE.md).
"""

from __future__ import annotations

import argparse
import copy
import functools
import time

from reference import fastest_alternating

from rrm_gym.sim import WirelessSimulation, simulation


def hour_s(sim: WirelessSimulation, kernels: bool) -> float:
    simulation.USE_KERNELS = kernels
    replay = copy.deepcopy(sim)
    t = time.perf_counter()
    for _ in range(60):
        replay.run(60)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["office", "enterprise"])
    parser.add_argument("--batch", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'scenario':<12}{'B':>4} | {'numpy ms/h':>11}{'kernels ms/h':>13} | speed-up")
    for name in args.scenarios:
        for b in args.batch:
            sim = WirelessSimulation(name, seed=0, num_networks=b)
            sim.run(60)  # warm-up (and the kernels' first compile, if not cached)
            timers = {kernels: functools.partial(hour_s, sim, kernels) for kernels in (False, True)}
            best = fastest_alternating(timers, args.repeats)
            ratio = best[False] / best[True]
            print(f"{name:<12}{b:>4} | {best[False] * 1e3:>11.0f}{best[True] * 1e3:>13.0f} | {ratio:.2f}x")
    simulation.USE_KERNELS = True


if __name__ == "__main__":
    main()
