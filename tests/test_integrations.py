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
    base = gym.make_vec("rrm_gym/FastLoop-v2", num_envs=3, vectorization_mode=mode, scenario="office", episode_steps=3)
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
    env = SafetyGymnasiumWrapper(gym.make("rrm_gym/FastLoop-v2", scenario="office", episode_steps=2))
    env.reset(seed=0)
    obs, reward, cost, terminated, truncated, info = env.step(env.action_space.sample())
    assert cost == info["cost"] and isinstance(cost, float)


# ----------------------------------------------------------------------------- TorchRL

ENV_IDS = ("rrm_gym/FastLoop-v2", "rrm_gym/SlowLoop-v2", "rrm_gym/Joint-v2")


def _cost_reader(batch: tuple[int, ...] = ()):
    import torch
    from torchrl.data import Unbounded
    from torchrl.envs.libs.gym import default_info_dict_reader

    # info["cost"] is a float64 numpy scalar (an array of them in the batched env)
    return default_info_dict_reader(["cost"], spec=[Unbounded(shape=batch, dtype=torch.float64)])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_torchrl_gym_env_passes_its_spec_check_and_rolls_out_with_the_cost(env_id):
    from torchrl.envs import GymEnv, check_env_specs

    env = GymEnv(env_id, scenario="office", episode_steps=4).set_info_dict_reader(_cost_reader())
    check_env_specs(env)
    td = env.rollout(4)
    assert td.batch_size == (4,) and td["next", "cost"].dtype.is_floating_point
    assert bool(td["next", "truncated"][-1]) and (td["next", "cost"] >= 0).all()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_torchrl_wraps_the_batched_env_with_autoreset_disabled(env_id):
    from torchrl.envs import GymWrapper, check_env_specs

    venv = gym.make_vec(
        env_id, num_envs=3, vectorization_mode="vector_entry_point", scenario="office", episode_steps=3,
        autoreset_mode="Disabled",
    )  # fmt: skip
    env = GymWrapper(venv).set_info_dict_reader(_cost_reader((3,)))
    check_env_specs(env)
    td = env.rollout(5, break_when_any_done=False)  # past the end of an episode: TorchRL resets
    assert td.batch_size == (3, 5) and td["next", "cost"].shape == (3, 5)
    assert td["next", "truncated"][:, 2].all() and not td["next", "truncated"][:, 3].any()


def test_torchrl_pettingzoo_wrapper_takes_the_multi_agent_env_with_its_masks():
    from torchrl.envs import check_env_specs
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper

    from rrm_gym.envs import RRMParallelEnv

    env = PettingZooWrapper(RRMParallelEnv("rrm_gym/FastLoop-v2", scenario="office", episode_steps=3), use_mask=True)
    check_env_specs(env)
    td = env.rollout(3)
    group = next(iter(env.group_map))
    assert td.batch_size == (3,) and ("next", group, "info", "cost") in td.keys(True)
    assert td[group, "action_mask"].dtype == __import__("torch").bool


# ----------------------------------------------------------------------------- skrl, SuperSuit


def test_skrl_recognises_the_batched_env_as_a_gymnasium_vector_env():
    import torch
    from skrl.envs.wrappers.torch import wrap_env

    venv = gym.make_vec("rrm_gym/FastLoop-v2", num_envs=3, vectorization_mode="vector_entry_point", episode_steps=4)
    env = wrap_env(venv, wrapper="auto", verbose=False)
    assert type(env).__name__ == "GymnasiumWrapper" and env.num_envs == 3
    obs, _ = env.reset()
    actions = torch.as_tensor(np.stack([env.action_space.sample() for _ in range(3)]))
    obs, reward, terminated, truncated, _ = env.step(actions)
    assert obs.shape[0] == 3 and reward.shape == (3, 1) and truncated.shape == (3, 1)


def test_supersuit_takes_the_flat_multi_agent_env_and_vectorises_it_for_sb3():
    import supersuit as ss

    from rrm_gym.envs import RRMParallelEnv

    env = ss.dtype_v0(ss.flatten_v0(RRMParallelEnv(episode_steps=3, observation="flat")), np.float32)
    obs, _ = env.reset(seed=0)
    assert obs["ap_0"].dtype == np.float32 and obs["ap_0"].ndim == 1
    venv = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(RRMParallelEnv(episode_steps=3, observation="flat")),
        2, num_cpus=0, base_class="stable_baselines3",
    )  # fmt: skip
    n = RRMParallelEnv(episode_steps=3).rrm_env.num_aps
    assert venv.reset().shape == (2 * n, obs["ap_0"].shape[0])
