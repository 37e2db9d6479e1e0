"""RL training: every algorithm trains from its packaged config and saves a loadable model; the
PPO-Lagrangian multiplier follows the cost; saved models act exactly as before saving; ``--resume``
continues from the newest checkpoint; bad configs are reported with file and field; trained models
run in the benchmark's harness and through ``rrm-gym evaluate`` / ``benchmark``.

Models are tiny (a few dozen steps) and trained once per module."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml
from gymnasium import spaces

import agents.evaluate as ev
from agents.cli import main
from agents.ppo_lagrangian import PPOLagConfig, PPOLagrangian, TrainLog, gae, update_multiplier
from agents.training import TrainConfig, TrainConfigError, TrainedPolicy, load_config, load_policy, make_env, train
from rrm_gym.envs import FastLoopEnv

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "training"
TINY_HP = {"n_steps": 16, "batch_size": 16, "n_epochs": 1}
# the module's runs: key -> (packaged config, hyperparameters and overrides on top of the tiny defaults)
RUNS = {
    "ppo": ("fast_office_ppo", {}, {}),
    "maskable_ppo": ("slow_office_maskable_ppo", {}, {}),
    # two envs: 8 steps each per rollout
    "ppo_lagrangian": ("fast_office_ppo_lagrangian", {"n_steps": 8}, {"n_envs": 2}),
    # slow-loop episodes cost well above the limit of 1 (random channel plans, each change past the
    # channel-change budget charged): the multiplier rises at every update
    "ppo_lagrangian_slow": (
        "slow_office_ppo_lagrangian",
        {"cost_limit": 1.0, "lambda_lr": 0.05, "lambda_max": 100.0},
        {"env": {"episode_steps": 2, "slow_period_s": 600, "cost_weights": {"shield_deferred": 1.0}}},
    ),
}
TIMESTEPS = 48  # three rollouts of 16 steps
CHECKPOINT_EVERY = 32


def tiny_overrides(config: str, hp: dict | None = None, **overrides: object) -> dict:
    """Overrides making a packaged config train in about a second; its env settings (e.g. the
    action encoding) and hyperparameters are kept, with short episodes and rollouts; ``hp`` updates
    the hyperparameters."""
    raw = yaml.safe_load((CONFIGS / f"{config}.yaml").read_text())
    tiny = {
        "name": f"tiny_{config}",
        "timesteps": TIMESTEPS,
        "n_envs": 1,
        "checkpoint_every": CHECKPOINT_EVERY,
        "hyperparameters": {**raw.get("hyperparameters", {}), **TINY_HP, **(hp or {})},
        "env": {**raw.get("env", {}), "episode_steps": 4 if config.startswith("fast") else 2},
    }
    if raw.get("pretrain"):  # a warm start: one episode, one epoch
        tiny["pretrain"] = {**raw["pretrain"], "episodes": 1, "epochs": 1}
    return {**tiny, **overrides}


def tiny_config(config: str, hp: dict | None = None, **overrides: object) -> TrainConfig:
    return load_config(CONFIGS / f"{config}.yaml", tiny_overrides(config, hp, **overrides))


def write_tiny_yaml(path: Path, config: str, hp: dict | None = None, **overrides: object) -> Path:
    """A config file: the packaged one with the tiny overrides written in."""
    raw = yaml.safe_load((CONFIGS / f"{config}.yaml").read_text())
    raw.update(tiny_overrides(config, hp, **overrides))
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def env_samples(env: gym.Env, n: int, seed: int = 7) -> list[tuple[dict, dict]]:
    """(observation, info) pairs of real episodes under random actions."""
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    out = [(obs, info)]
    while len(out) < n:
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        out.append((obs, info))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((obs, info))
    return out[:n]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """key -> (config, run dir, final model path, progress calls) of the module's tiny runs."""
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for key, (config, hp, overrides) in RUNS.items():
        cfg = tiny_config(config, hp, **overrides)
        calls: list[tuple[int, dict]] = []
        path = train(cfg, base / key, progress=lambda done, stats, calls=calls: calls.append((done, dict(stats))))
        out[key] = (cfg, base / key, path, calls)
    return out


# ----------------------------------------------------------------------------- training runs
@pytest.mark.parametrize(
    "key, algorithm, loop, suffix, checkpoint",
    [
        ("ppo", "ppo", "fast", ".zip", "model_32_steps.zip"),
        ("maskable_ppo", "maskable_ppo", "slow", ".zip", "model_32_steps.zip"),
        ("ppo_lagrangian", "ppo_lagrangian", "fast", ".pt", "model_32.pt"),
        ("ppo_lagrangian_slow", "ppo_lagrangian", "slow", ".pt", "model_32.pt"),
    ],
)
def test_a_short_run_of_each_algorithm_saves_model_description_checkpoint_and_logs(
    runs, key, algorithm, loop, suffix, checkpoint
):
    cfg, run_dir, path, calls = runs[key]
    assert path == run_dir / f"model{suffix}" and path.is_file()
    meta = json.loads((run_dir / "model.json").read_text())
    assert meta["algorithm"] == algorithm
    assert meta["loop"] == loop
    assert meta["env_id"] == cfg.env_id
    assert meta["timesteps"] == TIMESTEPS
    assert meta["name"] == cfg.name and meta["scenario"] == "office" and meta["other_policy"] == cfg.other_policy
    assert meta["env"] == cfg.env and cfg.env["episode_steps"] == (4 if loop == "fast" else 2)
    # checkpoint_every 32 of 48 steps: exactly one checkpoint, at 32
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [checkpoint]
    assert list((run_dir / "tb").rglob("events.out.tfevents*"))
    # config.yaml is the resolved config: it loads back to the same one
    assert load_config(run_dir / "config.yaml") == cfg
    # progress is reported up to the end
    assert calls and calls[-1][0] == TIMESTEPS
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


@pytest.mark.parametrize(
    "config, algorithm",
    [
        ("fast_office_ppo", "ppo"),
        ("fast_office_ppo", "maskable_ppo"),
        ("fast_office_ppo_lagrangian", "ppo_lagrangian"),
        ("slow_office_ppo_lagrangian", "ppo_lagrangian"),
        ("slow_office_maskable_ppo", "maskable_ppo"),
        ("fast_enterprise_ppo_lagrangian", "ppo_lagrangian"),
    ],
)
def test_each_algorithm_trains_on_the_batched_vector_env_and_its_model_acts_in_the_single_env(
    tmp_path, config, algorithm
):
    hp = {"n_steps": 4, "batch_size": 16} if algorithm != "ppo_lagrangian" else {"n_steps": 4}
    if algorithm == "maskable_ppo":
        hp["gamma"] = 0.95
    path = write_tiny_yaml(
        tmp_path / "c.yaml", config, hp, algorithm=algorithm, n_envs=4, vectorization="batched", timesteps=32
    )
    raw = yaml.safe_load(path.read_text())
    raw.pop("residual", None)  # residual control runs on separate envs only (its own test covers it)
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    calls: list[int] = []
    path = train(cfg, tmp_path / "run", progress=lambda done, stats: calls.append(done))
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    assert meta["timesteps"] == 32 and calls[-1] == 32  # 4 networks x 4 steps x 2 rollouts
    policy = load_policy(path)
    env = make_env(cfg, seed=3)
    obs, info = env.reset(seed=3)
    action = policy(obs, info)
    assert env.action_space.contains(np.asarray(action, dtype=np.int64))
    assert meta["env"] == cfg.env and load_config(tmp_path / "run" / "config.yaml").vectorization == "batched"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_packaged_training_config_loads_and_names_itself_after_its_file(path):
    cfg = load_config(path)
    assert cfg.name == path.stem and cfg.timesteps > 0


def test_imitation_at_its_own_learning_rate_fits_better_and_leaves_the_rl_rate_as_it_was():
    env = FastLoopEnv("office", episode_steps=4)
    obs, info = env.reset(seed=0)
    keys = sorted(env.observation_space.spaces)
    from agents.ppo_lagrangian import flatten_obs

    rng = np.random.default_rng(0)
    x = np.stack([flatten_obs(obs, keys)] * 8) + rng.normal(
        0, 0.1, (8, sum(int(np.prod(env.observation_space[k].shape)) for k in keys))
    )
    x = x.astype(np.float32)
    a = rng.integers(env.action_space.nvec, size=(8, env.num_aps))
    masks = np.ones((8, int(env.action_space.nvec.sum())), dtype=bool)
    fits = {}
    for lr in (None, 1e-2):
        model = PPOLagrangian([env], PPOLagConfig.from_dict({"learning_rate": 1e-4}), seed=0)
        fits[lr] = model.imitate(x, masks, a, epochs=20, learning_rate=lr)
        assert [g["lr"] for g in model.optimizer.param_groups] == [1e-4]
    assert fits[1e-2] > fits[None]


def test_ppo_lagrangian_steps_a_batched_env_in_one_call_and_counts_its_episodes():
    from rrm_gym.envs import FastLoopVectorEnv

    venv = FastLoopVectorEnv(3, "office", episode_steps=2, autoreset_mode="SameStep")
    model = PPOLagrangian(venv, PPOLagConfig.from_dict({"n_steps": 4, "batch_size": 12, "n_epochs": 1}), seed=0)
    logs: list[TrainLog] = []
    model.learn(12, callback=lambda m, log: logs.append(log))
    # two 2-step episodes per network; the second ended in the last step, which reset every network
    assert model.num_timesteps == 12 and venv.sim.time_s == 60.0
    assert logs[0].mean_episode_reward is not None and math.isfinite(logs[0].mean_episode_cost)
    with pytest.raises(ValueError, match="SameStep"):
        PPOLagrangian(FastLoopVectorEnv(2, "office"), PPOLagConfig())


@pytest.mark.parametrize("key", list(RUNS))
def test_a_loaded_policy_acts_inside_its_loops_action_space(runs, key):
    cfg, run_dir, path, _ = runs[key]
    policy = load_policy(run_dir)
    assert policy.path == path
    assert policy.algorithm == cfg.algorithm and policy.loop == cfg.loop
    assert policy.other_policy == cfg.other_policy and policy.label == cfg.name
    env = make_env(cfg)
    assert policy.nvec == [int(n) for n in env.action_space.nvec]
    env = acting_env(env, policy)
    policy.check_env(env.unwrapped, "the training env")
    for obs, info in env_samples(env, 5):
        action = policy(obs, info)
        assert action.shape == (len(policy.nvec),)
        assert np.issubdtype(action.dtype, np.integer)
        assert env.action_space.contains(action)


def acting_env(env: gym.Env, policy: TrainedPolicy) -> gym.Env:
    """The env whose observations a policy reads and whose actions it gives: the training env, or
    for a residual model the env inside the residual wrapper, with the model's heuristic bound."""
    if policy.residual is None:
        return env
    policy.bind(env.env.unwrapped)
    return env.env


@pytest.mark.parametrize("key", ["maskable_ppo", "ppo_lagrangian", "ppo_lagrangian_slow"])
def test_a_masked_policy_takes_the_only_choice_its_mask_leaves(runs, key):
    cfg, run_dir, _, _ = runs[key]
    policy = load_policy(run_dir)
    env = acting_env(make_env(cfg), policy)
    nvec = [int(n) for n in env.action_space.nvec]
    rng = np.random.default_rng(0)
    for obs, info in env_samples(env, 3):
        only = np.array([rng.integers(n) for n in nvec])
        mask = np.concatenate([np.arange(n) == c for n, c in zip(nvec, only, strict=True)])
        np.testing.assert_array_equal(policy(obs, {**info, "action_mask": mask}), only)


def test_the_lagrangian_runs_report_the_multiplier_and_episode_statistics(runs):
    _, _, path, calls = runs["ppo_lagrangian_slow"]
    lams = [stats["lambda"] for _, stats in calls]
    # every slow-loop episode of random channel plans costs more than 1: lambda rises at every update
    assert all(stats["ep_cost"] > 1.0 for _, stats in calls)
    assert 0 < lams[0] < lams[1] < lams[2]
    for (_, stats), before in zip(calls, [0.0, *lams[:-1]], strict=True):
        assert stats["lambda"] == pytest.approx(update_multiplier(before, stats["ep_cost"], 1.0, 0.05))
    model = PPOLagrangian.load(path)
    assert model.lam == pytest.approx(lams[-1])
    assert model.num_timesteps == TIMESTEPS


# ----------------------------------------------------------------------------- the multiplier
def test_update_multiplier_rises_by_lr_times_the_excess_cost():
    assert update_multiplier(1.0, 7.0, 5.0, 0.1) == pytest.approx(1.2)
    assert update_multiplier(0.0, 5.5, 5.0, 2.0) == pytest.approx(1.0)


def test_update_multiplier_falls_by_lr_times_the_slack():
    assert update_multiplier(1.0, 3.0, 5.0, 0.1) == pytest.approx(0.8)
    assert update_multiplier(2.0, 5.0, 5.0, 0.1) == 2.0  # at the limit it stays


def test_update_multiplier_is_clipped_at_zero_and_at_lambda_max():
    assert update_multiplier(0.1, 0.0, 5.0, 0.1) == 0.0
    assert update_multiplier(0.0, 0.0, 5.0, 0.1) == 0.0
    assert update_multiplier(1.9, 100.0, 5.0, 0.1, lam_max=2.0) == 2.0
    assert update_multiplier(1.9, 6.0, 5.0, 0.05, lam_max=2.0) == pytest.approx(1.95)
    assert update_multiplier(1e6, 1e6, 0.0, 1.0) == 2e6  # no bound by default


def test_gae_discounts_within_an_episode_and_stops_at_its_end():
    rewards = np.array([[1.0], [1.0], [1.0], [1.0]])
    zeros = np.zeros_like(rewards)
    dones = np.array([[0.0], [1.0], [0.0], [0.0]])
    adv = gae(rewards, zeros, zeros, dones, gamma=0.5, lam=1.0)
    np.testing.assert_allclose(adv[:, 0], [1.5, 1.0, 1.5, 1.0])
    # a truncated episode is bootstrapped from the value of the state it reached
    adv = gae(rewards[:1], zeros[:1], np.array([[4.0]]), np.array([[1.0]]), gamma=0.5, lam=0.9)
    np.testing.assert_allclose(adv, [[3.0]])


def test_ppo_lagrangian_config_rejects_unknown_keys_naming_them():
    with pytest.raises(ValueError, match=r"unknown ppo_lagrangian hyperparameters \['cost_limt'\]"):
        PPOLagConfig.from_dict({"cost_limit": 1.0, "cost_limt": 2.0})
    cfg = PPOLagConfig.from_dict({"hidden": [32, 16], "cost_limit": 3})
    assert cfg.hidden == (32, 16) and cfg.cost_limit == 3
    for hidden in ([32, "16"], [True], [10**6], [8] * 17, []):
        with pytest.raises(ValueError, match="hidden must be a list of 1 to 16 layer sizes, each 1 to 4096"):
            PPOLagConfig.from_dict({"hidden": hidden})
    for key, value in (("learning_rate", math.nan), ("learning_rate", math.inf), ("gamma", math.nan),
                       ("cost_limit", math.inf), ("lambda_max", math.nan), ("clip_range", math.nan)):  # fmt: skip
        with pytest.raises(ValueError, match=f"{key} must be a finite number"):
            PPOLagConfig.from_dict({key: value})


class RiskyEnv(gym.Env):
    """Two switches per step; each one flipped on ("risky") earns reward 1 and costs 1. Ten steps an
    episode: a reckless policy costs about 20, a uniformly random one about 10, a safe one 0."""

    observation_space = spaces.Dict(
        {"progress": spaces.Box(0.0, 1.0, (1,), np.float32), "bias": spaces.Box(0.0, 1.0, (1,), np.float32)}
    )
    action_space = spaces.MultiDiscrete([2, 2])
    steps = 10

    def _obs(self) -> dict:
        return {"progress": np.array([self.t / self.steps], np.float32), "bias": np.ones(1, np.float32)}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        risky = float(np.sum(np.asarray(action) == 1))
        self.t += 1
        return self._obs(), risky, False, self.t >= self.steps, {"cost": risky}


def risky_model(seed: int = 0, cost_limit: float = 1.0) -> PPOLagrangian:
    cfg = PPOLagConfig(
        learning_rate=3e-3,
        n_steps=50,
        batch_size=25,
        n_epochs=4,
        hidden=(16,),
        cost_limit=cost_limit,
        lambda_lr=0.5,
        lambda_max=10.0,
    )
    return PPOLagrangian([RiskyEnv(), RiskyEnv()], cfg, seed=seed)


def test_lambda_rises_over_a_low_cost_limit_drives_cost_down_and_falls_to_zero_under_a_high_one():
    torch.set_num_threads(1)
    model = risky_model()
    logs: list[TrainLog] = []
    model.learn(800, callback=lambda m, log: logs.append(log))
    assert [log.timesteps for log in logs] == list(range(100, 900, 100))
    assert all(log.mean_episode_cost is not None for log in logs)
    # the untrained policy is about uniform: ~10 risky choices an episode against a limit of 1
    first = logs[0]
    assert first.mean_episode_cost > 5
    assert first.lam > 0
    assert first.lam == pytest.approx(update_multiplier(0.0, first.mean_episode_cost, 1.0, 0.5, 10.0))
    assert logs[1].lam > first.lam
    # the multiplier outweighs the reward: the agent learns to take far fewer risks
    late = np.mean([log.mean_episode_cost for log in logs[-3:]])
    assert late < 0.5 * first.mean_episode_cost
    assert all(0 <= log.lam <= 10.0 for log in logs)

    # a limit no episode can reach: lambda falls back to exactly 0 and stays there
    model.config.cost_limit = 100.0
    after: list[TrainLog] = []
    model.learn(model.num_timesteps + 300, callback=lambda m, log: after.append(log))
    assert len(after) == 3
    assert all(log.lam == 0.0 for log in after)
    assert model.lam == 0.0


def test_ppo_lagrangian_training_is_reproducible_for_a_seed():
    torch.set_num_threads(1)
    runs = []
    for _ in range(2):
        logs: list[TrainLog] = []
        risky_model(seed=3).learn(200, callback=lambda m, log, logs=logs: logs.append(log))
        runs.append([(log.timesteps, log.lam, log.mean_episode_reward, log.mean_episode_cost) for log in logs])
    assert runs[0] == runs[1] and len(runs[0]) == 2


# ----------------------------------------------------------------------------- save and load
def test_ppo_lagrangian_reloads_with_identical_actions_state_and_multiplier(tmp_path):
    torch.set_num_threads(1)
    cfg = tiny_config("fast_office_ppo_lagrangian", hp={"cost_limit": 0.0})
    model = PPOLagrangian([make_env(cfg, seed=cfg.seed)], PPOLagConfig.from_dict(cfg.hyperparameters), seed=5)
    model.learn(32)
    samples = env_samples(make_env(cfg), 8)
    before = [model.predict(obs, info) for obs, info in samples]

    path = model.save(tmp_path / "model.pt")
    loaded = PPOLagrangian.load(path)
    assert loaded.lam == model.lam and loaded.num_timesteps == model.num_timesteps == 32
    assert loaded.config == model.config and loaded.nvec == model.nvec
    for name, tensor in model.net.state_dict().items():
        assert torch.equal(tensor, loaded.net.state_dict()[name]), name
    for (obs, info), action in zip(samples, before, strict=True):
        np.testing.assert_array_equal(loaded.predict(obs, info), action)

    # through load_policy, with the description train() writes next to the model
    (tmp_path / "model.json").write_text(
        json.dumps({"algorithm": "ppo_lagrangian", "loop": "fast", "other_policy": "dca", "name": "lag"})
    )
    policy = load_policy(tmp_path)
    for (obs, info), action in zip(samples, before, strict=True):
        np.testing.assert_array_equal(policy(obs, info), action)
        np.testing.assert_array_equal(policy(obs, info), action)  # and deterministic


def test_ppo_lagrangian_saved_without_optimizer_acts_the_same_and_can_go_on_learning(tmp_path):
    torch.set_num_threads(1)
    cfg = tiny_config("fast_office_ppo_lagrangian")
    model = PPOLagrangian([make_env(cfg)], PPOLagConfig.from_dict(cfg.hyperparameters), seed=1)
    model.learn(16)
    light_path = model.save(tmp_path / "light.pt", with_optimizer=False)
    full_path = model.save(tmp_path / "full.pt")
    assert "optimizer" not in torch.load(light_path, weights_only=False)
    assert torch.load(full_path, weights_only=False)["optimizer"]["state"]  # Adam's moments after one update
    light, full = PPOLagrangian.load(light_path), PPOLagrangian.load(full_path)
    for obs, info in env_samples(make_env(cfg), 4):
        np.testing.assert_array_equal(light.predict(obs, info), full.predict(obs, info))
        np.testing.assert_array_equal(light.predict(obs, info), model.predict(obs, info))
    again = PPOLagrangian.load(light_path, [make_env(cfg)])
    again.learn(32)
    assert again.num_timesteps == 32


def test_ppo_lagrangian_load_rejects_other_files_and_other_action_spaces(tmp_path):
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a PPO-Lagrangian model"):
        PPOLagrangian.load(tmp_path / "other.pt")
    fast = tiny_config("fast_office_ppo_lagrangian")
    path = PPOLagrangian([make_env(fast)], seed=0).save(tmp_path / "fast.pt")
    slow = tiny_config("slow_office_ppo_lagrangian")
    with pytest.raises(ValueError, match="action sizes"):
        PPOLagrangian.load(path, [make_env(slow)])


@pytest.mark.parametrize(
    "config, algorithm", [("fast_office_ppo", "ppo"), ("slow_office_maskable_ppo", "maskable_ppo")]
)
def test_an_sb3_model_reloads_through_load_policy_with_identical_actions(tmp_path, config, algorithm):
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(1)
    cfg = tiny_config(config)
    algo = MaskablePPO if algorithm == "maskable_ppo" else PPO
    model = algo("MultiInputPolicy", DummyVecEnv([lambda: make_env(cfg)]), seed=2, device="cpu", **TINY_HP)
    model.learn(16)
    samples = env_samples(make_env(cfg), 6)

    def act(obs: dict, info: dict) -> np.ndarray:
        kw = {"action_masks": info["action_mask"]} if algorithm == "maskable_ppo" else {}
        return model.predict(obs, deterministic=True, **kw)[0]

    before = [act(obs, info) for obs, info in samples]
    model.save(tmp_path / "model.zip")
    (tmp_path / "model.json").write_text(
        json.dumps({"algorithm": algorithm, "loop": cfg.loop, "other_policy": cfg.other_policy, "name": "sb3"})
    )
    policy = load_policy(tmp_path / "model.zip")
    assert policy.nvec == [int(n) for n in make_env(cfg).action_space.nvec]
    for (obs, info), action in zip(samples, before, strict=True):
        np.testing.assert_array_equal(policy(obs, info), action)
        np.testing.assert_array_equal(policy(obs, info), action)


def test_load_policy_reports_a_missing_model_or_description(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model.pt or model.zip"):
        load_policy(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_policy(tmp_path / "model.pt")
    PPOLagrangian([FastLoopEnv("office", episode_steps=2)], seed=0).save(tmp_path / "model.pt")
    with pytest.raises(ValueError, match=r"model\.json: missing or unreadable"):
        load_policy(tmp_path)


def test_a_damaged_or_wrong_model_file_is_an_error_naming_it(tmp_path, capsys):
    shipped = Path(__file__).parents[1] / "agents" / "pretrained" / "fast_office_ppo_lagrangian"
    meta = shipped.with_suffix(".json").read_text()
    cases = {
        "random": (os.urandom(4096), meta),
        "truncated": (shipped.with_suffix(".pt").read_bytes()[:3000], meta),
        "list_meta": (shipped.with_suffix(".pt").read_bytes(), "[]"),
        "string_meta": (shipped.with_suffix(".pt").read_bytes(), '"x"'),
    }
    for name, (data, description) in cases.items():
        (tmp_path / f"{name}.pt").write_bytes(data)
        (tmp_path / f"{name}.json").write_text(description)
        with pytest.raises(ValueError, match=rf"{name}\.(pt|json): (not a readable|missing or unreadable)"):
            load_policy(tmp_path / f"{name}.pt")
        assert main(["evaluate", "--model", str(tmp_path / f"{name}.pt"), "--out", str(tmp_path / "e")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --model {tmp_path / name}.pt: ") and "Traceback" not in err
    with pytest.raises(ValueError, match="give the model file"):
        load_policy(shipped.with_suffix(".json"))  # its description, not the model


def test_a_model_file_that_would_run_code_when_loaded_is_refused(tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (Path.write_text, (tmp_path / "ran", "code ran"))

    shipped = Path(__file__).parents[1] / "agents" / "pretrained" / "fast_office_ppo_lagrangian"
    state = torch.load(shipped.with_suffix(".pt"), weights_only=True)
    torch.save({**state, "extra": Payload()}, tmp_path / "evil.pt", pickle_module=pickle)
    (tmp_path / "evil.json").write_text(shipped.with_suffix(".json").read_text())
    with pytest.raises(ValueError, match="not a readable ppo_lagrangian model"):
        load_policy(tmp_path / "evil.pt")
    assert not (tmp_path / "ran").exists()


# ----------------------------------------------------------------------------- resume
def test_resume_continues_a_ppo_lagrangian_run_from_its_newest_checkpoint(runs, tmp_path):
    cfg, run_dir, _, _ = runs["ppo_lagrangian_slow"]
    resumed = tmp_path / "run"
    shutil.copytree(run_dir, resumed)
    checkpoint = PPOLagrangian.load(resumed / "checkpoints" / "model_32.pt")
    assert checkpoint.num_timesteps == 32 and checkpoint.lam > 0

    calls: list[tuple[int, dict]] = []
    target = 80
    path = train(
        cfg.model_copy(update={"timesteps": target}), resumed, resume=True, progress=lambda d, s: calls.append((d, s))
    )
    # from step 32 on, not from 0: updates at 48, 64 and 80, lambda going on rising from the checkpoint's
    assert [d for d, _ in calls] == [48, 64, 80]
    assert calls[0][1]["lambda"] > checkpoint.lam
    assert calls[0][1]["lambda"] == pytest.approx(update_multiplier(checkpoint.lam, calls[0][1]["ep_cost"], 1.0, 0.05))
    assert json.loads(path.with_suffix(".json").read_text())["timesteps"] == target
    assert PPOLagrangian.load(path).num_timesteps == target
    assert {"model_32.pt", "model_64.pt"} <= {p.name for p in (resumed / "checkpoints").iterdir()}
    assert yaml.safe_load((resumed / "config.yaml").read_text())["timesteps"] == target


@pytest.mark.parametrize("key", ["ppo", "maskable_ppo"])
def test_resume_continues_an_sb3_run_from_its_newest_checkpoint(runs, tmp_path, key):
    cfg, run_dir, _, _ = runs[key]
    resumed = tmp_path / "run"
    shutil.copytree(run_dir, resumed)
    steps: list[int] = []
    path = train(cfg.model_copy(update={"timesteps": 64}), resumed, resume=True, progress=lambda d, s: steps.append(d))
    assert steps and min(steps) == 33 and max(steps) == 64  # from the checkpoint at 32
    assert json.loads(path.with_suffix(".json").read_text())["timesteps"] == 64
    assert {p.name for p in (resumed / "checkpoints").iterdir()} == {"model_32_steps.zip", "model_64_steps.zip"}


def test_resume_without_a_checkpoint_raises_and_creates_nothing(tmp_path):
    cfg = tiny_config("fast_office_ppo_lagrangian")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(cfg, tmp_path / "fresh", resume=True)
    assert not (tmp_path / "fresh").exists()


def test_cli_resume_without_a_checkpoint_exits_2_with_a_message(tmp_path, capsys):
    config = write_tiny_yaml(tmp_path / "tiny.yaml", "fast_office_ppo")
    out = tmp_path / "fresh"
    assert main(["train", "--config", str(config), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--resume: no checkpoint" in err and str(out) in err
    assert "Traceback" not in err
    assert not out.exists()


def test_cli_trains_with_overrides_then_resumes_to_a_larger_target(tmp_path, capsys):
    config = write_tiny_yaml(tmp_path / "tiny.yaml", "fast_office_ppo_lagrangian", timesteps=10_000, n_envs=3)
    out = tmp_path / "run"
    args = ["train", "--config", str(config), "--out", str(out), "--n-envs", "1", "--seed", "7"]
    assert main([*args, "--timesteps", "32"]) == 0
    printed = capsys.readouterr().out
    assert f"saved {out / 'model.pt'}" in printed and "rrm-gym evaluate --model" in printed
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["timesteps"], saved["n_envs"], saved["seed"]) == (32, 1, 7)
    assert json.loads((out / "model.json").read_text())["timesteps"] == 32
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["model_32.pt"]

    assert main([*args, "--timesteps", "48", "--resume"]) == 0
    assert json.loads((out / "model.json").read_text())["timesteps"] == 48
    assert PPOLagrangian.load(out / "model.pt").num_timesteps == 48


def test_cli_vectorization_override_trains_on_the_batched_env(tmp_path, capsys):
    config = write_tiny_yaml(tmp_path / "tiny.yaml", "fast_office_ppo_lagrangian", {"n_steps": 4}, timesteps=32)
    out = tmp_path / "run"
    args = ["train", "--config", str(config), "--out", str(out), "--n-envs", "4", "--vectorization", "batched"]
    assert main(args) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["vectorization"], saved["n_envs"]) == ("batched", 4)
    assert json.loads((out / "model.json").read_text())["timesteps"] == 32
    with pytest.raises(SystemExit) as bad:
        main([*args[:-1], "gpu"])
    assert bad.value.code == 2 and "invalid choice: 'gpu'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- config errors
@pytest.fixture()
def bad_config(tmp_path):
    """Write a config file: the packaged fast-loop PPO-Lagrangian one with ``changes`` applied."""

    def write(changes: dict, name: str = "bad.yaml") -> Path:
        raw = yaml.safe_load((CONFIGS / "fast_office_ppo_lagrangian.yaml").read_text())
        raw.update(changes)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(raw))
        return path

    return write


@pytest.mark.parametrize(
    "changes, field, detail",
    [
        ({"learning_rate": 0.1}, "learning_rate", "Extra inputs are not permitted"),
        ({"algorithm": "a2c"}, "algorithm", "'ppo', 'maskable_ppo' or 'ppo_lagrangian'"),
        ({"env_id": "rrm_gym/Joint-v2"}, "env_id", "rrm_gym/FastLoop-v2"),
        ({"timesteps": 0}, "timesteps", "greater than 0"),
        ({"other_policy": "tpc"}, "other_policy", "'tpc' cannot run the slow loop"),
        ({"env_id": "rrm_gym/SlowLoop-v2", "other_policy": "dca"}, "other_policy", "'dca' cannot run the fast loop"),
        ({"scenario": "no_such_site"}, "scenario", "no_such_site"),
        ({"env": {"episode_step": 4}}, "env", "episode_step"),
        ({"vectorization": "gpu"}, "vectorization", "'separate' or 'batched'"),
        ({"n_envs": 100}, "n_envs", "at most 64 separate"),
        ({"residual": "dca"}, "residual", "'dca' is not a fast-loop heuristic"),
        ({"residual": "max", "vectorization": "batched"}, "residual", "needs vectorization: separate"),
        ({"seed": 2**40}, "seed", "less than or equal to 4294967295"),
        ({"seed": True}, "seed", "valid integer"),
        ({"timesteps": "100"}, "timesteps", "valid integer"),
        ({"env": {"render_mode": "human"}}, "env.render_mode", "training envs do not render"),
        ({"pretrain": {"policy": "max", "episodes": 10**9}}, "pretrain.episodes", "less than or equal to 10000"),
        ({"hyperparameters": {"n_steps": 10**9}}, "hyperparameters", "transitions a rollout"),
        ({"hyperparameters": {"gamma": math.nan}}, "hyperparameters", "gamma must be a finite number"),
    ],
)
def test_a_bad_config_raises_naming_the_file_and_the_field(bad_config, changes, field, detail):
    path = bad_config(changes)
    with pytest.raises(TrainConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert field in message and detail in message


def test_bad_yaml_and_a_missing_file_raise_naming_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nalgorithm: [ppo\n")
    with pytest.raises(TrainConfigError, match=r"broken\.yaml: not valid YAML"):
        load_config(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(TrainConfigError, match=r"broken\.yaml: expected a mapping"):
        load_config(path)
    with pytest.raises(TrainConfigError, match=r"none\.yaml: cannot read"):
        load_config(tmp_path / "none.yaml")


def test_cli_train_with_a_bad_config_exits_2_naming_file_and_field(bad_config, capsys, tmp_path):
    path = bad_config({"other_policy": "max"})
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {path}: other_policy: 'max' cannot run the slow loop")
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "config, bad",
    [("fast_office_ppo_lagrangian", {"cost_limt": 1.0}), ("fast_office_ppo", {"n_stepz": 16})],
)
def test_an_unknown_hyperparameter_is_a_config_error_naming_it(tmp_path, capsys, config, bad):
    with pytest.raises(TrainConfigError, match=rf"{config}.yaml: hyperparameters: .*{next(iter(bad))}"):
        tiny_config(config, hp=bad)
    path = write_tiny_yaml(tmp_path / "bad.yaml", config, hp=bad)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "cli")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "hyperparameters" in err and next(iter(bad)) in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "config, bad",
    [("fast_office_ppo_lagrangian", {"cost_limt": 1.0}), ("fast_office_ppo", {"n_stepz": 16})],
)
def test_cli_names_the_config_file_of_an_unknown_hyperparameter(tmp_path, capsys, config, bad):
    path = write_tiny_yaml(tmp_path / "bad.yaml", config, hp=bad)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "cli")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "hyperparameters" in err and next(iter(bad)) in err


@pytest.mark.parametrize(
    "config, bad",
    [
        ("fast_office_ppo_lagrangian", {"learning_rate": "fast"}),
        ("fast_office_ppo_lagrangian", {"batch_size": 0}),
        ("fast_office_ppo", {"learning_rate": "fast"}),
        ("fast_office_ppo", {"target_kl": "x"}),
        ("fast_office_ppo", {"learning_rate": math.inf}),
        ("fast_office_ppo", {"seed": 5}),  # the trainer sets these: not a clash found at train time
        ("fast_office_ppo", {"verbose": 1}),
        ("fast_office_ppo", {"tensorboard_log": "elsewhere"}),
        ("fast_office_ppo", {"n_steps": 10**9}),  # refused before SB3 allocates its buffer
        ("fast_office_ppo", {"policy_kwargs": {"net_arch": [200_000, 200_000]}}),
        ("fast_office_ppo", {"policy_kwargs": {"net_arch": {"pi": [64], "vf": [10**6]}}}),
        ("fast_office_ppo", {"policy_kwargs": {"net_arch": [8] * 17}}),  # 17 layers each for actor and critic
        ("fast_office_ppo", {"policy_kwargs": {"net_arch": {"pi": [8] * 17, "vf": [8]}}}),
        ("fast_office_ppo", {"policy_kwargs": {"net_arch": [True]}}),
    ],
)
def test_cli_train_with_a_bad_hyperparameter_value_exits_2(tmp_path, capsys, config, bad):
    path = write_tiny_yaml(tmp_path / "bad.yaml", config, hp=bad)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and next(iter(bad)) in err


def test_training_into_another_run_is_refused_and_resume_needs_the_same_config(tmp_path, capsys):
    run = tmp_path / "run"
    path = write_tiny_yaml(tmp_path / "a.yaml", "fast_office_ppo_lagrangian")
    assert main(["train", "--config", str(path), "--out", str(run)]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    # a second run into the same directory would overwrite the first and mix checkpoints
    assert main(["train", "--config", str(path), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "already holds a training run" in err and "--resume" in err and "Traceback" not in err
    # resuming with another network is refused: the checkpoint would not fit the config
    other = write_tiny_yaml(tmp_path / "b.yaml", "fast_office_ppo_lagrangian", hp={"hidden": [32]})
    assert main(["train", "--config", str(other), "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "differs from the one" in err and "hyperparameters" in err
    assert {p.name: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before  # nothing touched
    # a run stopped before it saved anything holds only its config: it may be started again
    stopped = tmp_path / "stopped"
    (stopped / "checkpoints").mkdir(parents=True)
    (stopped / "config.yaml").write_text("name: x\n")
    assert main(["train", "--config", str(path), "--out", str(stopped)]) == 0
    # how the envs are laid out may change on resume; the checkpoint's network fits either way
    assert (
        main(["train", "--config", str(path), "--out", str(run), "--resume", "--n-envs", "2", "--timesteps", "64"]) == 0
    )


def test_zero_steps_per_rollout_is_refused_rather_than_looping_forever():
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        PPOLagConfig.from_dict({"n_steps": 0})


# ----------------------------------------------------------------------------- evaluation
@pytest.mark.parametrize("key", ["ppo_lagrangian", "maskable_ppo", "ppo_lagrangian_slow", "ppo"])
def test_run_model_gives_finite_metrics_without_dfs_violations(runs, key):
    _, run_dir, _, _ = runs[key]
    policy = load_policy(run_dir)
    metrics = ev.run_model("office", policy, seed=100, hours=0.2)
    assert set(metrics) == {*ev.METRICS, "loop_cost"}
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["cost"] >= 0
    assert metrics["dfs_violations"] == 0
    assert metrics["throughput_mean_mbps"] > 0
    assert ev.run_model("office", policy, seed=100, hours=0.2) == metrics  # reproducible for a seed


def test_model_labels_put_the_model_in_the_loop_it_controls(runs):
    fast = load_policy(runs["ppo_lagrangian"][1])
    slow = load_policy(runs["maskable_ppo"][1])
    assert ev.model_labels(fast) == ("dca", "tiny_fast_office_ppo_lagrangian")
    assert ev.model_labels(slow) == ("tiny_slow_office_maskable_ppo", "max")


def read_rows(path: Path) -> dict[tuple[str, str], dict]:
    with path.open() as fh:
        return {(r["channel_policy"], r["power_policy"]): r for r in csv.DictReader(fh)}


def test_cli_evaluate_writes_the_models_row(runs, tmp_path, capsys):
    _, run_dir, _, _ = runs["ppo_lagrangian"]
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(run_dir), "--scenario", "office", "--episodes", "1", "--hours", "0.1"]
    assert main([*args, "--out", str(out)]) == 0
    rows = read_rows(out / "benchmark.csv")
    assert list(rows) == [("dca", "tiny_fast_office_ppo_lagrangian")]
    row = rows["dca", "tiny_fast_office_ppo_lagrangian"]
    assert row["seeds"] == "1"
    expected = ev.run_model("office", load_policy(run_dir), seed=100, hours=0.1)
    assert float(row["pf_utility"]) == pytest.approx(expected["pf_utility"])
    assert float(row["cost"]) == pytest.approx(expected["cost"])
    printed = capsys.readouterr().out
    assert "benchmark.csv" in printed
    # no reference row was run: no difference from one is claimed, in the table, the CSV or the file
    assert row["reference"] == "" and row["reward_diff"] == "nan" and "Δ vs" not in printed
    assert "Δ" not in (out / "benchmark.md").read_text()


def test_cli_evaluate_a_slow_loop_model(runs, tmp_path):
    _, run_dir, path, _ = runs["maskable_ppo"]
    out = tmp_path / "eval"
    argv = ["evaluate", "--model", str(path), "--episodes", "1", "--hours", "0.2", "--out", str(out)]
    assert main(argv) == 0
    assert list(read_rows(out / "benchmark.csv")) == [("tiny_slow_office_maskable_ppo", "max")]


def test_cli_evaluate_on_a_scenario_of_another_size_exits_2(runs, tmp_path, capsys):
    _, run_dir, _, _ = runs["ppo_lagrangian"]
    out = tmp_path / "eval"
    argv = ["evaluate", "--model", str(run_dir), "--scenario", "enterprise", "--episodes", "1", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --model ")
    assert "trained on 'office'" in err and "does not fit scenario 'enterprise'" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_cli_evaluate_with_a_missing_model_exits_2(tmp_path, capsys):
    missing = tmp_path / "nothing" / "model.pt"
    argv = ["evaluate", "--model", str(missing), "--episodes", "1", "--out", str(tmp_path / "eval")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --model {missing}") and "no such model file" in err
    assert "Traceback" not in err


def test_cli_benchmark_places_a_model_beside_the_heuristics(runs, tmp_path):
    _, run_dir, _, _ = runs["ppo_lagrangian"]
    out = tmp_path / "bench"
    argv = ["benchmark", "--policies", "dca/max", "--model", str(run_dir), "--episodes", "1", "--hours", "0.1"]
    assert main([*argv, "--no-oracle", "--out", str(out)]) == 0
    rows = read_rows(out / "benchmark.csv")
    # the reference row (static/max) runs too: every row is compared with it, paired by seed
    assert set(rows) == {("dca", "max"), ("dca", "tiny_fast_office_ppo_lagrangian"), ("static", "max")}
    for row in rows.values():
        assert math.isfinite(float(row["pf_utility"])) and float(row["dfs_violations"]) == 0
    md = (out / "benchmark.md").read_text()
    assert "| dca | max |" in md and "| dca | tiny_fast_office_ppo_lagrangian |" in md


# ----------------------------------------------------------------------------- pretrained models
PRETRAINED = ROOT / "agents" / "pretrained"
SHIPPED = ("fast_enterprise_ppo_lagrangian", "fast_office_ppo_lagrangian", "slow_office_ppo_lagrangian")


def test_rrm_gym_evaluate_runs_every_pretrained_model(tmp_path, capsys):
    models = sorted(p for pattern in ("*.pt", "*.zip") for p in PRETRAINED.glob(pattern))
    assert [m.stem for m in models] == sorted(SHIPPED)
    for i, model in enumerate(models):
        scenario = json.loads(model.with_suffix(".json").read_text()).get("scenario", "office")
        out = tmp_path / str(i)
        argv = ["evaluate", "--model", str(model), "--scenario", scenario, "--episodes", "1", "--hours", "0.1"]
        assert main([*argv, "--out", str(out)]) == 0, capsys.readouterr().err
        rows = read_rows(out / "benchmark.csv")
        assert len(rows) == 1
        assert all(math.isfinite(float(r["pf_utility"])) for r in rows.values())


def test_pretrained_models_fit_in_5_mb_and_match_the_config_that_trains_them():
    assert sum(p.stat().st_size for p in PRETRAINED.iterdir()) < 5 * 2**20
    for name in SHIPPED:
        meta = json.loads((PRETRAINED / f"{name}.json").read_text())
        cfg = load_config(CONFIGS / f"{name}.yaml")  # `rrm-gym train --config` on this file reproduces it
        assert meta["name"] == cfg.name == name
        assert (meta["algorithm"], meta["env_id"], meta["other_policy"]) == (
            cfg.algorithm,
            cfg.env_id,
            cfg.other_policy,
        )
        assert meta["env"] == cfg.env and meta["seed"] == cfg.seed and meta["timesteps"] >= cfg.timesteps
        assert meta.get("residual") == cfg.residual
        assert meta["train_seconds"] <= 30 * 60


def test_pretrained_enterprise_agent_does_as_well_as_max_power_on_a_held_out_seed():
    # It warm-starts by imitating maximum power and RL keeps it there; on v1's enterprise floor lower
    # power does better (dca/tpc, docs/training.md): the agent has not found that.
    seed = 104
    rl = ev.run_model("enterprise", load_policy("fast_enterprise_ppo_lagrangian"), seed=seed)
    best = ev.run_baseline("enterprise", "dca", "max", seed=seed)
    assert rl["reward"] >= best["reward"] - 0.005
    assert rl["dfs_violations"] == 0


@pytest.mark.parametrize("seed", [101, 107])
def test_pretrained_fast_loop_agent_does_as_well_as_max_power_on_held_out_seeds(seed):
    # seeds >= 100 were never used in training (resets draw from 1000 on)
    rl = ev.run_model("office", load_policy("fast_office_ppo_lagrangian"), seed=seed)
    best = ev.run_baseline("office", "dca", "max", seed=seed)
    assert rl["reward"] >= best["reward"] - 0.005
    assert rl["dfs_violations"] == 0


@pytest.mark.parametrize("seed", [101, 107])
def test_pretrained_slow_loop_agent_does_as_well_as_dca_on_held_out_seeds(seed):
    policy = load_policy("slow_office_ppo_lagrangian")
    rl = ev.run_model("office", policy, seed=seed)
    dca = ev.run_baseline("office", "dca", "max", seed=seed)
    assert rl["reward"] >= dca["reward"] - 1e-9
    # (its own-loop cost exceeds the config's limit of 10 on v1: DCA's width changes run into the
    # shield's limit on simultaneous channel changes; docs/training.md)
    assert rl["dfs_violations"] == 0
    # it plans: a fixed plan is worse on this seed
    if seed == 107:
        assert rl["reward"] > ev.run_baseline("office", "static", "max", seed=seed)["reward"] + 0.01


def test_the_training_benchmark_times_both_loops_separate_and_batched(capsys, monkeypatch):
    """``benchmarks/bench_training.py`` runs from the packaged configs, the slow one included (its
    residual control needs one network per env, so the benchmark leaves it out of both runs)."""
    import re
    import runpy
    import sys

    monkeypatch.setattr(sys, "argv", ["bench_training.py", "--timesteps", "64", "--separate", "2", "--batched", "4"])
    runpy.run_path(str(ROOT / "benchmarks" / "bench_training.py"), run_name="__main__")
    out = capsys.readouterr().out
    rates = [float(x.replace(",", "")) for x in re.findall(r"([\d,]+) env steps/s", out)]
    assert "FastLoop-v2" in out and "SlowLoop-v2" in out
    assert len(rates) == 4 and all(r > 0 for r in rates)


@pytest.mark.parametrize("key", ["ppo", "maskable_ppo"])
def test_sb3_runs_log_the_episode_cost_to_tensorboard(runs, key):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir, _, _ = runs[key]
    (events,) = {p.parent for p in (run_dir / "tb").rglob("events.out.tfevents*")}
    acc = EventAccumulator(str(events))
    acc.Reload()
    assert "rollout/ep_cost_mean" in acc.Tags()["scalars"] and "rollout/cost_rate" in acc.Tags()["scalars"]
    costs = [e.value for e in acc.Scalars("rollout/ep_cost_mean")]
    assert costs and all(math.isfinite(c) and c >= 0 for c in costs)
