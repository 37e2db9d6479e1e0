"""Residual control: an agent answering 0 everywhere is its heuristic, 1 everywhere holds the plan;
the wrapper's masks, features and action mapping; a residual model trains, saves, reloads with the
same actions and runs in the benchmark's harness."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import agents.evaluate as ev
from agents.residual import FEATURES, FIRST_OWN, KEY, ResidualAdapter, ResidualWrapper
from agents.training import TrainedPolicy, load_config, load_policy, make_env, train
from rrm_gym.envs import FastLoopEnv, SlowLoopEnv
from rrm_gym.radio.regulatory import SLOT_CHANNEL, SLOT_WIDTH_MHZ

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "training"


def constant_policy(loop: str, heuristic: str, answer: int, num_aps: int = 10) -> TrainedPolicy:
    """A residual 'model' that gives ``answer`` for every AP, in the benchmark's harness."""
    adapter = ResidualAdapter(heuristic, loop)
    policy = TrainedPolicy(
        Path("constant"), "ppo_lagrangian", loop, "max" if loop == "slow" else "dca", {}, {"name": "constant"},
        lambda obs, info: np.full(num_aps, answer, dtype=np.int64), [], {}, adapter,
    )  # fmt: skip
    policy.check_env = lambda env, where: None  # type: ignore[method-assign]
    return policy


@pytest.mark.parametrize("seed", [100, 103])
def test_answering_0_everywhere_is_the_heuristic_and_1_holds_the_plan(seed):
    def run(loop: str, heuristic: str, answer: int) -> dict:
        metrics = ev.run_model("office", constant_policy(loop, heuristic, answer), seed)
        del metrics["loop_cost"]  # counts the requests of the model's own loop only
        return metrics

    def baseline(channel: str, power: str) -> dict:
        metrics = ev.run_baseline("office", channel, power, seed)
        del metrics["loop_cost"]
        return metrics

    dca = baseline("dca", "max")
    assert run("slow", "dca", 0) == dca and dca["channel_changes"] > 0
    hold = run("slow", "dca", 1)
    assert hold == baseline("static", "max") and hold["channel_changes"] == 0
    # a fast-loop residual over TPC, likewise
    assert run("fast", "tpc", 0) == baseline("dca", "tpc")


def test_a_residual_policy_must_be_bound_before_it_acts():
    policy = constant_policy("slow", "dca", 0)
    env = SlowLoopEnv("office")
    obs, info = env.reset(seed=1)
    with pytest.raises(RuntimeError, match="bind"):
        policy(obs, info)
    assert env.action_space.contains(policy.bind(env)(obs, info))


def test_the_wrapper_adds_the_heuristics_choice_to_observation_and_mask():
    env = ResidualWrapper(SlowLoopEnv("office", episode_steps=3, slow_period_s=600), "dca", seed=2)
    u = env.unwrapped
    nvec = [len(s) for s in u.slots]
    assert list(env.action_space.nvec) == [FIRST_OWN + n for n in nvec]
    obs, info = env.reset(seed=5)
    assert env.observation_space.contains(obs) and obs[KEY].shape == (u.num_aps, FEATURES)
    rng = np.random.default_rng(0)
    moved = 0
    for _ in range(3):
        suggestion = env.adapter.suggest(obs, {**info, "action_mask": info["env_action_mask"]})
        current = u.current_channel_action()
        slots = np.array([u.slots[i][suggestion[i]] for i in range(u.num_aps)])
        np.testing.assert_array_equal(obs[KEY][:, 0], suggestion != current)
        np.testing.assert_allclose(obs[KEY][:, 1], SLOT_CHANNEL[slots] / 165.0, rtol=1e-6)
        np.testing.assert_allclose(obs[KEY][:, 2], SLOT_WIDTH_MHZ[slots] / 160.0, rtol=1e-6)
        moved += int((suggestion != current).sum())
        # the mask: the heuristic's choice, the current one, then the env's own, AP by AP
        own, res, a, b = info["env_action_mask"], info["action_mask"], 0, 0
        assert len(res) == sum(env.action_space.nvec) and len(own) == sum(nvec)
        for i, n in enumerate(nvec):
            assert res[b] == own[a + suggestion[i]] and res[b + 1] == own[a + current[i]]
            np.testing.assert_array_equal(res[b + 2 : b + 2 + n], own[a : a + n])
            a, b = a + n, b + 2 + n
        np.testing.assert_array_equal(env.action_masks(), res)
        # a mix of answers: the env takes the heuristic's, the current or the named choice
        answer = rng.integers(0, 3, u.num_aps)
        named = np.array([rng.integers(len(u.slots[i])) for i in range(u.num_aps)])
        residual = np.where(answer == 2, named + FIRST_OWN, answer)
        obs, _, _, _, info = env.step(residual)
        expected = np.where(answer == 0, suggestion, np.where(answer == 1, current, named))
        np.testing.assert_array_equal(info["env_action"], expected)
        # encode inverts the mapping up to equal choices
        np.testing.assert_array_equal(
            ResidualAdapter.action(ResidualAdapter.encode(expected, suggestion, current), suggestion, current), expected
        )
    assert moved > 0  # DCA moved some AP in these steps, so the features were not all zero


def test_the_wrapper_refuses_a_bad_action_naming_the_choices():
    env = ResidualWrapper(SlowLoopEnv("office", episode_steps=2), "dca")
    env.reset(seed=0)
    n = env.action_space.nvec
    for bad in (np.zeros(3, dtype=np.int64), np.asarray(n, dtype=np.int64), np.zeros(len(n)) + 0.5):
        with pytest.raises(ValueError, match="integer choices"):
            env.step(bad)


def test_fast_loop_residual_in_step_mode_suggests_steps_towards_the_heuristics_level():
    env = ResidualWrapper(FastLoopEnv("office", episode_steps=3, power_mode="step"), "client_snr", seed=0)
    obs, info = env.reset(seed=4)
    u = env.unwrapped
    level = np.asarray(env.adapter.heuristic(obs, info))
    expected = np.clip(level - u.current_power_action(), -1, 1) + 1
    np.testing.assert_array_equal(env.adapter.suggest(obs, info), expected)
    np.testing.assert_array_equal(env.adapter.current(), np.ones(u.num_aps))
    np.testing.assert_allclose(obs[KEY][:, 1], expected / 2.0)


def test_an_unknown_or_wrong_loop_heuristic_is_refused():
    with pytest.raises(ValueError, match="'tpc' is not a slow-loop heuristic"):
        ResidualAdapter("tpc", "slow")
    with pytest.raises(ValueError, match="'dca' is not a fast-loop heuristic"):
        ResidualAdapter("dca", "fast")


def test_a_residual_model_trains_from_dca_demonstrations_saves_reloads_and_runs(tmp_path):
    raw = yaml.safe_load((CONFIGS / "slow_office_ppo_lagrangian.yaml").read_text())
    raw.update(
        name="tiny_residual",
        residual="dca",
        timesteps=32,
        n_envs=1,
        checkpoint_every=16,
        env={**raw["env"], "episode_steps": 2},
        hyperparameters={**raw["hyperparameters"], "n_steps": 16, "batch_size": 16, "n_epochs": 1},
        pretrain={"policy": "dca", "episodes": 2, "epochs": 20},
    )
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config(tmp_path / "c.yaml")
    path = train(cfg, tmp_path / "run")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["residual"] == "dca"
    # the teacher is the heuristic itself: every demonstrated answer is 0, and imitation fits it
    assert json.loads((tmp_path / "run" / "pretrain.json").read_text())["accuracy"] == 1.0
    policy = load_policy(path)
    assert policy.residual is not None and policy.residual.name == "dca"
    env = make_env(cfg, seed=9)
    obs, info = env.reset(seed=9)
    model_answer = policy._predict(obs, info)
    again = load_policy(path)._predict(obs, info)
    np.testing.assert_array_equal(model_answer, again)
    # in the benchmark's harness (the fast-loop env, which the model's heuristic is bound to)
    metrics = ev.run_model("office", policy, seed=100, hours=0.5)
    assert np.isfinite(metrics["pf_utility"]) and metrics["dfs_violations"] == 0
    # the model's shapes are checked against the residual encoding of the env
    env2 = ev.model_env(ev.load_scenario("office"), policy)
    policy.check_env(env2, "office")
    with pytest.raises(ValueError, match="was trained for"):
        policy.check_env(FastLoopEnv("hall"), "hall")


def test_a_residual_model_over_a_random_heuristic_is_seeded_per_episode_as_the_baseline():
    # answering 0 over `random` power is `random` power, draw for draw, because run_model seeds the
    # heuristic with the episode's seed as run_baseline does
    for seed in (100, 104):
        metrics = ev.run_model("office", constant_policy("fast", "random", 0), seed)
        baseline = ev.run_baseline("office", "dca", "random", seed)
        del metrics["loop_cost"], baseline["loop_cost"]
        assert metrics == baseline
