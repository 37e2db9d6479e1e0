"""Residual control: an agent that corrects a heuristic of its own loop instead of replacing it.

Per AP the agent answers one of ``2 + n`` choices, where ``n`` is that AP's number of choices in
the env's own encoding:

* ``0`` takes the heuristic's choice (``dca``'s channel, say);
* ``1`` keeps what the AP has now (its current channel, or power; "hold" in the fast loop's
  step encoding);
* ``k >= 2`` takes the env's choice ``k - 2``.

So a policy that always answers 0 *is* the heuristic, and one that learns where to answer
something else improves on it. The observation gains :data:`KEY`, per AP: whether the heuristic
would change the AP, and what it suggests (channel number / 165 and width / 160 of the slot, or
the power level's position in the radio's range). The action mask gains the mask of the
heuristic's choice and of the current one in front of the env's own.

:class:`ResidualAdapter` does the mapping for one bound env (training and evaluation share it);
:class:`ResidualWrapper` turns a single-network training env into the agent's encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from agents.baselines import CHANNEL_POLICIES, POWER_POLICIES, Baseline
from rrm_gym.radio.regulatory import SLOT_CHANNEL, SLOT_WIDTH_MHZ

KEY = "heuristic"  # the observation key the adapter adds
FEATURES = 3  # per AP: changes the AP, and two numbers that say what it suggests
FIRST_OWN = 2  # choices 0 and 1 are the heuristic's and the current one; the env's start here


class ResidualAdapter:
    """Maps between a loop's env encoding and the residual one over heuristic ``name``.

    ``loop`` is the loop the agent controls (``"slow"``: channels, ``"fast"``: power), which is not
    always the env's own (a slow-loop model is evaluated inside the fast-loop env)."""

    def __init__(self, name: str, loop: str, seed: int = 0) -> None:
        own = CHANNEL_POLICIES if loop == "slow" else POWER_POLICIES
        if name not in own:
            raise ValueError(f"residual: {name!r} is not a {loop}-loop heuristic; choose one of {sorted(own)}")
        self.name, self.loop = name, loop
        self.heuristic: Baseline = own[name](seed)
        self.env: Any = None

    def bind(self, env: Any, seed: int | None = None) -> ResidualAdapter:
        """Bind to an env (its unwrapped :class:`RRMEnv`), with a heuristic seeded afresh where
        ``seed`` is given (an episode's seed, as the benchmark seeds its heuristics); returns self."""
        if seed is not None:
            self.heuristic = type(self.heuristic)(seed)
        self.env = env
        self.heuristic.bind(env)
        return self

    @property
    def _step_mode(self) -> bool:
        return self.loop == "fast" and getattr(self.env, "power_mode", "level") == "step"

    def nvec(self) -> list[int]:
        """The env encoding's choices per AP (as a slow-loop model of this loop sees them)."""
        env = self.env
        if self.loop == "slow":
            return [len(s) for s in env.slots]
        return [3] * env.num_aps if self._step_mode else [len(p) for p in env.power_levels]

    def residual_nvec(self) -> list[int]:
        return [FIRST_OWN + n for n in self.nvec()]

    def current(self) -> np.ndarray:
        """The env-encoding choice that keeps every AP as it is, ``[N]``."""
        if self.loop == "slow":
            return self.env.current_channel_action()
        if self._step_mode:
            return np.ones(self.env.num_aps, dtype=np.int64)
        return self.env.current_power_action()

    def suggest(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> np.ndarray:
        """The heuristic's choice in the env's encoding, ``[N]``; ``info["action_mask"]`` is the
        env encoding's mask."""
        choice = np.asarray(self.heuristic(obs, info), dtype=np.int64)
        if self._step_mode:  # a level target becomes a step towards it
            choice = self.env.step_towards(choice)
        return choice

    def features(self, suggestion: np.ndarray, current: np.ndarray) -> np.ndarray:
        """What the observation's :data:`KEY` holds, ``[N, FEATURES]`` float32."""
        env, n = self.env, len(suggestion)
        out = np.zeros((n, FEATURES), dtype=np.float32)
        out[:, 0] = suggestion != current
        if self.loop == "slow":
            slots = np.array([env.slots[i][suggestion[i]] for i in range(n)])
            out[:, 1] = SLOT_CHANNEL[slots] / 165.0
            out[:, 2] = SLOT_WIDTH_MHZ[slots] / 160.0
        elif self._step_mode:
            out[:, 1] = suggestion / 2.0
        else:
            for i in range(n):
                levels = env.power_levels[i]
                span = levels[-1] - levels[0]
                out[i, 1] = (levels[suggestion[i]] - levels[0]) / span if span > 0 else 1.0
        return out

    def observation(self, obs: Mapping[str, np.ndarray], suggestion: np.ndarray, current: np.ndarray) -> dict:
        return {**obs, KEY: self.features(suggestion, current)}

    def mask(self, mask: np.ndarray, suggestion: np.ndarray, current: np.ndarray) -> np.ndarray:
        """The residual encoding's flat mask from the env encoding's flat ``mask``."""
        mask = np.asarray(mask, dtype=bool)
        parts, start = [], 0
        for i, n in enumerate(self.nvec()):
            own = mask[start : start + n]
            parts += [own[suggestion[i] : suggestion[i] + 1], own[current[i] : current[i] + 1], own]
            start += n
        return np.concatenate(parts)

    @staticmethod
    def action(residual: np.ndarray, suggestion: np.ndarray, current: np.ndarray) -> np.ndarray:
        """The env-encoding action of a residual one."""
        a = np.asarray(residual, dtype=np.int64)
        return np.where(a == 0, suggestion, np.where(a == 1, current, a - FIRST_OWN))

    @staticmethod
    def encode(action: np.ndarray, suggestion: np.ndarray, current: np.ndarray) -> np.ndarray:
        """The residual action of an env-encoding one: 0 where it is the heuristic's choice, else 1
        where it keeps the AP as it is, else the env's choice + 2 (so ``action`` inverts it)."""
        a = np.asarray(action, dtype=np.int64)
        return np.where(a == suggestion, 0, np.where(a == current, 1, a + FIRST_OWN))

    def observation_space(self, space: gym.spaces.Dict) -> gym.spaces.Dict:
        n = len(self.nvec())
        return gym.spaces.Dict({**space.spaces, KEY: gym.spaces.Box(0.0, 1.0, (n, FEATURES), np.float32)})


class ResidualWrapper(gym.Wrapper):
    """A single-network env of the agent's loop in the residual encoding over heuristic ``name``
    (``info["action_mask"]`` is the residual mask and ``info["env_action_mask"]`` the env's own;
    after a step, ``info["env_action"]`` is the action the env took)."""

    def __init__(self, env: gym.Env, name: str, seed: int = 0) -> None:
        super().__init__(env)
        u = env.unwrapped
        loop = "slow" if u.controls_channel and not u.controls_power else "fast"
        if u.controls_channel and u.controls_power:
            raise ValueError("residual control needs an env of one loop (FastLoop-v2 or SlowLoop-v2)")
        self.adapter = ResidualAdapter(name, loop, seed).bind(u)
        self.action_space = gym.spaces.MultiDiscrete(self.adapter.residual_nvec())
        self.observation_space = self.adapter.observation_space(env.observation_space)
        self._suggestion = self._current = np.zeros(0, dtype=np.int64)

    def _wrap(self, obs: dict, info: dict) -> tuple[dict, dict]:
        a = self.adapter
        self._current = a.current()
        self._suggestion = a.suggest(obs, info)
        mask = a.mask(info["action_mask"], self._suggestion, self._current)
        wrapped = {**info, "action_mask": mask, "env_action_mask": info["action_mask"]}
        return a.observation(obs, self._suggestion, self._current), wrapped

    def reset(self, **kwargs: Any) -> tuple[dict, dict]:
        return self._wrap(*self.env.reset(**kwargs))

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        a = np.asarray(action)
        if a.shape != self.action_space.shape or a.dtype.kind not in "iu" or not self.action_space.contains(a):
            nvec = list(self.action_space.nvec)
            raise ValueError(f"action must be {len(nvec)} integer choices with 0 <= a < {nvec}; got {action!r}")
        taken = self.adapter.action(action, self._suggestion, self._current)
        obs, reward, terminated, truncated, info = self.env.step(taken)
        obs, info = self._wrap(obs, info)
        return obs, reward, terminated, truncated, {**info, "env_action": taken}

    def encode(self, env_action: np.ndarray) -> np.ndarray:
        """The residual action that takes ``env_action`` now (for demonstrations of a heuristic)."""
        return self.adapter.encode(env_action, self._suggestion, self._current)

    def action_masks(self) -> np.ndarray:
        u = self.env.unwrapped
        return self.adapter.mask(u.action_masks(), self._suggestion, self._current)
