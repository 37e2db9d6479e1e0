"""The envs as other RL libraries take them: safe-RL tuples, and (where installed) TorchRL,
skrl, SuperSuit and RLlib."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rrm_gym  # noqa: F401
from rrm_gym.envs import SafetyGymnasiumWrapper, SafetyVectorWrapper


@pytest.mark.parametrize("mode", ["vector_entry_point", "sync"])
def test_the_vector_safety_wrapper_returns_each_sub_envs_cost_as_its_info_says(mode):
    base = gym.make_vec("rrm_gym/FastLoop-v1", num_envs=3, vectorization_mode=mode, scenario="office", episode_steps=3)
    env = SafetyVectorWrapper(base)
    env.reset(seed=0)
    env.action_space.seed(0)
    seen = []
    for _ in range(7):
        obs, rewards, costs, terminated, truncated, infos = env.step(env.action_space.sample())
        assert costs.shape == (3,) and costs.dtype == np.float64 and rewards.shape == (3,)
        given = np.asarray(infos.get("_cost", np.ones(3, bool)), bool)
        assert np.array_equal(costs[given], np.asarray(infos["cost"], float)[given]) and not costs[~given].any()
        seen.append(costs.sum())
    assert sum(seen) > 0  # random power steps draw shield cost at some point


def test_the_single_safety_wrapper_returns_the_cost_as_the_third_element():
    env = SafetyGymnasiumWrapper(gym.make("rrm_gym/FastLoop-v1", scenario="office", episode_steps=2))
    env.reset(seed=0)
    obs, reward, cost, terminated, truncated, info = env.step(env.action_space.sample())
    assert cost == info["cost"] and isinstance(cost, float)
