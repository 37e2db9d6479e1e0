"""What an agent that follows the action masks is charged by the shield: random choices within
``info["action_mask"]`` on ``SlowLoop`` and ``Joint``, every packaged nominal scenario, summed over
an episode (shield rejections and modifications, the changes deferred past the channel-change
budget, and rollbacks, which are the agent's own doing and not the shield's).

    python benchmarks/masked_cost.py [--version v2] [--seed 1]

``--version`` names the env version, so that the same script can be run against an older commit.
"""

from __future__ import annotations

import argparse
from collections import Counter

import gymnasium as gym
import numpy as np

import rrm_gym  # noqa: F401  (registers the envs)

SCENARIOS = ("office", "enterprise", "dfs_site", "hall", "residential", "legacy_24")
RUNS = {"SlowLoop": {"episode_steps": 6, "slow_period_s": 600}, "Joint": {"episode_steps": 20}}


def masked_choice(nvec: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random choice per AP among those the mask allows."""
    return np.array([rng.choice(np.flatnonzero(m)) for m in np.split(mask, np.cumsum(nvec)[:-1])])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--version", default="v2")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    print(f"{'env':<14}{'scenario':<13}{'rejected':>9}{'modified':>9}{'deferred':>9}{'rollbacks':>10}{'cost':>7}")
    for name, kwargs in RUNS.items():
        for scenario in SCENARIOS:
            env = gym.make(f"rrm_gym/{name}-{args.version}", scenario=scenario, **kwargs)
            rng = np.random.default_rng(0)
            _, info = env.reset(seed=args.seed)
            terms, shield, cost = Counter(), Counter(), 0.0
            for _ in range(kwargs["episode_steps"]):
                _, _, _, _, info = env.step(masked_choice(env.action_space.nvec, info["action_mask"], rng))
                terms.update({k: float(v) for k, v in info["cost_terms"].items()})
                shield.update({k: int(v) for k, v in info["shield"].items()})
                cost += float(info["cost"])
            print(
                f"{name + '-' + args.version:<14}{scenario:<13}{shield['REJECTED']:>9}{shield['MODIFIED']:>9}"
                f"{shield.get('DEFERRED', 0):>9}{terms['rollbacks']:>10.0f}{cost:>7.1f}"
            )
            env.close()
    print("counts over one episode; cost: the env's cost, rollbacks included")


if __name__ == "__main__":
    main()
