"""What threads buy (``rrm_gym.sim.kernels.set_threads``, or ``$RRM_GYM_THREADS``): the batched
``FastLoop-v2`` and a simulated hour, one thread and ``--threads`` threads, in the same process,
alternating.

    python benchmarks/ab_threads.py [--threads N] [--scenarios office enterprise] [--batch 64]
                                    [--steps 30] [--repeats 3]

For each scenario and batch size: network-steps per second of the natively batched vector env
with random actions and holding (blocks of ``--steps`` steps from copies of one warmed-up env),
and the wall time of a simulated hour in 60 calls of ``run(60)``; the fastest of ``--repeats``
turns each, their ratio, and whether the threaded run gave the same rewards and readings, bit
for bit. ``--threads`` defaults to what numba allows (the CPU count).
"""

from __future__ import annotations

import argparse
import copy
import functools
import time

import gymnasium as gym
import numba
import numpy as np
from reference import fastest_alternating

import rrm_gym  # noqa: F401  (registers the envs)
from rrm_gym.sim import WirelessSimulation, kernels


def env_block_s(env: gym.vector.VectorEnv, actions: list[np.ndarray], threads: int, out: dict) -> float:
    """Seconds of ``actions`` stepped on a copy of ``env`` on ``threads`` threads; its rewards go to ``out``."""
    kernels.set_threads(threads)
    replay = copy.deepcopy(env)
    t = time.perf_counter()
    rewards = [replay.step(a)[1] for a in actions]
    seconds = time.perf_counter() - t
    out[threads] = np.stack(rewards)
    return seconds


def hour_s(sim: WirelessSimulation, threads: int, out: dict) -> float:
    kernels.set_threads(threads)
    replay = copy.deepcopy(sim)
    t = time.perf_counter()
    readings = [replay.run(60) for _ in range(60)]
    seconds = time.perf_counter() - t
    out[threads] = np.stack([r.client_throughput_mbps for r in readings])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    parser.add_argument("--scenarios", nargs="+", default=["office", "enterprise"])
    parser.add_argument("--batch", nargs="+", type=int, default=[64])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.threads
    kernels.set_threads(n)  # refuses a count numba does not allow, before any work
    WirelessSimulation("office", seed=0, num_networks=2).run(60)  # the threaded kernels' first compile
    kernels.set_threads(1)
    layer = numba.threading_layer() if n > 1 else "none"
    print(f"1 thread against {n} (numba's threading layer: {layer})\n")
    print(f"{'scenario':<12}{'B':>4}  {'what':<24}| {'1 thread':>10}{f'{n} threads':>12} | speed-up | same")
    for name in args.scenarios:
        for b in args.batch:
            env = gym.make_vec("rrm_gym/FastLoop-v2", num_envs=b, scenario=name, episode_steps=100_000)
            env.reset(seed=0)
            nvec = env.single_action_space.nvec
            rng = np.random.default_rng(0)
            for _ in range(5):  # warm-up (and the threaded kernels' first compile)
                for threads in (1, n):
                    kernels.set_threads(threads)
                    copy.deepcopy(env).step(rng.integers(nvec, size=(b, len(nvec))))
            env.step(rng.integers(nvec, size=(b, len(nvec))))
            policies = {
                "random": [rng.integers(nvec, size=(b, len(nvec))) for _ in range(args.steps)],
                "hold": [np.broadcast_to(nvec - 1, (b, len(nvec)))] * args.steps,
            }
            for policy, actions in policies.items():
                out: dict[int, np.ndarray] = {}
                timers = {t: functools.partial(env_block_s, env, actions, t, out) for t in (1, n)}
                best = fastest_alternating(timers, args.repeats)
                rate = {t: args.steps * b / s for t, s in best.items()}
                same = np.array_equal(out[1], out[n])
                what = f"FastLoop-v2 {policy} st/s"
                print(f"{name:<12}{b:>4}  {what:<24}| {rate[1]:>10,.0f}{rate[n]:>12,.0f} | "
                      f"{rate[n] / rate[1]:>7.2f}x | {same}")  # fmt: skip
            env.close()
            sim = WirelessSimulation(name, seed=0, num_networks=b)
            sim.run(60)
            out = {}
            best = fastest_alternating({t: functools.partial(hour_s, sim, t, out) for t in (1, n)}, args.repeats)
            same = np.array_equal(out[1], out[n])
            what = "simulated hour ms"
            print(f"{name:<12}{b:>4}  {what:<24}| {best[1] * 1e3:>10,.0f}{best[n] * 1e3:>12,.0f} | "
                  f"{best[1] / best[n]:>7.2f}x | {same}")  # fmt: skip
    kernels.set_threads(1)


if __name__ == "__main__":
    main()
