"""PPO-Lagrangian (``agents.ppo_lagrangian``): PPO with a cost critic and a multiplier λ that
rises while the mean episode cost exceeds its limit, on the batched FastLoop env.

    python examples/ppo_lagrangian.py [--networks 8] [--timesteps 20000] [--cost-limit 2] [--smoke]

Each rollout prints the mean episode reward, the mean episode cost and λ; the same figures go
to TensorBoard when it is trained through ``rrm-gym train`` (``configs/training/*.yaml``).
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import rrm_gym  # noqa: F401  (registers the envs)
from agents.ppo_lagrangian import PPOLagConfig, PPOLagrangian, TrainLog


def main(argv: list[str] | None = None) -> list[TrainLog]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--networks", type=int, default=8)
    p.add_argument("--timesteps", type=int, default=20_000)
    p.add_argument("--cost-limit", type=float, default=2.0)
    p.add_argument("--smoke", action="store_true", help="a few hundred steps, to check that it runs")
    args = p.parse_args(argv)
    networks, timesteps, n_steps = (4, 256, 32) if args.smoke else (args.networks, args.timesteps, 240)
    venv = gym.make_vec(
        "rrm_gym/FastLoop-v2",
        num_envs=networks,
        vectorization_mode="vector_entry_point",
        scenario="office",
        episode_steps=30,
        autoreset_mode="SameStep",
    )
    config = PPOLagConfig.from_dict({"n_steps": n_steps, "batch_size": 64, "cost_limit": args.cost_limit})
    model = PPOLagrangian(venv, config, seed=0)
    logs: list[TrainLog] = []

    def report(m: PPOLagrangian, log: TrainLog) -> None:
        logs.append(log)
        reward, cost = (float("nan") if v is None else v for v in (log.mean_episode_reward, log.mean_episode_cost))
        print(f"{log.timesteps:>7} steps  episode reward {reward:8.3f}  cost {cost:6.2f}  lambda {log.lam:.3f}")

    model.learn(timesteps, callback=report)
    return logs


if __name__ == "__main__":
    main()
