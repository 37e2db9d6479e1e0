"""Multi-agent PPO with Ray RLlib: every AP an agent, one policy shared by all of them, the
shield's action mask applied by RLlib's action-masking module, on a local Ray cluster or on
several machines.

    python examples/rllib_multi_agent.py [--iterations 20] [--env-runners 2] [--address auto] [--smoke]

Each AP agent sees its own row of the network's observation, flattened
(``observation="flat"``), with the choices the shield would accept inside it
(``action_mask_in_obs=True``), and is rewarded for its own clients' experience
(``agent_reward="own"``; ``"team"`` gives every agent the network's reward). Without
``--address`` the script starts a Ray instance on this machine; on a cluster, start Ray on the
head machine (``ray start --head``) and on the others (``ray start --address=HEAD:6379``),
then run this script on the head with ``--address auto`` (docs/integrations.md).
"""

from __future__ import annotations

import argparse
from typing import Any


def make_env(config: dict[str, Any]) -> Any:
    """The PettingZoo env as RLlib takes it (called in each env-runner process)."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    from rrm_gym.envs import RRMParallelEnv

    return ParallelPettingZooEnv(
        RRMParallelEnv(
            config.get("env_id", "rrm_gym/FastLoop-v2"),
            scenario=config.get("scenario", "office"),
            episode_steps=config.get("episode_steps", 60),
            observation="flat",
            action_mask_in_obs=True,
            agent_reward=config.get("agent_reward", "own"),
        )
    )


def build_config(args: argparse.Namespace) -> Any:
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule
    from ray.tune.registry import register_env

    register_env("rrm_gym_ap_agents", make_env)
    episode = 8 if args.smoke else 60
    batch = 2 * args.env_runners * episode * 10  # two episodes of ten agents per env runner, at least
    return (
        PPOConfig()
        .environment(
            "rrm_gym_ap_agents",
            env_config={"scenario": args.scenario, "episode_steps": episode, "agent_reward": args.agent_reward},
        )
        .env_runners(num_env_runners=args.env_runners, num_envs_per_env_runner=1, num_cpus_per_env_runner=0.5)
        .multi_agent(policies={"shared_ap"}, policy_mapping_fn=lambda agent_id, episode, **kwargs: "shared_ap")
        .rl_module(
            rl_module_spec=MultiRLModuleSpec(
                rl_module_specs={
                    "shared_ap": RLModuleSpec(
                        module_class=ActionMaskingTorchRLModule, model_config={"head_fcnet_hiddens": [64, 64]}
                    )
                }
            )
        )
        .training(train_batch_size_per_learner=batch, minibatch_size=min(batch, 256), num_epochs=2, lr=3e-4)
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--env-runners", type=int, default=2)
    p.add_argument("--scenario", default="office")
    p.add_argument("--agent-reward", choices=("own", "team"), default="own")
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
            reward = runners.get("agent_episode_returns_mean", {}).get("ap_0", float("nan"))
            modules = sorted(k for k in result["learners"] if not k.startswith("__"))
            print(f"iteration {i + 1}: {runners['num_env_steps_sampled_lifetime']} env steps, "
                  f"AP 0's episode return {reward:.3f}, policies trained {modules}")  # fmt: skip
            results.append(result)
    finally:
        algo.stop()
    return results


if __name__ == "__main__":
    main()
