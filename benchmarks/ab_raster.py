"""What the client loss raster (``rrm_gym.sim.geometry.LossRaster``) buys: a simulated hour from a
fresh simulation (clients placed and relinked as they move) with the raster and with path loss
worked out directly, in the same process, alternating.

    python benchmarks/ab_raster.py [--scenarios office enterprise residential] [--batch 1 16] [--repeats 3]

Fastest of ``--repeats`` per side; the raster is built once per floor plan and process, before
the timing. It stays only while it pays at least 10 % on some scenario (STYLE.md).
"""

from __future__ import annotations

import argparse
import functools
import time

from reference import fastest_alternating

from rrm_gym.sim import WirelessSimulation, simulation

_CACHED = simulation.LossRaster.cached


def hour_s(name: str, b: int, raster: bool) -> float:
    simulation.LossRaster.cached = _CACHED if raster else (lambda *args, **kwargs: None)
    try:
        t = time.perf_counter()
        sim = WirelessSimulation(name, seed=0, num_networks=b)
        for _ in range(60):
            sim.run(60)
        return time.perf_counter() - t
    finally:
        simulation.LossRaster.cached = _CACHED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["office", "enterprise", "residential"])
    parser.add_argument("--batch", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'scenario':<12}{'B':>4} | {'direct ms/h':>12}{'raster ms/h':>12} | raster time / direct")
    for name in args.scenarios:
        for b in args.batch:
            hour_s(name, b, True)  # warm-up: builds the raster, compiles the kernels
            timers = {raster: functools.partial(hour_s, name, b, raster) for raster in (False, True)}
            best = fastest_alternating(timers, args.repeats)
            ratio = best[True] / best[False]
            print(f"{name:<12}{b:>4} | {best[False] * 1e3:>12.0f}{best[True] * 1e3:>12.0f} | {ratio:.2f}")


if __name__ == "__main__":
    main()
