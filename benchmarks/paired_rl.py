"""Shipped RL policies against DCA channels at maximum power, seed by seed.

For each pretrained model: reward (the experience utility) minus that of ``dca`` channels at ``max`` power on the same
held-out seed (one-hour episodes on the model's scenario), the mean and 95 % confidence half-width
of that paired difference, and the wins, ties and losses. For a residual model (one that corrects a
heuristic), also how often it took the heuristic's choice, kept the AP as it was or named another,
and how many of the heuristic's proposed changes it vetoed (kept the AP where the heuristic moved it).

    python benchmarks/paired_rl.py [--seeds 100 101 ...] [--models NAME_OR_PATH ...]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

import agents.evaluate as ev
from agents.training import TrainedPolicy, load_policy, pretrained_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 120)))
    parser.add_argument("--models", nargs="+", help="model names or paths (default: the shipped ones)")
    args = parser.parse_args()
    if len(set(args.seeds)) != len(args.seeds):  # one episode counted twice would narrow the interval
        parser.error("--seeds: a seed given more than once (each seed is one paired sample)")
    best: dict[str, list[float]] = {}  # scenario -> dca/max reward per seed, shared by its models
    for name in args.models or pretrained_models():
        policy = load_policy(name)
        scenario = policy.meta.get("scenario", "office")
        if scenario not in best:
            best[scenario] = [ev.run_baseline(scenario, "dca", "max", s)["reward"] for s in args.seeds]
        answers = count_answers(policy) if policy.residual is not None else None
        pairs = zip(args.seeds, best[scenario], strict=True)
        diff = [ev.run_model(scenario, policy, s)["reward"] - b for s, b in pairs]
        mean, half = ev.ci95(diff)
        wins, losses = sum(d > 1e-9 for d in diff), sum(d < -1e-9 for d in diff)
        print(
            f"{name:32s} reward - dca/max over {len(diff)} seeds: {mean:+.4f} ± {half:.4f}  "
            f"(wins {wins}, ties {len(diff) - wins - losses}, losses {losses})"
        )
        if answers is not None:
            print(
                f"{'':32s} answers: {policy.residual.name}'s choice {answers['heuristic']}, keep {answers['keep']}, "
                f"another {answers['other']}; vetoed {answers['vetoed']} of {answers['proposed']} proposed changes"
            )


def count_answers(policy: TrainedPolicy) -> Counter:
    """Count a residual model's answers from here on (its network's outputs, wrapped in place)."""
    from agents.residual import KEY

    counts: Counter = Counter()
    predict = policy._predict

    def counted(obs: dict, info: dict) -> np.ndarray:
        answer = predict(obs, info)
        moves = obs[KEY][:, 0] > 0  # the heuristic would change the AP
        counts.update(heuristic=int((answer == 0).sum()), keep=int((answer == 1).sum()))
        counts.update(other=int((answer >= 2).sum()), proposed=int(moves.sum()))
        counts.update(vetoed=int((moves & (answer == 1)).sum()))
        return answer

    policy._predict = counted
    return counts


if __name__ == "__main__":
    main()
