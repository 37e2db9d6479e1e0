"""Every script under examples/ runs as a researcher would copy it, in its --smoke mode."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_sb3_ppo_on_the_batched_env(capsys):
    reward = load("sb3_ppo_batched").main(["--smoke"])
    out = capsys.readouterr().out
    assert math.isfinite(reward) and "trained 256 steps" in out and "mean episode cost" in out


def test_maskable_ppo_on_the_slow_loop(capsys):
    reward = load("maskable_ppo_slow_loop").main(["--smoke"])
    out = capsys.readouterr().out
    assert math.isfinite(reward) and "trained 64 steps" in out
    assert "shield cost 0.0," in out  # within the masks nothing is rejected


def test_ppo_lagrangian_reports_reward_cost_and_multiplier(capsys):
    logs = load("ppo_lagrangian").main(["--smoke"])
    assert [log.timesteps for log in logs] == [128, 256]
    assert all(log.lam >= 0 and log.mean_episode_cost is not None for log in logs)
    assert "lambda" in capsys.readouterr().out


def test_every_example_is_run_by_a_test():
    # the RLlib examples run in tests_rllib/ (RLlib has an environment of its own)
    sources = Path(__file__).read_text() + (EXAMPLES.parent / "tests_rllib" / "test_rllib.py").read_text()
    for script in (p.stem for p in EXAMPLES.glob("*.py")):
        assert f'load("{script}")' in sources or f'run_example("{script}"' in sources, script


@pytest.mark.parametrize("script", sorted(p.stem for p in EXAMPLES.glob("*.py")))
def test_each_example_says_how_to_run_it(script):
    text = (EXAMPLES / f"{script}.py").read_text()
    assert f"python examples/{script}.py" in text and "--smoke" in text


def test_rl_zoo_trains_from_the_hyperparameter_file_and_evaluates_with_the_same_env_kwargs(tmp_path):
    import numpy as np

    model = load("rl_zoo_train").main(["--smoke", "--log-folder", str(tmp_path)])
    assert model.is_file() and model.parent.parent.name == "ppo"
    evaluations = np.load(model.parent / "evaluations.npz")
    assert (evaluations["ep_lengths"] == 8).all()  # the eval env got episode_steps=8, not the file's 60


def test_torchrl_multi_agent_ppo_with_a_shared_masked_actor(capsys):
    returns = load("torchrl_multi_agent_ppo").main(["--smoke"])
    out = capsys.readouterr().out
    assert len(returns) == 2 and all(math.isfinite(r) for r in returns)
    assert "iteration 2: mean episode return per AP" in out and "cost per episode" in out
