"""Where the batching gain of the simulation stops: per-network work against the B = 1 overhead.

For each scenario, in one process:

* wall time of a simulated hour (60 calls of ``run(60)``, the fast loop's pattern) at B = 1, B/2
  and B networks, timed one after another in each repeat (a replay of the same hour; fastest of
  the repeats);
* the marginal cost of one more network, ``(T(B) - T(B/2)) / (B/2)``, and the gain it allows with
  no overhead at all, ``T(1) / marginal``: no amount of trimming per-call overhead lifts the gain
  above that, only less work per client does (ratios within each repeat, their median; the
  marginal cost shown is B = 1's fastest time over that bound);
* the float64 transcendental functions the physics evaluates (``exp``, ``log10``, ``log1p``,
  ``power``, ``sqrt``, ``log``), counted element by element over the same hour at B networks and
  priced at this machine's per-element cost of each, measured here on arrays of 32,000 values:
  a floor under the per-network work that holds whatever the code around them does, since each
  value they produce is one the sensing depends on;
* the per-tick sensing of that hour at B networks (MiB) and the time of joining its 60 segments
  into one span (``Sensing.concat``), which one ``run(3600)`` call pays for on top of the 60
  calls: writing that much memory is a floor under the one-call pattern;
* the minor page faults of one ``run(3600)`` call at B networks (after an earlier one's sensing
  was let go, as in a loop of such calls), priced at this machine's cost of a first touch of
  fresh memory per fault: the sensing a long call returns is new memory each time, and on a
  virtual machine that hands freed memory back to its host a first touch costs several times
  the writing itself.

    python benchmarks/sim_floor.py [--scenarios enterprise hall] [--batch 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from bench_sim import TARGET_BATCH_GAIN, hour_s

from rrm_gym.config import packaged_scenarios
from rrm_gym.sim import Sensing, WirelessSimulation

TRANSCENDENTAL = ("exp", "log10", "log1p", "power", "sqrt", "log")


@contextmanager
def counting(counts: Counter[str]) -> Iterator[None]:
    """Count the elements numpy's transcendental ufuncs return while the block runs (they are
    looked up as ``np.<name>`` at each call, so replacing the module attributes sees them all)."""
    saved = {name: getattr(np, name) for name in TRANSCENDENTAL}

    def wrap(name: str, f: Callable) -> Callable:
        def counted(*args: object, **kwargs: object) -> object:
            out = f(*args, **kwargs)
            counts[name] += np.size(out)
            return out

        return counted

    try:
        for name, f in saved.items():
            setattr(np, name, wrap(name, f))
        yield
    finally:
        for name, f in saved.items():
            setattr(np, name, f)


def ns_per_element(name: str, size: int = 32_000, repeats: int = 200) -> float:
    """This machine's cost of one float64 element of ufunc ``name`` (fastest of 5 timings)."""
    x = np.random.default_rng(0).uniform(0.01, 10.0, size)
    f = getattr(np, name)
    args = (10.0, -x) if name == "power" else (x,)
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeats):
            f(*args)
        best = min(best, (time.perf_counter() - t) / repeats / size * 1e9)
    return best


def page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def first_touch_us_per_fault(mib: int = 64, arrays: int = 4, repeats: int = 3) -> float:
    """This machine's wall microseconds per minor page fault when writing fresh memory (arrays
    kept, so each is new), less the time of the same writes to memory already touched (fastest
    of ``repeats``)."""
    best = np.inf
    for _ in range(repeats):
        kept = []
        faults, t = page_faults(), time.perf_counter()
        for _ in range(arrays):
            x = np.empty(mib * 2**20 // 8)
            x.fill(1.0)
            kept.append(x)
        fresh, faults = time.perf_counter() - t, page_faults() - faults
        t = time.perf_counter()
        for x in kept:
            x.fill(2.0)
        again = time.perf_counter() - t
        best = min(best, (fresh - again) / max(faults, 1) * 1e6)
        del kept
    return best


def one_call_faults(scenario: str, b: int) -> int:
    """Minor page faults of one ``run(3600)`` call at ``b`` networks, the second of two (each call's
    sensing let go before the next), from a warmed-up simulation."""
    sim = WirelessSimulation(scenario, seed=0, num_networks=b)
    sim.run(3600)
    first = copy.deepcopy(sim)
    first.run(3600)
    del first
    faults = page_faults()
    sim.run(3600)
    return page_faults() - faults


def sensing_join(parts: list[Sensing]) -> tuple[float, float]:
    """Wall milliseconds of joining ``parts`` into one span (fastest of 3) and the MiB of the
    joined span's per-tick arrays."""
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        joined = Sensing.concat(parts)
        best = min(best, time.perf_counter() - t)
    arrays = (getattr(joined, f.name) for f in dataclasses.fields(joined))
    ticked = sum(x.nbytes for x in arrays if isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[1] == joined.ticks)
    return best * 1e3, ticked / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=packaged_scenarios())
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.batch < 4 or args.batch % 2 or args.repeats < 1:
        parser.error("--batch must be an even number >= 4 and --repeats >= 1")
    b, half = args.batch, args.batch // 2
    cost = {name: ns_per_element(name) for name in TRANSCENDENTAL}
    touch = first_touch_us_per_fault()
    print("ns per float64 element: " + ", ".join(f"{k} {v:.1f}" for k, v in cost.items()))
    print(f"first touch of fresh memory: {touch:.2f} us per page fault beyond writing it\n")
    head = (
        f"{'scenario':<12} | {'B=1 ms/h':>9} {f'B={half} ms/h':>11} {f'B={b} ms/h':>11} {'gain':>6} | "
        f"{'marginal ms/net-h':>17} {'gain bound':>10} | {'transc. Melem/h':>15} {'floor ms/net-h':>14} "
        f"{'floor / 10x budget':>18} | {'sensing MiB/h':>13} {'join ms/h':>11} {'join / budget':>15} | "
        f"{'1-call faults':>13} {'fresh ms/h':>10} {'fresh / budget':>14}"
    )
    print(head)
    print("-" * len(head))
    for scenario in args.scenarios:
        runs = hour_s(scenario, [(1, 60), (half, 60), (b, 60)], args.repeats)
        one, mid, full = (min(t) * 1e3 for t in runs)
        # ratios within each repeat (the three timed one after another), their median over the repeats
        gain = statistics.median(b * x / z for x, z in zip(runs[0], runs[2], strict=True))
        bound = statistics.median(x * (b - half) / (z - y) for x, y, z in zip(*runs, strict=True))
        marginal = one / bound
        counts: Counter[str] = Counter()
        sim = WirelessSimulation(scenario, seed=0, num_networks=b)
        sim.run(3600)
        with counting(counts):
            parts = [sim.run(60) for _ in range(60)]
        floor = sum(counts[k] * cost[k] for k in TRANSCENDENTAL) / 1e6 / b  # ms per network-hour
        budget = one / TARGET_BATCH_GAIN  # per network-hour at B networks for a 10x gain
        join, mib = sensing_join(parts)
        del parts, sim
        faults = one_call_faults(scenario, b)
        fresh = faults * touch / 1e3  # ms per simulated hour at B networks
        print(
            f"{scenario:<12} | {one:>9.1f} {mid:>11.1f} {full:>11.1f} {gain:>5.1f}x | "
            f"{marginal:>17.2f} {bound:>9.1f}x | {sum(counts.values()) / 1e6:>15.2f} {floor:>14.2f} "
            f"{floor / budget:>17.0%} | {mib:>13.0f} {join:>11.1f} {join / b / budget:>15.0%} | "
            f"{faults:>13,} {fresh:>10.1f} {fresh / b / budget:>14.0%}"
        )
    print(
        f"\ngain: B={b} throughput per network-hour over B = 1; marginal: the cost of one more network; "
        "gain bound: B = 1 over marginal,\nthe gain with no per-call overhead at all; transc.: float64 "
        f"transcendental elements per simulated hour at B={b}; floor: their cost\nper network-hour at the "
        f"prices above; 10x budget: B = 1 ms/h / {TARGET_BATCH_GAIN:g}, the per-network-hour time a "
        f"{TARGET_BATCH_GAIN:g}x gain allows;\nsensing: the per-tick sensing of one simulated hour at B={b}, "
        "which one run(3600) call returns; join: Sensing.concat of the hour's 60\nsegments at B networks, which "
        "that call pays for on top of 60 run(60) calls (fastest of 3); join / budget: per network-hour, over the "
        "10x budget;\n1-call faults: minor page faults of one run(3600) call at B networks (the second of two); "
        "fresh: those faults at the first-touch\ncost above; fresh / budget: per network-hour, over the 10x budget."
    )


if __name__ == "__main__":
    main()
