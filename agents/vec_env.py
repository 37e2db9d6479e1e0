"""Batched rrm_gym environments for stable-baselines3 and for the PPO-Lagrangian.

:class:`BatchedVecEnv` presents a Gymnasium ``VectorEnv`` with ``"SameStep"`` autoreset (such as
``gymnasium.make_vec("rrm_gym/FastLoop-v2", num_envs=B, autoreset_mode="SameStep")``) as an SB3
``VecEnv``: one call steps all B networks, and sb3-contrib's ``MaskablePPO`` finds
``action_masks`` through ``env_method``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from rrm_gym.envs.vector import env_info


class BatchedVecEnv(VecEnv):
    """An SB3 ``VecEnv`` over a natively batched Gymnasium ``VectorEnv`` (``"SameStep"`` autoreset).

    Per-env infos are the vector env's, unbatched, with ``"terminal_observation"`` and
    ``"TimeLimit.truncated"`` where an episode ended, as SB3 expects.
    """

    def __init__(self, venv: VectorEnv) -> None:
        mode = venv.metadata.get("autoreset_mode")
        if mode is not AutoresetMode.SAME_STEP:
            raise ValueError(f"BatchedVecEnv needs a vector env with autoreset_mode 'SameStep', got {mode!r}")
        self.venv = venv  # before the base class asks it for its render mode
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> Any:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        obs, info = self.venv.reset(seed=seed)
        self.reset_infos = [env_info(info, i) for i in range(self.num_envs)]
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        done = terminated | truncated
        final = info.get("final_info")
        infos = []
        for i in range(self.num_envs):
            if done[i]:
                one = env_info(final, i)
                one["terminal_observation"] = info["final_obs"][i]
                one["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            else:
                one = env_info(info, i)
            infos.append(one)
        return obs, reward.astype(np.float32), done, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: VecEnvIndices = None, **kwargs: Any) -> list[Any]:
        idx = list(self._get_indices(indices))
        if method_name == "action_masks":
            masks = self.venv.action_masks()
            return [masks[i] for i in idx]
        result = getattr(self.venv, method_name)(*args, **kwargs)
        return [result] * len(idx)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def _get_indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return list(indices)
