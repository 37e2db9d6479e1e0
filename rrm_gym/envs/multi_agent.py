"""Each AP an agent: the RRM environments as PettingZoo ``ParallelEnv`` s.

Needs PettingZoo (``pip install "rrm-gym[multiagent]"``); the rest of rrm_gym does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

try:
    from pettingzoo import ParallelEnv
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'rrm_gym.envs.multi_agent needs PettingZoo: pip install "rrm-gym[multiagent]" (or pettingzoo>=1.24)'
    ) from e

from rrm_gym.config import Scenario
from rrm_gym.envs.core import RRMEnv, check_bool, episode_over_message, flat_info, whole_numbers
from rrm_gym.envs.observation import NETWORK_KEYS
from rrm_gym.sim.sensing import client_utility

ENV_IDS = ("rrm_gym/FastLoop-v2", "rrm_gym/SlowLoop-v2", "rrm_gym/Joint-v2")


class RRMParallelEnv(ParallelEnv):
    """One of the RRM environments with every managed AP an agent (PettingZoo ``ParallelEnv``).

    The underlying single-agent env (``rrm_gym/FastLoop-v2``, ``SlowLoop-v2`` or ``Joint-v2``,
    built with the same keyword arguments) does the work: one step of this env is one step of
    that env with the agents' choices put together into its flat ``MultiDiscrete`` action, so
    every choice still goes through the shield, the event loop and the audit.

    **Agents** — ``"ap_0"`` ... ``"ap_{N-1}"``, in the scenario's AP order. All act every step.

    **Action space** of an agent — its AP's entries of the single-agent action: ``Discrete``
    (its power level for FastLoop, its channel choice for SlowLoop) or, for Joint,
    ``MultiDiscrete([channel choices, power levels])``.

    **Observation space** of an agent — with ``observation="dict"`` (the default) a ``Dict`` of
    its AP's rows of the single-agent observation: ``ap_features`` ``[F]``, ``neighbor_rssi``
    ``[N]`` (what this AP hears of each other AP), ``channel_scan`` ``[C]``, and the network's
    ``time_of_day`` ``[2]`` and ``channel_budget`` ``[1]`` (and ``current_channel`` with
    ``channel_onehot=True``); with ``observation="flat"`` the same values as one ``float32``
    ``Box`` (``gymnasium.spaces.flatten``, keys in sorted order), which SuperSuit's wrappers
    and RLlib's default encoders take. With
    ``action_mask_in_obs=True`` the observation is ``{"observations": <that>, "action_mask":
    Box(0, 1, (choices,))}``, the layout RLlib's action-masking module reads (for Joint the
    channel and power masks one after the other). :meth:`state` is the whole network's
    observation, flattened, for centralised critics (``state_space``).

    **Reward** — ``agent_reward="team"`` (the default): every agent gets the network's reward
    (the experience utility by default), the agents a team. ``agent_reward="own"``: each agent
    gets the experience utility of its own AP's clients with traffic (0 when it had none), so
    an AP answers for its cell; needs ``reward="experience"``. (The team reward is the mean over
    all clients, not the mean of the APs' own rewards.)

    **Info** of an agent — the single-agent ``info`` (``cost``, ``cost_terms``, ``kpi``,
    ``compliance``, ``shield``, ``events``, ``rollbacks``, ``audit_records``; the cost is the
    network's, shared like the team reward), with ``action_mask`` narrowed to the agent's own
    choices (true exactly for what the shield would accept; for Joint the channel and power
    masks one after the other with ``info="flat"``, as TorchRL reads it, and the tuple that
    ``MultiDiscrete.sample(mask=...)`` takes with ``info="nested"``; :meth:`action_mask` gives
    the sampling form in every mode). With ``info="flat"`` (the default) nested entries are spelt
    ``"kpi/sle"``, ``"cost_terms/rollbacks"``, ...: one level of numpy numbers and arrays, the
    same keys at reset and at every step, as TorchRL's PettingZoo wrapper needs;
    ``info="nested"`` keeps the single-agent layout.

    **Episode end** — when the single-agent episode ends, every agent is truncated at once
    and ``agents`` becomes empty, as PettingZoo expects.

    ``env.sim`` and ``env.event_loop`` are the simulation and the event loop (for inspection
    and for injecting events); ``env.rrm_env`` is the single-agent env.
    """

    metadata = {
        "name": "rrm_gym_parallel_v1",
        "render_modes": ["rgb_array", "ansi"],
        "render_fps": 2,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        env_id: str = "rrm_gym/FastLoop-v2",
        scenario: str | Path | Scenario = "office",
        *,
        observation: str = "dict",
        action_mask_in_obs: bool = False,
        agent_reward: str = "team",
        info: str = "flat",
        **kwargs: Any,
    ) -> None:
        if env_id not in ENV_IDS:
            raise ValueError(f"unknown env_id {env_id!r}; choose one of {ENV_IDS}")
        for name, value, allowed in (
            ("observation", observation, ("dict", "flat")),
            ("agent_reward", agent_reward, ("team", "own")),
            ("info", info, ("flat", "nested")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        check_bool("action_mask_in_obs", action_mask_in_obs)
        if agent_reward == "own" and kwargs.get("reward", "experience") != "experience":
            raise ValueError("agent_reward='own' is each AP's clients' experience utility: needs reward='experience'")
        self.observation_mode, self.action_mask_in_obs = observation, bool(action_mask_in_obs)
        self.agent_reward, self.info_format = agent_reward, info
        import rrm_gym  # noqa: F401  (registers the ids)

        inner = gym.make(env_id, scenario=scenario, disable_env_checker=True, **kwargs).unwrapped
        assert isinstance(inner, RRMEnv)
        self.rrm_env: RRMEnv = inner
        self.env_id = env_id
        self.render_mode = inner.render_mode
        n = inner.num_aps
        parts = int(inner.controls_channel) + int(inner.controls_power)
        self.possible_agents = [f"ap_{i}" for i in range(n)]
        self.agents: list[str] = []
        # agent i's entries of the flat action: channel choices of all APs come first, then powers
        self._columns = {agent: [k * n + i for k in range(parts)] for i, agent in enumerate(self.possible_agents)}
        nvec = inner.action_space.nvec
        self._mask_offsets = np.concatenate([[0], np.cumsum(nvec)])
        self._action_spaces = {
            agent: spaces.Discrete(int(nvec[cols[0]])) if parts == 1 else spaces.MultiDiscrete(nvec[cols])
            for agent, cols in self._columns.items()
        }
        full = inner.observation_space
        assert isinstance(full, spaces.Dict)
        self._full_space = full
        self._dict_space = self._agent_space(full)
        self._observation_spaces = {agent: self._space_of(agent) for agent in self.possible_agents}
        self.state_space = spaces.flatten_space(full)
        self._obs: dict[str, np.ndarray] | None = None

    @staticmethod
    def _agent_space(full: spaces.Dict) -> spaces.Dict:
        entries = {}
        for key, box in full.spaces.items():
            assert isinstance(box, spaces.Box)
            if key in NETWORK_KEYS:
                entries[key] = spaces.Box(box.low, box.high, box.shape, box.dtype)
            else:  # one row of a per-AP matrix
                entries[key] = spaces.Box(box.low[0], box.high[0], box.shape[1:], box.dtype)
        return spaces.Dict(entries)

    def _space_of(self, agent: str) -> spaces.Space:
        """The observation space of ``agent`` as the constructor's options shape it."""
        inner: spaces.Space = self._dict_space
        if self.observation_mode == "flat":
            inner = spaces.flatten_space(self._dict_space)
            inner = spaces.Box(inner.low.astype(np.float32), inner.high.astype(np.float32), dtype=np.float32)
        if not self.action_mask_in_obs:
            return inner
        choices = int(sum(self.rrm_env.action_space.nvec[c] for c in self._columns[agent]))
        mask = spaces.Box(0.0, 1.0, (choices,), dtype=np.float32)
        return spaces.Dict({"action_mask": mask, "observations": inner})

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Space:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_spaces[agent]

    # ------------------------------------------------------------------ views
    @property
    def sim(self) -> Any:
        return self.rrm_env.sim

    @property
    def event_loop(self) -> Any:
        return self.rrm_env.event_loop

    def state(self) -> np.ndarray:
        """The whole network's observation, flattened (``state_space``)."""
        if self._obs is None:
            raise RuntimeError("call reset() before state()")
        return spaces.flatten(self._full_space, self._obs)

    def action_mask(self, agent: str) -> np.ndarray | tuple[np.ndarray, ...]:
        """What the shield would accept of ``agent``'s choices now (``int8``, as gymnasium's
        ``sample(mask=...)`` takes it; a tuple per entry for Joint)."""
        flat = self.rrm_env.action_masks()
        return self._split_mask(agent, flat)

    def _split_mask(self, agent: str, flat: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        off = self._mask_offsets
        parts = tuple(flat[off[c] : off[c + 1]].astype(np.int8) for c in self._columns[agent])
        return parts[0] if len(parts) == 1 else parts

    # ------------------------------------------------------------------ API
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, Any]]]:
        obs, info = self.rrm_env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        self._obs = obs
        return self._split_obs(obs), self._split_info(info)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            raise RuntimeError(f"{episode_over_message(self.rrm_env.episode_steps)} (no agents left)")
        missing = [a for a in self.agents if a not in actions]
        unknown = [a for a in actions if a not in self._columns]
        if missing or unknown:
            raise ValueError(
                f"every agent acts each step: missing actions for {missing}, unknown agents {unknown}"
                if missing
                else f"unknown agents {unknown}; the agents are {self.possible_agents}"
            )
        nvec = self.rrm_env.action_space.nvec
        flat = np.zeros(len(nvec), dtype=np.int64)
        for agent, cols in self._columns.items():
            a = np.asarray(actions[agent])
            values = a.reshape(-1)
            shape_ok = a.shape == (len(cols),) or (len(cols) == 1 and a.shape == ())
            if not (shape_ok and whole_numbers(a) and np.all((values >= 0) & (values < nvec[cols]))):
                raise ValueError(f"action of {agent} must be in {self.action_space(agent)}; got {actions[agent]!r}")
            flat[cols] = values
        obs, reward, terminated, truncated, info = self.rrm_env.step(flat)
        self._obs = obs
        agents = self.agents
        observations, infos = self._split_obs(obs), self._split_info(info)
        if self.agent_reward == "own":
            own = self._own_rewards()
            rewards = {agent: own[i] for i, agent in enumerate(self.possible_agents) if agent in agents}
        else:
            rewards = dict.fromkeys(agents, float(reward))
        terminations = dict.fromkeys(agents, bool(terminated))
        truncations = dict.fromkeys(agents, bool(truncated))
        if terminated or truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def _own_rewards(self) -> list[float]:
        """Each AP's clients' experience utility over the last period (0 for an AP with none active)."""
        s = self.rrm_env._sensing
        utility, ap, active = client_utility(s)[0], s.client_ap[0], s.client_active[0]
        n = len(self.possible_agents)
        total = np.bincount(ap[active], weights=utility[active], minlength=n)
        count = np.bincount(ap[active], minlength=n)
        return (total / np.maximum(count, 1)).tolist()

    def _split_obs(self, obs: dict[str, np.ndarray]) -> dict[str, Any]:
        flat_mask = self.rrm_env.action_masks() if self.action_mask_in_obs else None
        out: dict[str, Any] = {}
        for i, agent in enumerate(self.possible_agents):
            one: Any = {k: (v if k in NETWORK_KEYS else v[i]) for k, v in obs.items()}
            if self.observation_mode == "flat":
                one = spaces.flatten(self._dict_space, one).astype(np.float32)
            if flat_mask is not None:
                one = {"action_mask": self._joined_mask(agent, flat_mask).astype(np.float32), "observations": one}
            out[agent] = one
        return out

    def _joined_mask(self, agent: str, flat: np.ndarray) -> np.ndarray:
        off = self._mask_offsets
        return np.concatenate([flat[off[c] : off[c + 1]] for c in self._columns[agent]])

    def _split_info(self, info: dict[str, Any]) -> dict[str, dict[str, Any]]:
        flat = info["action_mask"]
        out = {}
        shared = (
            flat_info({k: v for k, v in info.items() if k != "action_mask"}) if self.info_format == "flat" else None
        )
        for agent in self.possible_agents:
            if shared is not None:
                out[agent] = {**shared, "action_mask": self._joined_mask(agent, flat).astype(np.int8)}
            else:
                out[agent] = {**info, "action_mask": self._split_mask(agent, flat)}
        return out

    def render(self) -> np.ndarray | str | None:
        return self.rrm_env.render()

    def close(self) -> None:
        self.rrm_env.close()


def parallel_env(env_id: str = "rrm_gym/FastLoop-v2", **kwargs: Any) -> RRMParallelEnv:
    """``RRMParallelEnv(env_id, **kwargs)``: the PettingZoo convention's constructor."""
    return RRMParallelEnv(env_id, **kwargs)
