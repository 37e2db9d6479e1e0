"""Single-agent PPO with Ray RLlib on FastLoop-v2: one policy sets every AP's power, with two
env-runner processes, on a local Ray cluster or on several machines.

    python examples/rllib_single_agent.py [--iterations 20] [--env-runners 2] [--address auto] [--smoke]

RLlib's default encoders take flat observations: its ``FlattenObservations`` connector turns
the env's ``Dict`` observation into one vector. Without ``--address`` the script starts a Ray
instance on this machine; with ``--address auto`` it joins the cluster started by ``ray start``
(docs/integrations.md).
"""

from __future__ import annotations

import argparse
from typing import Any


def make_env(config: dict[str, Any]) -> Any:
    """FastLoop-v2 as RLlib makes it in each env-runner process."""
    import gymnasium as gym

    import rrm_gym  # noqa: F401  (registers the ids in that process)

    return gym.make("rrm_gym/FastLoop-v2", **config)


def build_config(args: argparse.Namespace) -> Any:
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.connectors.env_to_module import FlattenObservations
    from ray.tune.registry import register_env

    register_env("rrm_gym_fast_loop", make_env)
    episode = 8 if args.smoke else 60
    batch = 2 * args.env_runners * episode
    return (
        PPOConfig()
        .environment("rrm_gym_fast_loop", env_config={"scenario": args.scenario, "episode_steps": episode})
        .env_runners(
            num_env_runners=args.env_runners,
            num_cpus_per_env_runner=0.5,
            env_to_module_connector=lambda env, spaces=None, device=None: FlattenObservations(),
        )
        .rl_module(model_config={"fcnet_hiddens": [64, 64]})
        .training(train_batch_size_per_learner=batch, minibatch_size=min(batch, 128), num_epochs=2, lr=3e-4)
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--env-runners", type=int, default=2)
    p.add_argument("--scenario", default="office")
    p.add_argument("--address", default=None, help="a running Ray cluster ('auto'); default: start one here")
    p.add_argument("--smoke", action="store_true", help="one short iteration, to check that it runs")
    args = p.parse_args(argv)
    import ray

    ray.init(address=args.address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    algo = build_config(args).build_algo()
    results = []
    try:
        for i in range(1 if args.smoke else args.iterations):
            result = algo.train()
            runners = result["env_runners"]
            print(f"iteration {i + 1}: {runners['num_env_steps_sampled_lifetime']} env steps, "
                  f"episode return {runners.get('episode_return_mean', float('nan')):.3f}")  # fmt: skip
            results.append(result)
    finally:
        algo.stop()
    return results


if __name__ == "__main__":
    main()
