"""PPO (stable-baselines3) on the batched FastLoop env: B office networks stepped in one call.

    python examples/sb3_ppo_batched.py [--networks 8] [--timesteps 20000] [--smoke]

The agent sets every AP's transmit power each simulated minute. ``BatchedVecEnv`` presents
the natively batched Gymnasium vector env as an SB3 ``VecEnv``; the cost (shield
interventions, rollbacks) is logged beside the reward by ``CostLogger``.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO

import rrm_gym  # noqa: F401  (registers the envs)
from agents.callbacks import CostLogger
from agents.vec_env import BatchedVecEnv


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--networks", type=int, default=8)
    p.add_argument("--timesteps", type=int, default=20_000)
    p.add_argument("--smoke", action="store_true", help="a few hundred steps, to check that it runs")
    args = p.parse_args(argv)
    networks, timesteps, n_steps = (4, 256, 32) if args.smoke else (args.networks, args.timesteps, 256)
    venv = gym.make_vec(
        "rrm_gym/FastLoop-v2",
        num_envs=networks,
        vectorization_mode="vector_entry_point",
        scenario="office",
        episode_steps=60,
        autoreset_mode="SameStep",
    )
    env = BatchedVecEnv(venv)
    model = PPO("MultiInputPolicy", env, n_steps=n_steps, batch_size=64, seed=0, verbose=0)
    logger = CostLogger()
    model.learn(timesteps, callback=logger)
    obs = env.reset()
    rewards = []
    for _ in range(10):
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, _, _ = env.step(action)
        rewards.append(reward.mean())
    print(f"trained {model.num_timesteps} steps; mean episode cost {logger.mean_episode_cost():.2f}; "
          f"reward after training {np.mean(rewards):.3f}")  # fmt: skip
    return float(np.mean(rewards))


if __name__ == "__main__":
    main()
