"""Headroom table: how far apart policies are on each scenario, paired by seed.

Reads the ``benchmark_per_seed.csv`` that ``rrm-gym benchmark`` wrote for each scenario and
prints, per scenario, the best heuristic (highest mean reward) and three paired differences in
reward with their 95 % confidence intervals: best heuristic minus ``static/max``, best
heuristic minus ``random/max``, and the oracle minus the best heuristic (``*``: the CI excludes
zero). Produce the inputs with, for each scenario::

    rrm-gym benchmark --scenario NAME --policies static/max random/max dca/max dca/tpc oracle \\
        --episodes 10 --out runs/headroom/NAME

then::

    python benchmarks/headroom.py runs/headroom
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from pathlib import Path

from agents.evaluate import ci95
from rrm_gym.config import load_scenario


def _cell(diffs: list[float]) -> str:
    mean, half = ci95(diffs)
    mark = " *" if math.isfinite(half) and abs(mean) > half else ""
    return f"{mean:+.3f}" + (f" ± {half:.3f}" if math.isfinite(half) else " (one seed: no interval)") + mark


def summarise(folder: Path) -> list[str]:
    rewards: dict[str, dict[int, float]] = defaultdict(dict)
    with (folder / "benchmark_per_seed.csv").open() as fh:
        for row in csv.DictReader(fh):
            rewards[f"{row['channel_policy']}/{row['power_policy']}"][int(row["seed"])] = float(row["reward"])
    heuristics = [k for k in rewards if k != "oracle/oracle"]
    best = max(heuristics, key=lambda k: sum(rewards[k].values()) / len(rewards[k]))
    seeds = sorted(rewards[best])

    def diff(a: str, b: str) -> list[float]:
        return [rewards[a][s] - rewards[b][s] for s in seeds if s in rewards[a] and s in rewards[b]]

    name = folder.name
    oracle = _cell(diff("oracle/oracle", best)) if "oracle/oracle" in rewards else ""
    static = sum(rewards["static/max"].values()) / len(rewards["static/max"])
    return [
        name,
        load_scenario(name).tier,
        str(len(seeds)),
        f"{static:.3f}",
        best,
        _cell(diff(best, "static/max")),
        _cell(diff(best, "random/max")),
        oracle,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder holding one benchmark output folder per scenario")
    args = parser.parse_args()
    head = ["scenario", "tier", "seeds", "static/max reward", "best heuristic", "best - static", "best - random"]
    print("| " + " | ".join([*head, "oracle - best"]) + " |")
    print("|" + "---|" * (len(head) + 1))
    folders = sorted(p.parent for p in args.root.glob("*/benchmark_per_seed.csv"))
    rows = [summarise(f) for f in folders]
    for row in sorted(rows, key=lambda r: (r[1] != "peak", r[0])):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
