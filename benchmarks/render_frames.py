"""The rendered frames shown in docs/environments.md: office and enterprise after one step of
holding the shipped plan at full power (seed 0).

    python benchmarks/render_frames.py [--out docs/img]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import matplotlib.image as mpimg

import rrm_gym  # noqa: F401  (registers the envs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="docs/img")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("office", "enterprise"):
        env = gym.make("rrm_gym/FastLoop-v2", scenario=name, render_mode="rgb_array", episode_steps=3)
        env.reset(seed=0)
        env.step(env.unwrapped.current_power_action())
        path = out / f"render_{name}.png"
        mpimg.imsave(path, env.render())
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
