"""MaskablePPO (sb3-contrib) on the slow loop: each AP's channel and width, once a simulated hour,
choosing only among the channels the shield would accept.

    python examples/maskable_ppo_slow_loop.py [--timesteps 5000] [--smoke]

``env.action_masks()`` (flat, length ``sum(nvec)``) is what MaskablePPO reads; the fast
loop's power is held by a heuristic (``fast_policy``, default: hold). Choices within the masks
are never rejected: channel changes past the channel-change budget (``obs["channel_budget"]``)
are deferred, not charged, so the agent's shield cost is zero.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
from sb3_contrib import MaskablePPO

import rrm_gym  # noqa: F401  (registers the envs)
from agents.callbacks import CostLogger


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timesteps", type=int, default=5_000)
    p.add_argument("--smoke", action="store_true", help="a few hundred steps, to check that it runs")
    args = p.parse_args(argv)
    timesteps, n_steps, episode = (64, 32, 8) if args.smoke else (args.timesteps, 256, 24)
    env = gym.make("rrm_gym/SlowLoop-v2", scenario="office", episode_steps=episode)
    model = MaskablePPO("MultiInputPolicy", env, n_steps=n_steps, batch_size=32, seed=0, verbose=0)
    logger = CostLogger()
    model.learn(timesteps, callback=logger)
    obs, info = env.reset(seed=123)
    total, shield, deferred = 0.0, 0.0, 0
    for _ in range(episode):
        action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks(), deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        shield += info["cost_terms"]["shield_rejected"] + info["cost_terms"]["shield_modified"]
        deferred += int(info["shield"]["DEFERRED"])
    print(f"trained {model.num_timesteps} steps; mean episode cost {logger.mean_episode_cost():.2f}; "
          f"one held-out day: reward {total:.3f}, shield cost {shield:.1f}, {deferred} changes deferred")  # fmt: skip
    return float(total)


if __name__ == "__main__":
    main()
