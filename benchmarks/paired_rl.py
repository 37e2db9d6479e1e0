"""Shipped RL policies against the best heuristic, seed by seed.

For each pretrained model: PF utility minus that of ``dca`` channels at ``max`` power on the same
held-out seed (one-hour episodes on the model's scenario), the mean and 95 % confidence half-width
of that paired difference, and the wins, ties and losses.

    python benchmarks/paired_rl.py [--seeds 100 101 ...] [--models NAME_OR_PATH ...]
"""

from __future__ import annotations

import argparse

import agents.evaluate as ev
from agents.training import load_policy, pretrained_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 120)))
    parser.add_argument("--models", nargs="+", help="model names or paths (default: the shipped ones)")
    args = parser.parse_args()
    best: dict[str, list[float]] = {}  # scenario -> dca/max PF per seed, shared by its models
    for name in args.models or pretrained_models():
        policy = load_policy(name)
        scenario = policy.meta.get("scenario", "office")
        if scenario not in best:
            best[scenario] = [ev.run_baseline(scenario, "dca", "max", s)["pf_utility"] for s in args.seeds]
        pairs = zip(args.seeds, best[scenario], strict=True)
        diff = [ev.run_model(scenario, policy, s)["pf_utility"] - b for s, b in pairs]
        mean, half = ev.ci95(diff)
        wins, losses = sum(d > 1e-9 for d in diff), sum(d < -1e-9 for d in diff)
        print(
            f"{name:32s} PF - dca/max over {len(diff)} seeds: {mean:+.4f} ± {half:.4f}  "
            f"(wins {wins}, ties {len(diff) - wins - losses}, losses {losses})"
        )


if __name__ == "__main__":
    main()
