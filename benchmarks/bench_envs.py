"""Environment speed: steps per second of each env on ``office`` and ``enterprise``.

Two action streams per env: ``random`` (a fresh random action every step: nearly every AP
changes, so every step is a burst of shielded, audited change requests and rollback
watches) and ``hold`` (the current configuration: the floor cost of a step, simulation and
event loop included). CartPole-v1 random steps are timed in the same run for the ratio. The
last rows time FastLoop-v2, Joint-v2 and SlowLoop-v2 through ``gymnasium.make_vec``: the
natively batched vector envs, ``--batch`` networks (a quarter of that for SlowLoop) in one
simulation and one event loop, counted in network-steps, the best of three runs.

    python benchmarks/bench_envs.py [--steps 300] [--batch 64]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from reference import cartpole_steps_per_s

import rrm_gym  # noqa: F401  (registers the envs)

ENVS = ("rrm_gym/FastLoop-v2", "rrm_gym/SlowLoop-v2", "rrm_gym/Joint-v2")
TARGET = {("rrm_gym/FastLoop-v2", "office"): 2000.0}


def hold_action(u: gym.Env) -> np.ndarray:
    """The action that keeps the current configuration."""
    parts = ([u.current_channel_action()] if u.controls_channel else []) + (
        [u.current_power_action()] if u.controls_power else []
    )
    return np.concatenate(parts)


def steps_per_s(env_id: str, scenario: str, steps: int, hold: bool) -> float:
    env = gym.make(env_id, scenario=scenario, episode_steps=10_000)
    env.reset(seed=0)
    env.action_space.seed(0)
    u = env.unwrapped
    env.step(env.action_space.sample())  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        env.step(hold_action(u) if hold else env.action_space.sample())
    return steps / (time.perf_counter() - t)


def vector_hold(env: gym.vector.VectorEnv) -> np.ndarray:
    """The batched action that keeps every network's current configuration."""
    parts = ([env.current_channel_action()] if env.template.controls_channel else []) + (
        [env.current_power_action()] if env.template.controls_power else []
    )
    return np.concatenate(parts, axis=1)


def vector_steps_per_s(env_id: str, scenario: str, num_envs: int, steps: int, repeats: int = 3) -> tuple[float, float]:
    """Network-steps per second of a natively batched vector env (``gymnasium.make_vec``) with
    random and with hold actions: the best of ``repeats`` runs of ``steps`` steps each, the two
    streams taking turns so that a slow spell of the machine hits them alike."""
    envs = {}
    for hold in (False, True):
        env = gym.make_vec(env_id, num_envs=num_envs, scenario=scenario, episode_steps=100_000)
        env.reset(seed=0)
        env.action_space.seed(0)
        env.step(env.action_space.sample())  # warm-up
        envs[hold] = env
    best = {False: 0.0, True: 0.0}
    for _ in range(repeats):
        for hold, env in envs.items():
            t = time.perf_counter()
            for _ in range(steps):
                env.step(vector_hold(env) if hold else env.action_space.sample())
            best[hold] = max(best[hold], steps * num_envs / (time.perf_counter() - t))
    return best[False], best[True]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--scenarios", nargs="+", default=["office", "enterprise"])
    parser.add_argument("--batch", type=int, default=64, help="networks of the batched vector env")
    args = parser.parse_args()
    cartpole = cartpole_steps_per_s()
    print(f"CartPole-v1 random steps: {cartpole:,.0f} steps/s (reference, same process)\n")
    head = (
        f"{'env':<26} {'scenario':<11} {'sim s/step':>10} {'random st/s':>12} {'hold st/s':>10} "
        f"{'x CartPole':>11}  target"
    )
    print(head)
    print("-" * len(head))
    for env_id in ENVS:
        for scenario in args.scenarios:
            n = max(5, args.steps // 60) if env_id.endswith("SlowLoop-v2") else args.steps
            rnd = steps_per_s(env_id, scenario, n, hold=False)
            hold = steps_per_s(env_id, scenario, n, hold=True)
            u = gym.make(env_id, scenario=scenario).unwrapped
            period = u.slow_period_s if env_id.endswith("SlowLoop-v2") else u.fast_period_s
            target = TARGET.get((env_id, scenario))
            verdict = f">= {target:,.0f} {'PASS' if rnd >= target else 'MISS'}" if target else ""
            row = f"{env_id:<26} {scenario:<11} {period:>10} {rnd:>12,.0f} {hold:>10,.0f} {rnd / cartpole:>11.4f}"
            print(f"{row}  {verdict}")
    batches = (
        ("rrm_gym/FastLoop-v2", args.batch),
        ("rrm_gym/Joint-v2", args.batch),
        ("rrm_gym/SlowLoop-v2", max(1, args.batch // 4)),
    )
    for env_id, batch in batches:
        for scenario in args.scenarios:
            slow = env_id.endswith("SlowLoop-v2")
            n = 1 if slow else max(10, args.steps // 15)
            rnd, hold = vector_steps_per_s(env_id, scenario, batch, n, repeats=2 if slow else 3)
            target = TARGET.get((env_id, scenario))
            verdict = f">= {target:,.0f} {'PASS' if rnd >= target else 'MISS'}" if target else ""
            label = f"{env_id.split('/')[1]} make_vec B={batch}"
            period = 3600 if slow else 60
            f = ",.1f" if slow else ",.0f"  # an hour-long step is slow enough to need a decimal
            row = f"{label:<26} {scenario:<11} {period:>10} {rnd:>12{f}} {hold:>10{f}} {rnd / cartpole:>11.4f}"
            print(f"{row}  {verdict}")
    print(
        "\nst/s: environment steps per wall second (one step = one fast period, or one slow period for SlowLoop,\n"
        "with the event loop on); make_vec rows: network-steps per second of the natively batched vector env\n"
        "(B networks in one simulation and one event loop); x CartPole: random-action steps/s over CartPole-v1\n"
        "random steps/s."
    )


if __name__ == "__main__":
    main()
