"""Train RL agents on the RRM environments from a YAML config, and load what was trained.

A run directory holds ``config.yaml`` (the resolved config), ``model.zip`` (stable-baselines3
PPO / MaskablePPO) or ``model.pt`` (PPO-Lagrangian), ``model.json`` (what the model controls
and how it was trained), ``checkpoints/`` and ``tb/`` (TensorBoard logs).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import rrm_gym  # noqa: F401  (registers the environments)
from agents.baselines import CHANNEL_POLICIES, POWER_POLICIES
from rrm_gym.envs.core import failure_summary

if TYPE_CHECKING:
    from agents.residual import ResidualAdapter

ALGORITHMS = ("ppo", "maskable_ppo", "ppo_lagrangian")
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
LOOPS = {"rrm_gym/FastLoop-v2": "fast", "rrm_gym/SlowLoop-v2": "slow"}


# transitions a rollout may hold (n_steps x n_envs): a few GB of observations at most
MAX_ROLLOUT = 2**20
# SB3 arguments that must be numbers where given (SB3 itself finds out only when training)
SB3_NUMBERS = frozenset(
    {"learning_rate", "n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "clip_range", "clip_range_vf",
     "ent_coef", "vf_coef", "max_grad_norm", "target_kl", "stats_window_size"}
)  # fmt: skip
# SB3 arguments the trainer sets itself
SB3_SET_BY_TRAINER = frozenset({"seed", "device", "verbose", "tensorboard_log", "_init_setup_model"})


class TrainConfigError(ValueError):
    """A training config that cannot be used; the message names the file and the field."""


class Pretrain(BaseModel):
    """Behaviour-cloning warm start (PPO-Lagrangian only): the actor first imitates a heuristic of
    the agent's own loop over ``episodes`` training episodes, then RL takes over."""

    model_config = ConfigDict(extra="forbid")

    policy: str
    # the demonstrations are held in memory: episodes x episode_steps observations
    episodes: int = Field(default=100, ge=1, le=10_000, strict=True)
    epochs: int = Field(default=30, ge=1, le=10_000, strict=True)
    learning_rate: float | None = Field(default=None, gt=0, lt=1)  # default: the RL learning rate


class TrainConfig(BaseModel):
    """One training run. ``env`` holds keyword arguments of the environment (e.g. ``episode_steps``,
    ``slow_period_s``, ``allow_width``); ``other_policy`` is the heuristic running the loop the agent
    does not control (a channel policy under FastLoop, a power policy under SlowLoop)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    algorithm: Literal["ppo", "maskable_ppo", "ppo_lagrangian"]
    env_id: Literal["rrm_gym/FastLoop-v2", "rrm_gym/SlowLoop-v2"]
    scenario: str = "office"
    env: dict[str, Any] = Field(default_factory=dict)
    other_policy: str
    timesteps: int = Field(gt=0, le=10**10, strict=True)  # as --timesteps
    n_envs: int = Field(default=1, ge=1, le=256, strict=True)
    # "separate": n_envs environments stepped in turn; "batched": the env's natively batched vector
    # env, all n_envs networks in one simulation (much faster per step)
    vectorization: Literal["separate", "batched"] = "separate"
    seed: int = Field(default=1000, ge=0, le=2**32 - 1, strict=True)  # what numpy, torch and SB3 take
    checkpoint_every: int = Field(default=10_000, gt=0, strict=True)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    pretrain: Pretrain | None = None
    # residual control (agents.residual): the agent corrects this heuristic of its own loop,
    # choosing per AP the heuristic's choice, the current one or any of the env's
    residual: str | None = None

    @property
    def loop(self) -> str:
        return LOOPS[self.env_id]


def packaged_configs() -> list[str]:
    """Names of the training configs installed with the package (``configs/training`` in the source)."""
    return sorted(
        p.name[: -len(".yaml")] for p in resources.files("agents.configs").iterdir() if p.name.endswith(".yaml")
    )


def config_path(name_or_path: str | Path) -> Path:
    """``name_or_path`` if it names a file, else the packaged config of that name (``.yaml`` optional)."""
    path = Path(name_or_path)
    try:
        if path.exists():
            return path
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return path
    name = path.name[: -len(".yaml")] if path.name.endswith(".yaml") else path.name
    if str(path.parent) == "." or path.parent == Path("configs/training"):
        packaged = resources.files("agents.configs") / f"{name}.yaml"
        if packaged.is_file():
            return Path(str(packaged))
    return path


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read and check a training config, a file or a packaged config by name (see
    :func:`packaged_configs`); ``overrides`` (top-level keys) win over the file."""
    from rrm_gym.config.loader import YAMLLimitError, parse_yaml, read_limited

    given = path
    path = config_path(path)
    if not path.exists() and str(given) == path.name and not path.suffix:
        names = ", ".join(packaged_configs())
        raise TrainConfigError(f"{given}: no such file or packaged training config (packaged: {names})")
    try:
        raw = parse_yaml(read_limited(path).decode("utf-8"))
    except UnicodeDecodeError as e:
        raise TrainConfigError(f"{path}: not UTF-8 text (byte {e.start}): is it a training config?") from None
    except OSError as e:
        raise TrainConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except YAMLLimitError as e:
        raise TrainConfigError(f"{path}: cannot read ({e})") from None
    except yaml.YAMLError as e:
        raise TrainConfigError(f"{path}: not valid YAML ({e})") from None
    except (ValueError, OverflowError) as e:  # a NUL byte in the name, a scalar that cannot be converted
        raise TrainConfigError(f"{path}: cannot read ({str(e)[:80]})") from None
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{path}: expected a mapping of settings at the top level")
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        cfg = TrainConfig.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in e.errors())
        raise TrainConfigError(f"{path}: {problems}") from None
    if cfg.vectorization == "separate" and cfg.n_envs > 64:
        raise TrainConfigError(f"{path}: n_envs: at most 64 separate environments (use vectorization: batched)")
    allowed = CHANNEL_POLICIES if cfg.loop == "fast" else POWER_POLICIES
    if cfg.other_policy not in allowed:
        raise TrainConfigError(
            f"{path}: other_policy: {cfg.other_policy!r} cannot run the "
            f"{'slow' if cfg.loop == 'fast' else 'fast'} loop; choose one of {sorted(allowed)}"
        )
    if "render_mode" in cfg.env:
        raise TrainConfigError(f"{path}: env.render_mode: training envs do not render (render an evaluation env)")
    try:
        check_hyperparameters(cfg)
    except (TypeError, ValueError, AssertionError, OverflowError) as e:
        raise TrainConfigError(f"{path}: hyperparameters: {e}") from None
    own = POWER_POLICIES if cfg.loop == "fast" else CHANNEL_POLICIES
    if cfg.residual is not None:
        if cfg.residual not in own:
            raise TrainConfigError(
                f"{path}: residual: {cfg.residual!r} is not a {cfg.loop}-loop heuristic; choose one of {sorted(own)}"
            )
        if cfg.vectorization == "batched":
            raise TrainConfigError(f"{path}: residual: needs vectorization: separate (one network per env)")
    if cfg.pretrain is not None:
        if cfg.algorithm != "ppo_lagrangian":
            raise TrainConfigError(f"{path}: pretrain: only the ppo_lagrangian algorithm has a warm start")
        if cfg.pretrain.policy not in own:
            raise TrainConfigError(
                f"{path}: pretrain.policy: {cfg.pretrain.policy!r} is not a {cfg.loop}-loop heuristic; "
                f"choose one of {sorted(own)}"
            )
    try:
        make_env(cfg)
    except (ValueError, TypeError) as e:
        raise TrainConfigError(f"{path}: env / scenario: {e}") from None
    return cfg


def check_hyperparameters(cfg: TrainConfig) -> None:
    """Raise (TypeError, ValueError or AssertionError, naming the key) unless the algorithm accepts
    ``cfg.hyperparameters``: PPO-Lagrangian checks its config; SB3 models are built once on a
    throw-away env, since SB3 checks its arguments in the constructor."""
    hp = cfg.hyperparameters
    n_steps = hp.get("n_steps", 240 if cfg.algorithm == "ppo_lagrangian" else 2048)
    if isinstance(n_steps, int) and n_steps * cfg.n_envs > MAX_ROLLOUT:
        raise ValueError(
            f"n_steps {n_steps} x n_envs {cfg.n_envs} = {n_steps * cfg.n_envs:,} transitions a rollout, "
            f"more than the {MAX_ROLLOUT:,} held in memory at most"
        )
    if cfg.algorithm == "ppo_lagrangian":
        from agents.ppo_lagrangian import PPOLagConfig

        PPOLagConfig.from_dict(hp)
        return
    import inspect

    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.ppo_lagrangian import MAX_LAYER_WIDTH, MAX_LAYERS

    algo = MaskablePPO if cfg.algorithm == "maskable_ppo" else PPO
    known = set(inspect.signature(algo.__init__).parameters) - {"self", "policy", "env"}
    unknown = set(cfg.hyperparameters) - known
    if unknown:
        raise ValueError(f"unknown {algo.__name__} arguments {sorted(unknown)}")
    for key in SB3_NUMBERS & set(hp):
        v = hp[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise ValueError(f"{key} must be a finite number, got {v!r}")
    reserved = sorted(set(hp) & SB3_SET_BY_TRAINER)
    if reserved:
        raise ValueError(f"{reserved} set by the trainer (the seed is the config's top-level seed)")
    nets = _networks(
        (hp.get("policy_kwargs") or {}).get("net_arch") if isinstance(hp.get("policy_kwargs"), dict) else None
    )
    if any(len(net) > MAX_LAYERS or any(not 1 <= n <= MAX_LAYER_WIDTH for n in net) for net in nets):
        raise ValueError(
            f"policy_kwargs.net_arch: each network at most {MAX_LAYERS} layers of 1 to {MAX_LAYER_WIDTH} units"
        )
    try:
        algo("MultiInputPolicy", DummyVecEnv([lambda: make_env(cfg)]), device="cpu", **cfg.hyperparameters)
    except (TypeError, ValueError, AssertionError) as e:
        raise ValueError(f"{algo.__name__} refuses {cfg.hyperparameters}: {e}") from None


def _networks(net_arch: Any) -> list[list[int]]:
    """The layer sizes of each network an SB3 ``net_arch`` builds: a list of sizes is the actor's
    and the critic's alike, ``{"pi": [...], "vf": [...]}`` one each (a boolean reads as size 0,
    refused; what is not a size is left for SB3 to refuse when it builds the model)."""
    if isinstance(net_arch, dict):
        return [net for v in net_arch.values() for net in _networks(v)]
    if isinstance(net_arch, (list, tuple)):
        return [[0 if isinstance(n, bool) else n for n in net_arch if isinstance(n, int)]]
    return []


def make_env(cfg: TrainConfig, seed: int = 0) -> gym.Env:
    """The training environment with the other loop's heuristic bound inside it (in the residual
    encoding where ``cfg.residual`` is set)."""
    env = gym.make(cfg.env_id, scenario=cfg.scenario, **cfg.env)
    attach_other_policy(env.unwrapped, cfg.loop, cfg.other_policy, seed)
    if cfg.residual is not None:
        from agents.residual import ResidualWrapper

        env = ResidualWrapper(env, cfg.residual, seed)
    return env


def make_batched_env(cfg: TrainConfig) -> Any:
    """The env's natively batched vector env with ``cfg.n_envs`` networks ("SameStep" autoreset)
    and the other loop's heuristic bound inside it (one instance serves every network: the
    heuristics keep no state but their random generator)."""
    from rrm_gym.envs import FastLoopVectorEnv, SlowLoopVectorEnv

    cls = FastLoopVectorEnv if cfg.loop == "fast" else SlowLoopVectorEnv
    venv = cls(cfg.n_envs, cfg.scenario, autoreset_mode="SameStep", **cfg.env)
    attach_other_policy(venv, cfg.loop, cfg.other_policy, cfg.seed)
    return venv


def attach_other_policy(env: Any, loop: str, name: str, seed: int) -> None:
    if loop == "fast":
        env.slow_policy = CHANNEL_POLICIES[name](seed).bind(env)
    else:
        env.fast_policy = POWER_POLICIES[name](seed).bind(env)


# ----------------------------------------------------------------------------- training
# called with the timesteps done and, where the algorithm has them, the latest episode statistics
Progress = Callable[[int, Mapping[str, float]], None]


# what a resumed run may change: how long it goes on, how often it saves, and how its envs are
# laid out and seeded (the networks and encodings come from the checkpoint and must fit)
RESUMABLE = frozenset({"timesteps", "checkpoint_every", "n_envs", "vectorization", "seed"})


def _check_run_dir(cfg: TrainConfig, run_dir: Path, resume: bool) -> None:
    """Refuse to train over another run: a directory that holds one is continued with ``--resume``
    only, and only with the config it was started with (its networks and encodings must fit)."""
    saved = run_dir / "config.yaml"
    if not resume:
        # a config.yaml alone is a run stopped before it saved anything: it may be started again
        checkpoints = run_dir / "checkpoints"
        held = [p.name for p in (run_dir / "model.pt", run_dir / "model.zip") if p.exists()]
        held += ["checkpoints"] if checkpoints.is_dir() and any(checkpoints.iterdir()) else []
        if held:
            raise TrainConfigError(
                f"{run_dir} already holds a training run ({', '.join(held)}): give --resume to continue it, "
                f"or another --out"
            )
        return
    try:
        before = yaml.safe_load(saved.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise TrainConfigError(f"--resume: cannot read the run's {saved} ({e})") from None
    if not isinstance(before, dict):
        raise TrainConfigError(f"--resume: the run's {saved} is not a training config")
    now = cfg.model_dump()
    changed = sorted(k for k in set(now) | set(before) if k not in RESUMABLE and now.get(k) != before.get(k))
    if changed:
        raise TrainConfigError(
            f"--resume: the config differs from the one {run_dir} was trained with in {changed}; "
            f"only {sorted(RESUMABLE)} may change"
        )


def _latest_checkpoint(run_dir: Path) -> Path | None:
    found = []
    for p in (run_dir / "checkpoints").glob("model_*"):
        m = re.match(r"model_(\d+)", p.stem)
        if m and p.suffix in (".zip", ".pt"):
            found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, progress: Progress | None = None) -> Path:
    """Train ``cfg`` into ``run_dir``; returns the final model's path. ``resume`` continues from the
    newest checkpoint in ``run_dir`` (an error if there is none)."""
    run_dir = Path(run_dir)
    checkpoint = _latest_checkpoint(run_dir) if resume else None
    if resume and checkpoint is None:
        raise FileNotFoundError(f"--resume: no checkpoint under {run_dir / 'checkpoints'}")
    _check_run_dir(cfg, run_dir, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    started = time.perf_counter()
    if cfg.algorithm == "ppo_lagrangian":
        path, done = _train_ppo_lagrangian(cfg, run_dir, checkpoint, progress)
    else:
        path, done = _train_sb3(cfg, run_dir, checkpoint, progress)
    meta = {
        "algorithm": cfg.algorithm,
        "env_id": cfg.env_id,
        "loop": cfg.loop,
        "scenario": cfg.scenario,
        "env": cfg.env,
        "other_policy": cfg.other_policy,
        "timesteps": done,
        "train_seconds": round(time.perf_counter() - started, 1),
        "seed": cfg.seed,
        "name": cfg.name,
        "residual": cfg.residual,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


def _train_ppo_lagrangian(
    cfg: TrainConfig, run_dir: Path, checkpoint: Path | None, progress: Progress | None
) -> tuple[Path, int]:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from agents.ppo_lagrangian import PPOLagConfig, PPOLagrangian, TrainLog

    torch.set_num_threads(1)  # small networks: threads cost more than they give
    envs: Any = (
        make_batched_env(cfg)
        if cfg.vectorization == "batched"
        else [make_env(cfg, seed=cfg.seed + i) for i in range(cfg.n_envs)]
    )
    if checkpoint is not None:
        model = PPOLagrangian.load(checkpoint, envs)
    else:
        model = PPOLagrangian(envs, PPOLagConfig.from_dict(cfg.hyperparameters), seed=cfg.seed)
        if cfg.pretrain is not None:
            accuracy = model.imitate(
                *_demonstrations(cfg, model.keys), epochs=cfg.pretrain.epochs, learning_rate=cfg.pretrain.learning_rate
            )
            (run_dir / "pretrain.json").write_text(json.dumps({**cfg.pretrain.model_dump(), "accuracy": accuracy}))
    writer = SummaryWriter(str(run_dir / "tb"))
    next_save = (model.num_timesteps // cfg.checkpoint_every + 1) * cfg.checkpoint_every

    def on_update(m: PPOLagrangian, log: TrainLog) -> None:
        nonlocal next_save
        writer.add_scalar("lagrangian/lambda", log.lam, log.timesteps)
        if log.mean_episode_reward is not None:
            writer.add_scalar("rollout/ep_rew_mean", log.mean_episode_reward, log.timesteps)
            writer.add_scalar("rollout/ep_cost_mean", log.mean_episode_cost, log.timesteps)
        for k, v in log.losses.items():
            writer.add_scalar(f"train/{k}", v, log.timesteps)
        if log.timesteps >= next_save:
            m.save(run_dir / "checkpoints" / f"model_{log.timesteps}.pt")
            next_save = (log.timesteps // cfg.checkpoint_every + 1) * cfg.checkpoint_every
        if progress is not None:
            stats = {"lambda": log.lam}
            if log.mean_episode_reward is not None:
                stats.update(ep_reward=log.mean_episode_reward, ep_cost=log.mean_episode_cost)
            progress(log.timesteps, stats)

    model.learn(cfg.timesteps, callback=on_update)
    writer.close()
    return model.save(run_dir / "model.pt", with_optimizer=False), model.num_timesteps


def _demonstrations(cfg: TrainConfig, keys: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(obs [M, D], masks [M, A], actions [M, N]) of the ``pretrain`` heuristic acting in the training
    env on its own seeds (after the RL envs' seeds), in the agent's action encoding."""
    from agents.ppo_lagrangian import flatten_obs

    assert cfg.pretrain is not None
    env = make_env(cfg, seed=cfg.seed)
    u = env.unwrapped
    own = POWER_POLICIES if cfg.loop == "fast" else CHANNEL_POLICIES
    obs_l, mask_l, act_l = [], [], []
    for episode in range(cfg.pretrain.episodes):
        seed = cfg.seed + cfg.n_envs + episode
        teacher = own[cfg.pretrain.policy](seed).bind(u)
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            # the teacher sees the env's own mask; a residual env's is under "env_action_mask"
            own_mask = info.get("env_action_mask", info["action_mask"])
            action = np.asarray(teacher(obs, {**info, "action_mask": own_mask}), dtype=np.int64)
            if getattr(u, "power_mode", "level") == "step":  # a level target becomes a step towards it
                action = u.step_towards(action)
            if cfg.residual is not None:  # into the agent's encoding
                action = env.encode(action)
            obs_l.append(flatten_obs(obs, keys))
            mask_l.append(np.asarray(info["action_mask"], dtype=bool))
            act_l.append(action)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
    return np.stack(obs_l), np.stack(mask_l), np.stack(act_l)


def _train_sb3(cfg: TrainConfig, run_dir: Path, checkpoint: Path | None, progress: Progress | None) -> tuple[Path, int]:
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(1)
    algo = MaskablePPO if cfg.algorithm == "maskable_ppo" else PPO
    if cfg.vectorization == "batched":
        from stable_baselines3.common.vec_env import VecMonitor

        from agents.vec_env import BatchedVecEnv

        vec = VecMonitor(BatchedVecEnv(make_batched_env(cfg)))
    else:
        vec = DummyVecEnv([lambda i=i: Monitor(make_env(cfg, seed=cfg.seed + i)) for i in range(cfg.n_envs)])
    vec.seed(cfg.seed)
    if checkpoint is not None:
        model = algo.load(checkpoint, env=vec, device="cpu")
    else:
        model = algo(
            "MultiInputPolicy",
            vec,
            seed=cfg.seed,
            device="cpu",
            tensorboard_log=str(run_dir / "tb"),
            verbose=0,
            **cfg.hyperparameters,
        )

    class _Progress(BaseCallback):
        def _on_step(self) -> bool:
            if progress is not None:
                progress(self.num_timesteps, {})
            return True

    from agents.callbacks import CostLogger

    callbacks = CallbackList(
        [
            CheckpointCallback(max(1, cfg.checkpoint_every // cfg.n_envs), str(run_dir / "checkpoints"), "model"),
            CostLogger(),  # PPO and MaskablePPO log no cost of their own
            _Progress(),
        ]
    )
    remaining = max(0, cfg.timesteps - model.num_timesteps)
    model.learn(remaining, callback=callbacks, reset_num_timesteps=checkpoint is None, tb_log_name=cfg.name)
    path = run_dir / "model.zip"
    model.save(path)
    return path, int(model.num_timesteps)


# ----------------------------------------------------------------------------- loading
@dataclass
class TrainedPolicy:
    """A trained model as a policy ``(obs, info) -> action`` (deterministic), with what it controls."""

    path: Path
    algorithm: str
    loop: str  # "fast" (power) or "slow" (channel plan)
    other_policy: str
    env_kwargs: dict[str, Any]
    meta: dict[str, Any]
    _predict: Callable[[Mapping[str, np.ndarray], Mapping[str, Any]], np.ndarray]
    nvec: list[int]
    obs_shapes: dict[str, tuple[int, ...]]
    residual: ResidualAdapter | None = None  # a residual model's heuristic (bind it to the env first)

    @property
    def label(self) -> str:
        return str(self.meta.get("name", self.path.stem))

    def bind(self, env: Any, seed: int | None = None) -> TrainedPolicy:
        """Bind a residual model's heuristic to the env it acts in, seeded with ``seed`` where given
        (nothing to do for other models); returns self."""
        if self.residual is not None:
            self.residual.bind(env, seed)
        return self

    def __call__(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        r = self.residual
        if r is None:
            return self._predict(self._own_keys(obs), info)
        if r.env is None:
            raise RuntimeError(f"model {self.path} corrects {r.name!r}: bind(env) it before use")
        suggestion, current = r.suggest(obs, info), r.current()
        own = {**info, "action_mask": r.mask(info["action_mask"], suggestion, current)}
        seen = self._own_keys(r.observation(obs, suggestion, current))
        return r.action(self._predict(seen, own), suggestion, current)

    def _own_keys(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The observation keys the model was trained with (a newer env may add others)."""
        return {k: obs[k] for k in self.obs_shapes}

    def check_env(self, env: Any, where: str) -> None:
        """Raise ValueError naming ``where`` unless ``env``'s encoding fits this model: the same
        action choices, and every observation key the model reads with its shape (keys a newer env
        version added, such as v2's ``channel_budget``, are left out of what the model sees)."""
        nvec = [len(s) for s in env.slots] if self.loop == "slow" else [int(n) for n in env.action_space.nvec]
        shapes = {k: tuple(s.shape) for k, s in env.observation_space.spaces.items()}
        if self.residual is not None:  # the residual encoding around the env's
            from agents.residual import FEATURES, FIRST_OWN, KEY

            nvec = [FIRST_OWN + n for n in nvec]
            shapes[KEY] = (env.num_aps, FEATURES)
        shapes = {k: v for k, v in shapes.items() if k in self.obs_shapes}
        if nvec != self.nvec or shapes != self.obs_shapes:
            raise ValueError(
                f"model {self.path} was trained for {len(self.nvec)} APs with choices {self.nvec} and "
                f"observation {self.obs_shapes}; {where} has {len(nvec)} APs with choices {nvec} and {shapes}"
            )


def pretrained_models() -> list[str]:
    """Names of the models shipped under ``agents/pretrained/``."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.json"))


def load_policy(path: str | Path) -> TrainedPolicy:
    """Load ``model.zip`` / ``model.pt`` (or a run directory holding one, or the name of a shipped
    pretrained model) and its ``.json`` description."""
    path = Path(path)
    if not path.exists() and str(path) in pretrained_models():
        path = next(p for p in PRETRAINED_DIR.glob(f"{path}.*") if p.suffix in (".pt", ".zip"))
    if path.is_dir():
        found = [p for p in (path / "model.pt", path / "model.zip") if p.exists()]
        if not found:
            raise FileNotFoundError(f"{path}: no model.pt or model.zip in this directory")
        path = found[0]
    if not path.exists():
        shipped = ", ".join(pretrained_models()) or "none"
        raise FileNotFoundError(f"{path}: no such model file or run directory (pretrained models: {shipped})")
    if path.suffix not in (".pt", ".zip"):
        raise ValueError(f"{path}: give the model file (.pt or .zip) or its run directory, not this file")
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
        algorithm, loop = meta["algorithm"], meta["loop"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{meta_path}: missing or unreadable model description ({e})") from None
    if algorithm not in ALGORITHMS or loop not in ("fast", "slow"):
        raise ValueError(f"{meta_path}: unknown algorithm {algorithm!r} or loop {loop!r}")
    try:
        return _load_trained(path, meta, algorithm, loop)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable {algorithm} model ({failure_summary(e, 160)})") from None
    except Exception as e:  # a damaged file fails inside torch or SB3's unpickling in many ways
        why = failure_summary(e, 160)
        raise ValueError(f"{path}: not a readable {algorithm} model, or a damaged one ({why})") from None


def _load_trained(path: Path, meta: dict, algorithm: str, loop: str) -> TrainedPolicy:
    """The model at ``path`` described by ``meta`` (:func:`load_policy` turns its failures into one error)."""
    if algorithm == "ppo_lagrangian":
        import torch

        from agents.ppo_lagrangian import PPOLagrangian

        torch.set_num_threads(1)
        model = PPOLagrangian.load(path)
        nvec, shapes = model.nvec, {k: tuple(s.shape) for k, s in model._shapes.items()}
        predict = model.predict
    else:
        import torch
        from sb3_contrib import MaskablePPO
        from stable_baselines3 import PPO

        torch.set_num_threads(1)
        sb3 = (MaskablePPO if algorithm == "maskable_ppo" else PPO).load(path, device="cpu")
        nvec = [int(n) for n in sb3.action_space.nvec]
        shapes = {k: tuple(s.shape) for k, s in sb3.observation_space.spaces.items()}

        def predict(obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
            kw = {"action_masks": np.asarray(info["action_mask"])} if algorithm == "maskable_ppo" else {}
            action, _ = sb3.predict(dict(obs), deterministic=True, **kw)
            return np.asarray(action, dtype=np.int64)

    residual = None
    if meta.get("residual") is not None:
        from agents.residual import ResidualAdapter

        try:
            residual = ResidualAdapter(meta["residual"], loop)
        except ValueError as e:
            raise ValueError(f"{path.with_suffix('.json')}: {e}") from None
    return TrainedPolicy(
        path,
        algorithm,
        loop,
        meta.get("other_policy", ""),
        dict(meta.get("env", {})),
        meta,
        predict,
        nvec,
        shapes,
        residual,
    )
