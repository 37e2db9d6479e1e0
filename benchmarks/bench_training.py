"""Training throughput: environment steps per second of PPO-Lagrangian runs on FastLoop-v2
(``office``, DCA channels inside) and SlowLoop-v2 (ten-minute steps, maximum power inside), with
``n_envs`` separate environments stepped in turn and with the natively batched vector env, timed
in the same process run and reported as a ratio.

Each run starts from the packaged config (``configs/training/{fast,slow}_office_ppo_lagrangian.yaml``)
without its warm start and without residual control (the slow config's ``residual: dca`` runs one
network per env, so the batched env cannot take it), with rollouts of 16 steps per env and one
epoch per update, so most of the time is spent stepping environments as a long run does. The slow
loop runs an eighth of the steps (each is ten fast periods) with a quarter of the networks.

    python benchmarks/bench_training.py [--timesteps 3072] [--separate 4] [--batched 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from agents.training import load_config, train

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "training"


def steps_per_s(loop: str, timesteps: int, n_envs: int, vectorization: str) -> float:
    hp = {"n_steps": 16, "batch_size": min(1024, 16 * n_envs), "n_epochs": 1}
    cfg = load_config(
        CONFIGS / f"{loop}_office_ppo_lagrangian.yaml",
        {
            "name": f"bench_{loop}_{vectorization}",
            "timesteps": timesteps,
            "n_envs": n_envs,
            "checkpoint_every": 10**9,
        },
    )
    update = {"vectorization": vectorization, "residual": None, "pretrain": None}
    cfg = cfg.model_copy(update={**update, "hyperparameters": {**cfg.hyperparameters, **hp}})
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        train(cfg, Path(d) / "run")
        return timesteps / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=3072)
    parser.add_argument("--separate", type=int, default=4, help="separate environments")
    parser.add_argument("--batched", type=int, default=64, help="networks of the batched vector env")
    args = parser.parse_args()
    for loop, env_id, scale, nets in (
        ("fast", "FastLoop-v2", 1, args.batched),
        ("slow", "SlowLoop-v2", 8, max(1, args.batched // 4)),
    ):
        steps = max(64, args.timesteps // scale)
        separate = steps_per_s(loop, steps, args.separate, "separate")
        batched = steps_per_s(loop, steps, nets, "batched")
        print(f"PPO-Lagrangian on {env_id} office, {steps:,} env steps per run:")
        print(f"  {args.separate:>3} separate envs:        {separate:>8,.0f} env steps/s")
        print(f"  {nets:>3} batched networks:     {batched:>8,.0f} env steps/s   ({batched / separate:.1f}x)")


if __name__ == "__main__":
    main()
