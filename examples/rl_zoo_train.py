"""RL Zoo (rl_zoo3) training of PPO on FastLoop-v2 from a hyperparameter file.

    python examples/rl_zoo_train.py [--timesteps 20000] [--smoke]

runs what a researcher types,

    python -m rl_zoo3.train --algo ppo --env rrm_gym/FastLoop-v2 --gym-packages rrm_gym \\
        --conf-file examples/rl_zoo/ppo.yml --env-kwargs scenario:"'office'" ... \\
        --eval-env-kwargs scenario:"'office'" ...

with the same env keyword arguments for the evaluation env (RL Zoo takes those from
``--eval-env-kwargs``, not from the file). RL Zoo has no masked algorithm: use
``examples/maskable_ppo_slow_loop.py`` for the action masks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timesteps", type=int, default=20_000)
    p.add_argument("--log-folder", default=None, help="where RL Zoo writes the run (default: a temporary folder)")
    p.add_argument("--smoke", action="store_true", help="a few hundred steps, to check that it runs")
    args = p.parse_args(argv)
    timesteps, episode = (512, 8) if args.smoke else (args.timesteps, 60)
    env_kwargs = ["scenario:'office'", f"episode_steps:{episode}"]
    log_folder = Path(args.log_folder or tempfile.mkdtemp(prefix="rl_zoo_"))
    cmd = [
        sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", "rrm_gym/FastLoop-v2",
        "--gym-packages", "rrm_gym", "--conf-file", str(HERE / "rl_zoo" / "ppo.yml"),
        "-n", str(timesteps), "--seed", "0", "--log-folder", str(log_folder),
        "--eval-freq", str(timesteps // 2), "--eval-episodes", "1", "--n-eval-envs", "1",
        "--env-kwargs", *env_kwargs, "--eval-env-kwargs", *env_kwargs,
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    (model,) = log_folder.glob("ppo/*/rrm_gym-FastLoop-v2.zip")
    print(f"model saved to {model}")
    return model


if __name__ == "__main__":
    main()
