"""PPO-Lagrangian for the RRM environments, in one file.

Constrained RL in the Lagrangian style: maximise reward while the mean episode cost stays
under ``cost_limit``. Alongside PPO's actor and reward critic sits a separate **cost critic**;
a multiplier ``lam >= 0`` rises while episodes cost more than the limit and falls back toward
zero while they do not; the policy follows the combined advantage
``(A_reward - lam * A_cost) / (1 + lam)``.

Cost is ``info["cost"]`` (shield rejections and modifications, rollbacks, DFS and EIRP
violations). Actions are ``MultiDiscrete`` (one choice per AP); where ``use_masks`` is set
the choices the shield would refuse (``info["action_mask"]``) get zero probability.

Read it top to bottom: config, network, the multiplier, the rollout, the update, save/load.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from torch import nn
from torch.distributions import Categorical

from rrm_gym.envs.vector import env_info

FORMAT = "rrm_gym.ppo_lagrangian/1"


# ----------------------------------------------------------------------------- config
# network sizes a config may ask for: far past what these observations need, short of what
# would exhaust memory when the networks are built
MAX_LAYERS = 16
MAX_LAYER_WIDTH = 4096


@dataclass
class PPOLagConfig:
    learning_rate: float = 3e-4
    n_steps: int = 240  # steps per env per rollout
    batch_size: int = 240
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    cost_limit: float = 5.0  # allowed mean episode cost
    lambda_lr: float = 0.05  # step of the multiplier per unit of cost excess
    lambda_init: float = 0.0
    lambda_max: float = 100.0  # upper bound, so that one bad stretch cannot silence the reward for long
    use_masks: bool = True

    def __post_init__(self) -> None:
        def number(name: str, lo: float, lo_open: bool, hi: float = float("inf"), integral: bool = False) -> None:
            v = getattr(self, name)
            kind = int if integral else (int, float)
            if isinstance(v, bool) or not isinstance(v, kind):
                raise ValueError(f"{name} must be {'an integer' if integral else 'a number'}, got {v!r}")
            if not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            if v < lo or (lo_open and v == lo) or v > hi:
                raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo:g}" + f" and <= {hi:g}" * (hi < 1e9))

        number("learning_rate", 0.0, True)
        for name in ("n_steps", "batch_size", "n_epochs"):
            number(name, 1, False, integral=True)
        number("gamma", 0.0, False, 1.0)
        number("gae_lambda", 0.0, False, 1.0)
        number("clip_range", 0.0, True)
        for name in ("ent_coef", "vf_coef", "max_grad_norm", "cost_limit", "lambda_lr", "lambda_init", "lambda_max"):
            number(name, 0.0, False)
        if (
            not self.hidden
            or len(self.hidden) > MAX_LAYERS
            or any(isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= MAX_LAYER_WIDTH for h in self.hidden)
        ):
            raise ValueError(
                f"hidden must be a list of 1 to {MAX_LAYERS} layer sizes, each 1 to {MAX_LAYER_WIDTH}, "
                f"got {self.hidden!r}"
            )
        if not isinstance(self.use_masks, bool):
            raise ValueError(f"use_masks must be true or false, got {self.use_masks!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PPOLagConfig:
        """Build from a mapping; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown ppo_lagrangian hyperparameters {sorted(unknown)}; known: {sorted(known)}")
        v = dict(values)
        if isinstance(v.get("hidden"), list):
            v["hidden"] = tuple(v["hidden"])
        return cls(**v)


# ----------------------------------------------------------------------------- observations
def obs_keys(space: gym.spaces.Dict) -> list[str]:
    return sorted(space.spaces)


def flatten_obs(obs: Mapping[str, np.ndarray], keys: Sequence[str]) -> np.ndarray:
    """Dict observation -> one float32 vector (keys in sorted order, each raveled)."""
    return np.concatenate([np.asarray(obs[k], dtype=np.float32).ravel() for k in keys])


# ----------------------------------------------------------------------------- network
def _mlp(n_in: int, hidden: Sequence[int], n_out: int, out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        lin = nn.Linear(n_in, h)
        nn.init.orthogonal_(lin.weight, np.sqrt(2))
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Tanh()]
        n_in = h
    out = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(out.weight, out_gain)
    nn.init.zeros_(out.bias)
    return nn.Sequential(*layers, out)


class ActorCritics(nn.Module):
    """Actor (logits of every AP's choices, concatenated) and two critics: reward and cost."""

    def __init__(self, obs_dim: int, nvec: Sequence[int], hidden: Sequence[int]) -> None:
        super().__init__()
        self.nvec = [int(n) for n in nvec]
        self.actor = _mlp(obs_dim, hidden, sum(self.nvec), out_gain=0.01)
        self.reward_critic = _mlp(obs_dim, hidden, 1, out_gain=1.0)
        self.cost_critic = _mlp(obs_dim, hidden, 1, out_gain=1.0)

    def distributions(self, obs: torch.Tensor, masks: torch.Tensor | None) -> list[Categorical]:
        logits = self.actor(obs)
        if masks is not None:
            logits = torch.where(masks, logits, torch.full_like(logits, -1e8))
        return [Categorical(logits=part) for part in torch.split(logits, self.nvec, dim=-1)]

    def act(
        self, obs: torch.Tensor, masks: torch.Tensor | None, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(action [E, N], log-probability [E], entropy [E]); samples when ``action`` is None."""
        dists = self.distributions(obs, masks)
        if action is None:
            action = torch.stack([d.sample() for d in dists], dim=-1)
        logp = torch.stack([d.log_prob(action[:, i]) for i, d in enumerate(dists)], dim=-1).sum(-1)
        entropy = torch.stack([d.entropy() for d in dists], dim=-1).sum(-1)
        return action, logp, entropy

    def mode(self, obs: torch.Tensor, masks: torch.Tensor | None) -> torch.Tensor:
        return torch.stack([d.probs.argmax(-1) for d in self.distributions(obs, masks)], dim=-1)


# ----------------------------------------------------------------------------- the multiplier
def update_multiplier(
    lam: float, mean_episode_cost: float, cost_limit: float, lr: float, lam_max: float = float("inf")
) -> float:
    """Projected gradient ascent on the Lagrangian: up while cost exceeds the limit, down (to 0) otherwise."""
    return min(lam_max, max(0.0, lam + lr * (mean_episode_cost - cost_limit)))


def gae(
    rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, dones: np.ndarray, gamma: float, lam: float
) -> np.ndarray:
    """Generalised advantage estimates, [T, E]. ``next_values[t]`` is the value of the state after
    step t (of the next episode's first state replaced by the bootstrap of the one that ended)."""
    adv = np.zeros_like(rewards)
    last = np.zeros(rewards.shape[1], dtype=np.float64)
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_values[t] - values[t]
        last = delta + gamma * lam * (1.0 - dones[t]) * last
        adv[t] = last
    return adv


# ----------------------------------------------------------------------------- the algorithm
@dataclass
class TrainLog:
    """What happened in one rollout + update, for logs and tests."""

    timesteps: int
    lam: float
    mean_episode_reward: float | None
    mean_episode_cost: float | None
    losses: dict[str, float] = field(default_factory=dict)


class PPOLagrangian:
    """PPO-Lagrangian over a list of environments stepped in turn (one process), or over one
    batched Gymnasium ``VectorEnv`` with ``"SameStep"`` autoreset (all envs in one call)."""

    def __init__(
        self,
        envs: Sequence[gym.Env] | VectorEnv | None,
        config: PPOLagConfig | None = None,
        seed: int = 0,
        *,
        obs_space: gym.spaces.Dict | None = None,
        nvec: Sequence[int] | None = None,
    ) -> None:
        self.config = cfg = config or PPOLagConfig()
        self.venv: VectorEnv | None = None
        if isinstance(envs, VectorEnv):
            mode = envs.metadata.get("autoreset_mode")
            if mode is not AutoresetMode.SAME_STEP:
                raise ValueError(f"a vector env for PPO-Lagrangian needs autoreset_mode 'SameStep', got {mode!r}")
            self.venv, self.envs = envs, []
        else:
            self.envs = list(envs or [])
        self.seed = seed
        if self.venv is not None:
            obs_space = self.venv.single_observation_space
            nvec = [int(n) for n in self.venv.single_action_space.nvec]
        elif self.envs:
            obs_space = self.envs[0].observation_space
            nvec = [int(n) for n in self.envs[0].action_space.nvec]
        assert obs_space is not None and nvec is not None, "give envs, or obs_space and nvec"
        self.keys = obs_keys(obs_space)
        self._shapes = {k: obs_space[k] for k in self.keys}
        self.obs_dim = int(sum(np.prod(obs_space[k].shape) for k in self.keys))
        self.nvec = [int(n) for n in nvec]
        torch.manual_seed(seed)
        self.net = ActorCritics(self.obs_dim, self.nvec, cfg.hidden)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate, eps=1e-5)
        self.lam = float(cfg.lambda_init)
        self.num_timesteps = 0
        self._obs: list[dict] = []
        self._info: list[dict] = []
        self._ep_reward = np.zeros(self.num_envs)
        self._ep_cost = np.zeros(self.num_envs)

    @property
    def num_envs(self) -> int:
        return self.venv.num_envs if self.venv is not None else len(self.envs)

    def _reset_all(self) -> None:
        if self.venv is not None:
            obs, info = self.venv.reset(seed=self.seed)
            self._obs = [{k: v[i] for k, v in obs.items()} for i in range(self.num_envs)]
            self._info = [env_info(info, i) for i in range(self.num_envs)]
            return
        for e, env in enumerate(self.envs):
            obs, info = env.reset(seed=self.seed + e)
            self._obs.append(obs)
            self._info.append(info)

    def _step_all(self, actions: np.ndarray) -> list[tuple[dict, float, bool, bool, dict]]:
        """Step every env; per env (observation reached, reward, terminated, truncated, info of the
        step). Ended episodes are reset: ``self._obs`` / ``self._info`` hold what comes next."""
        out = []
        if self.venv is not None:
            obs, reward, terminated, truncated, info = self.venv.step(actions)
            for i in range(self.num_envs):
                self._obs[i], self._info[i] = {k: v[i] for k, v in obs.items()}, env_info(info, i)
                if terminated[i] or truncated[i]:
                    reached, step_info = info["final_obs"][i], env_info(info["final_info"], i)
                else:
                    reached, step_info = self._obs[i], self._info[i]
                out.append((reached, float(reward[i]), bool(terminated[i]), bool(truncated[i]), step_info))
            return out
        for e, env in enumerate(self.envs):
            obs, reward, terminated, truncated, info = env.step(actions[e])
            out.append((obs, float(reward), bool(terminated), bool(truncated), info))
            if terminated or truncated:
                obs, info = env.reset()
            self._obs[e], self._info[e] = obs, info
        return out

    # --- acting
    def _mask(self, info: Mapping[str, Any]) -> np.ndarray:
        if not self.config.use_masks or "action_mask" not in info:
            return np.ones(sum(self.nvec), dtype=bool)
        return np.asarray(info["action_mask"], dtype=bool)

    def predict(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Deterministic action (the most likely choice of every AP) for one observation."""
        x = torch.as_tensor(flatten_obs(obs, self.keys))[None]
        m = torch.as_tensor(self._mask(info or {}))[None]
        with torch.no_grad():
            return self.net.mode(x, m)[0].numpy().astype(np.int64)

    # --- warm start
    def imitate(
        self,
        obs: np.ndarray,
        masks: np.ndarray,
        actions: np.ndarray,
        epochs: int = 30,
        batch_size: int = 64,
        learning_rate: float | None = None,
    ) -> float:
        """Behaviour cloning: fit the actor to ``actions`` [M, N] taken at ``obs`` [M, obs_dim] (with
        ``masks`` [M, sum(nvec)]) by cross-entropy, before any RL, at ``learning_rate`` (default:
        the RL one, which is restored after). Returns the per-AP accuracy after."""
        rl_rate = [g["lr"] for g in self.optimizer.param_groups]
        if learning_rate is not None:
            for g in self.optimizer.param_groups:
                g["lr"] = learning_rate
        try:
            return self._imitate(obs, masks, actions, epochs, batch_size)
        finally:
            for g, lr in zip(self.optimizer.param_groups, rl_rate, strict=True):
                g["lr"] = lr

    def _imitate(self, obs: np.ndarray, masks: np.ndarray, actions: np.ndarray, epochs: int, batch_size: int) -> float:
        x = torch.as_tensor(obs, dtype=torch.float32)
        m = torch.as_tensor(masks, dtype=torch.bool) if self.config.use_masks else None
        a = torch.as_tensor(actions, dtype=torch.int64)
        gen = np.random.default_rng(self.seed)
        for _ in range(epochs):
            order = gen.permutation(len(x))
            for start in range(0, len(x), batch_size):
                idx = torch.as_tensor(order[start : start + batch_size])
                _, logp, _ = self.net.act(x[idx], None if m is None else m[idx], a[idx])
                loss = -logp.mean()
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), self.config.max_grad_norm)
                self.optimizer.step()
        with torch.no_grad():
            return float((self.net.mode(x, m) == a).float().mean())

    # --- rollout
    def _collect(self) -> dict[str, np.ndarray]:
        cfg, n_env = self.config, self.num_envs
        t_steps = cfg.n_steps
        buf = {
            "obs": np.zeros((t_steps, n_env, self.obs_dim), np.float32),
            "mask": np.zeros((t_steps, n_env, sum(self.nvec)), bool),
            "action": np.zeros((t_steps, n_env, len(self.nvec)), np.int64),
            "logp": np.zeros((t_steps, n_env)),
            "reward": np.zeros((t_steps, n_env)),
            "cost": np.zeros((t_steps, n_env)),
            "value_r": np.zeros((t_steps, n_env)),
            "value_c": np.zeros((t_steps, n_env)),
            "next_value_r": np.zeros((t_steps, n_env)),
            "next_value_c": np.zeros((t_steps, n_env)),
            "done": np.zeros((t_steps, n_env)),
        }
        ep_rewards, ep_costs = [], []
        for t in range(t_steps):
            x = torch.as_tensor(np.stack([flatten_obs(o, self.keys) for o in self._obs]))
            m = torch.as_tensor(np.stack([self._mask(i) for i in self._info]))
            with torch.no_grad():
                action, logp, _ = self.net.act(x, m)
                buf["value_r"][t] = self.net.reward_critic(x)[:, 0].numpy()
                buf["value_c"][t] = self.net.cost_critic(x)[:, 0].numpy()
            buf["obs"][t], buf["mask"][t], buf["action"][t], buf["logp"][t] = x.numpy(), m.numpy(), action, logp
            reached, ended = [], np.zeros(n_env, dtype=bool)
            for e, (obs, reward, terminated, truncated, info) in enumerate(self._step_all(action.numpy())):
                buf["reward"][t, e], buf["cost"][t, e] = reward, info["cost"]
                self._ep_reward[e] += reward
                self._ep_cost[e] += info["cost"]
                reached.append(flatten_obs(obs, self.keys))
                ended[e] = terminated
                if terminated or truncated:
                    buf["done"][t, e] = 1.0
                    ep_rewards.append(self._ep_reward[e])
                    ep_costs.append(self._ep_cost[e])
                    self._ep_reward[e] = self._ep_cost[e] = 0.0
            # the value of the state reached: 0 after termination, bootstrapped after truncation
            nx = torch.as_tensor(np.stack(reached))
            with torch.no_grad():
                buf["next_value_r"][t] = np.where(ended, 0.0, self.net.reward_critic(nx)[:, 0].numpy())
                buf["next_value_c"][t] = np.where(ended, 0.0, self.net.cost_critic(nx)[:, 0].numpy())
        self.num_timesteps += t_steps * n_env
        buf["episode_rewards"] = np.asarray(ep_rewards)
        buf["episode_costs"] = np.asarray(ep_costs)
        return buf

    # --- update
    def _update(self, buf: dict[str, np.ndarray]) -> dict[str, float]:
        cfg = self.config
        adv_r = gae(buf["reward"], buf["value_r"], buf["next_value_r"], buf["done"], cfg.gamma, cfg.gae_lambda)
        adv_c = gae(buf["cost"], buf["value_c"], buf["next_value_c"], buf["done"], cfg.gamma, cfg.gae_lambda)
        ret_r, ret_c = adv_r + buf["value_r"], adv_c + buf["value_c"]
        # reward and cost advantages are standardised separately, then combined under the multiplier
        adv_r = (adv_r - adv_r.mean()) / (adv_r.std() + 1e-8)
        adv_c = (adv_c - adv_c.mean()) / (adv_c.std() + 1e-8)
        adv = (adv_r - self.lam * adv_c) / (1.0 + self.lam)

        flat = {
            "obs": buf["obs"].reshape(-1, self.obs_dim),
            "mask": buf["mask"].reshape(-1, sum(self.nvec)),
            "action": buf["action"].reshape(-1, len(self.nvec)),
            "logp": buf["logp"].ravel(),
            "adv": adv.ravel(),
            "ret_r": ret_r.ravel(),
            "ret_c": ret_c.ravel(),
        }
        t = {k: torch.as_tensor(v, dtype=torch.float32 if v.dtype.kind == "f" else None) for k, v in flat.items()}
        n = len(flat["adv"])
        gen = np.random.default_rng(self.seed + self.num_timesteps)
        names = ("policy_loss", "reward_value_loss", "cost_value_loss", "entropy")
        stats: dict[str, list[float]] = {k: [] for k in names}
        for _ in range(cfg.n_epochs):
            order = gen.permutation(n)
            for start in range(0, n, cfg.batch_size):
                idx = torch.as_tensor(order[start : start + cfg.batch_size])
                obs = t["obs"][idx]
                _, logp, entropy = self.net.act(obs, t["mask"][idx] if cfg.use_masks else None, t["action"][idx])
                ratio = torch.exp(logp - t["logp"][idx])
                a = t["adv"][idx]
                policy_loss = -torch.min(ratio * a, torch.clamp(ratio, 1 - cfg.clip_range, 1 + cfg.clip_range) * a)
                policy_loss = policy_loss.mean()
                v_r = self.net.reward_critic(obs)[:, 0]
                v_c = self.net.cost_critic(obs)[:, 0]
                reward_value_loss = ((v_r - t["ret_r"][idx]) ** 2).mean()
                cost_value_loss = ((v_c - t["ret_c"][idx]) ** 2).mean()
                loss = policy_loss - cfg.ent_coef * entropy.mean() + cfg.vf_coef * (reward_value_loss + cost_value_loss)
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                stats["policy_loss"].append(policy_loss.item())
                stats["reward_value_loss"].append(reward_value_loss.item())
                stats["cost_value_loss"].append(cost_value_loss.item())
                stats["entropy"].append(entropy.mean().item())
        return {k: float(np.mean(v)) for k, v in stats.items()}

    # --- the loop
    def learn(self, total_timesteps: int, callback: Callable[[PPOLagrangian, TrainLog], None] | None = None) -> None:
        """Train until ``num_timesteps >= total_timesteps`` (counted over all envs; resumable)."""
        assert self.num_envs, "learn() needs environments"
        if not self._obs:
            self._reset_all()
        while self.num_timesteps < total_timesteps:
            buf = self._collect()
            costs, rewards = buf["episode_costs"], buf["episode_rewards"]
            if len(costs):
                c = self.config
                self.lam = update_multiplier(self.lam, float(costs.mean()), c.cost_limit, c.lambda_lr, c.lambda_max)
            losses = self._update(buf)
            log = TrainLog(
                self.num_timesteps,
                self.lam,
                float(rewards.mean()) if len(rewards) else None,
                float(costs.mean()) if len(costs) else None,
                losses,
            )
            if callback is not None:
                callback(self, log)

    # --- persistence
    def save(self, path: str | Path, with_optimizer: bool = True) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "format": FORMAT,
            "config": asdict(self.config),
            "seed": self.seed,
            "obs_space": {k: list(s.shape) for k, s in self._shapes.items()},
            "nvec": self.nvec,
            "lam": self.lam,
            "num_timesteps": self.num_timesteps,
            "net": self.net.state_dict(),
            "saved_at": time.time(),
        }
        if with_optimizer:
            state["optimizer"] = self.optimizer.state_dict()
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(state, tmp)
        tmp.replace(path)  # a crash mid-save never leaves a broken model behind
        return path

    @classmethod
    def load(cls, path: str | Path, envs: Sequence[gym.Env] | VectorEnv | None = None) -> PPOLagrangian:
        """A saved model; with ``envs`` it can go on learning where it stopped."""
        # tensors, numbers, strings, lists and dicts only: a model file from elsewhere runs no code
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"{path}: not a PPO-Lagrangian model (format {FORMAT})")
        cfg = PPOLagConfig.from_dict(state["config"])
        shapes = {k: gym.spaces.Box(-np.inf, np.inf, tuple(v), np.float32) for k, v in state["obs_space"].items()}
        model = cls(envs, cfg, state["seed"], obs_space=gym.spaces.Dict(shapes), nvec=state["nvec"])
        space = envs.single_action_space if isinstance(envs, VectorEnv) else envs[0].action_space if envs else None
        if space is not None and [int(n) for n in space.nvec] != state["nvec"]:
            raise ValueError(f"{path}: model has action sizes {state['nvec']}, env {list(space.nvec)}")
        model.net.load_state_dict(state["net"])
        if "optimizer" in state:
            model.optimizer.load_state_dict(state["optimizer"])
        model.lam = float(state["lam"])
        model.num_timesteps = int(state["num_timesteps"])
        return model
