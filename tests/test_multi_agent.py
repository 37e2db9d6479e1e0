"""The PettingZoo ParallelEnv: each AP an agent over the single-agent envs."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test
from pettingzoo.utils.conversions import parallel_to_aec

import rrm_gym  # noqa: F401
from rrm_gym.envs import RRMParallelEnv, parallel_env
from rrm_gym.envs.multi_agent import ENV_IDS


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pettingzoo_parallel_api_test_passes_without_warnings(env_id):
    env = parallel_env(env_id, episode_steps=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=5)
    assert env.agents == []  # the episode ended: every agent truncated at once


def test_pettingzoo_seed_test_and_aec_conversion_pass():
    parallel_seed_test(lambda: parallel_env("rrm_gym/FastLoop-v2", episode_steps=4), num_cycles=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AEC conversion of a parallel env warns about its own wrapper
        api_test(parallel_to_aec(parallel_env("rrm_gym/FastLoop-v2", episode_steps=3)), num_cycles=5)
        # the AEC test samples with info["action_mask"]: Joint's is a tuple per entry when nested
        api_test(parallel_to_aec(parallel_env("rrm_gym/Joint-v2", episode_steps=3, info="nested")), num_cycles=5)


@pytest.mark.parametrize("info", ["flat", "nested"])
def test_action_mask_is_what_sample_takes_for_every_env(info):
    for env_id in ENV_IDS:
        par = parallel_env(env_id, episode_steps=3, info=info)
        _, infos = par.reset(seed=0)
        while par.agents:
            for agent in par.agents:
                mask, seen = par.action_mask(agent), infos[agent]["action_mask"]
                if info == "nested" or not isinstance(mask, tuple):
                    assert type(seen) is type(mask)
                joined = np.concatenate(mask) if isinstance(mask, tuple) else mask
                np.testing.assert_array_equal(joined, np.concatenate(seen) if isinstance(seen, tuple) else seen)
            actions = {a: par.action_space(a).sample(mask=par.action_mask(a)) for a in par.agents}
            _, _, _, _, infos = par.step(actions)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_agents_acting_together_are_the_single_agent_env_step_for_step(env_id):
    par = parallel_env(env_id, episode_steps=4)
    single = gym.make(env_id, episode_steps=4).unwrapped
    obs, infos = par.reset(seed=3)
    sobs, sinfo = single.reset(seed=3)
    rng = np.random.default_rng(0)
    n = single.num_aps
    nvec = single.action_space.nvec
    for _ in range(3):
        flat = rng.integers(0, nvec)
        parts = len(nvec) // n
        actions = {f"ap_{i}": int(flat[i]) if parts == 1 else flat[[k * n + i for k in range(parts)]] for i in range(n)}
        obs, rewards, terms, truncs, infos = par.step(actions)
        sobs, sreward, sterm, strunc, sinfo = single.step(flat)
        for i in range(n):
            agent_obs = obs[f"ap_{i}"]
            assert par.observation_space(f"ap_{i}").contains(agent_obs)
            for key, value in sobs.items():
                expected = value if key in ("time_of_day", "channel_budget") else value[i]
                np.testing.assert_array_equal(agent_obs[key], expected)
            assert rewards[f"ap_{i}"] == sreward
            assert infos[f"ap_{i}"]["cost"] == sinfo["cost"]
        np.testing.assert_array_equal(par.state(), spaces.flatten(single.observation_space, sobs))
        assert par.state_space.contains(par.state())

    def unsigned(env):  # each env's log has its own random key: compare what was recorded
        return [{k: v for k, v in r.to_dict().items() if "signature" not in k} for r in env.event_loop.audit.records]

    assert unsigned(par) == unsigned(single)
    assert par.event_loop.audit.total > 0


def test_an_agents_mask_is_its_slice_of_the_flat_mask_and_what_the_shield_rejects():
    par = parallel_env("rrm_gym/Joint-v2", episode_steps=10, info="nested")
    par.reset(seed=1)
    u = par.rrm_env
    hold = {f"ap_{i}": np.array([u.current_channel_action()[i], u.current_power_action()[i]]) for i in range(u.num_aps)}
    # move AP 0 to another channel: its channel is then in cooldown (300 s) for the next steps
    first = dict(hold)
    choice = int((u.current_channel_action()[0] + 1) % par.action_space("ap_0").nvec[0])
    first["ap_0"] = np.array([choice, hold["ap_0"][1]])
    _, _, _, _, infos = par.step(first)
    channel_mask, power_mask = infos["ap_0"]["action_mask"]
    assert channel_mask.dtype == np.int8 and power_mask.dtype == np.int8
    flat = u.action_masks()
    np.testing.assert_array_equal(np.concatenate(par.action_mask("ap_0")), np.concatenate(infos["ap_0"]["action_mask"]))
    n = u.num_aps
    off = np.concatenate([[0], np.cumsum(u.action_space.nvec)])
    np.testing.assert_array_equal(channel_mask, flat[off[0] : off[1]])
    np.testing.assert_array_equal(power_mask, flat[off[n] : off[n + 1]])
    masked_out = np.flatnonzero(channel_mask == 0)
    assert len(masked_out) > 0  # the cooldown bars other channels
    for _ in range(20):  # gymnasium's masked sampling takes the agent's masks as they are
        c, p = par.action_space("ap_0").sample(mask=infos["ap_0"]["action_mask"])
        assert channel_mask[c] == 1 and power_mask[p] == 1
    hold = {f"ap_{i}": np.array([u.current_channel_action()[i], u.current_power_action()[i]]) for i in range(n)}
    second = dict(hold)
    second["ap_0"] = np.array([int(masked_out[0]), hold["ap_0"][1]])
    _, _, _, _, infos = par.step(second)
    assert infos["ap_0"]["shield"]["REJECTED"] == 1  # the masked-out choice is one the shield rejects
    assert infos["ap_0"]["cost_terms"]["shield_rejected"] == 1.0


def test_bad_actions_and_ids_are_clear_errors():
    with pytest.raises(ValueError, match="unknown env_id"):
        RRMParallelEnv("rrm_gym/Nope-v0")
    par = parallel_env("rrm_gym/FastLoop-v2", episode_steps=1)
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        par.step({a: 0 for a in par.possible_agents})
    par.reset(seed=0)
    full = {a: 0 for a in par.agents}
    with pytest.raises(ValueError, match=r"missing actions for \['ap_3'\]"):
        par.step({a: 0 for a in par.agents if a != "ap_3"})
    with pytest.raises(ValueError, match="unknown agents"):
        par.step({**full, "ap_99": 0})
    with pytest.raises(ValueError, match="action of ap_2"):
        par.step({**full, "ap_2": par.action_space("ap_2").n})
    with pytest.raises(ValueError, match="action of ap_1"):
        par.step({**full, "ap_1": 0.5})
    par.step(full)
    assert par.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        par.step(full)


def test_render_and_the_inspection_views():
    par = parallel_env("rrm_gym/FastLoop-v2", episode_steps=2, render_mode="rgb_array")
    par.reset(seed=0)
    frame = par.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert par.sim is par.rrm_env.sim and par.event_loop is par.rrm_env.event_loop
    par.event_loop.inject_interference_event(0)
    assert par.event_loop.counters()["events_by_source"].get("injected") == 1


def test_a_pickled_env_continues_exactly_as_the_original():
    import pickle

    par = parallel_env("rrm_gym/FastLoop-v2", episode_steps=3)
    par.reset(seed=0)
    copy = pickle.loads(pickle.dumps(par))
    actions = {a: par.action_space(a).n - 1 for a in par.agents}
    obs1, rew1, *_ = par.step(actions)
    obs2, rew2, *_ = copy.step(actions)
    assert rew1 == rew2
    assert all(np.array_equal(obs1[a][k], obs2[a][k]) for a in obs1 for k in obs1[a])


def test_flat_infos_are_one_level_of_numpy_values_with_the_same_keys_at_reset_and_every_step():
    par = parallel_env("rrm_gym/Joint-v2", episode_steps=3)
    _, infos = par.reset(seed=0)
    keys = set(infos["ap_0"])
    assert {"cost", "kpi/sle", "cost_terms/shield_rejected", "compliance/dfs_violations", "action_mask"} <= keys
    for _ in range(3):
        actions = {a: par.action_space(a).sample() for a in par.agents}
        _, _, _, _, infos = par.step(actions)
        for agent, info in infos.items():
            assert set(info) == keys
            assert all(isinstance(v, (np.generic, np.ndarray)) for v in info.values()), agent
            n = par.action_space(agent).nvec.sum()
            assert info["action_mask"].shape == (n,) and info["action_mask"].dtype == np.int8


def test_flat_observations_with_the_mask_inside_are_what_rllibs_masking_module_reads():
    par = parallel_env("rrm_gym/FastLoop-v2", episode_steps=3, observation="flat", action_mask_in_obs=True)
    obs, _ = par.reset(seed=0)
    for agent in par.agents:
        space = par.observation_space(agent)
        assert isinstance(space, spaces.Dict) and set(space.spaces) == {"observations", "action_mask"}
        assert isinstance(space["observations"], spaces.Box) and space["observations"].dtype == np.float32
        assert space.contains(obs[agent])
        np.testing.assert_array_equal(obs[agent]["action_mask"], par.action_mask(agent).astype(np.float32))
    flat_only = parallel_env("rrm_gym/FastLoop-v2", episode_steps=3, observation="flat")
    obs2, _ = flat_only.reset(seed=0)
    np.testing.assert_array_equal(obs2["ap_1"], obs["ap_1"]["observations"])


def test_own_rewards_are_each_aps_clients_experience_and_average_to_the_team_reward_by_clients():
    from rrm_gym.sim.sensing import client_utility

    own = parallel_env("rrm_gym/FastLoop-v2", scenario="enterprise", episode_steps=2, agent_reward="own")
    team = parallel_env("rrm_gym/FastLoop-v2", scenario="enterprise", episode_steps=2)
    own.reset(seed=4)
    team.reset(seed=4)
    actions = {a: own.action_space(a).sample() for a in own.agents}
    _, rewards, *_ = own.step(actions)
    _, team_rewards, *_ = team.step(actions)
    s = own.rrm_env._sensing
    active, ap = s.client_active[0], s.client_ap[0]
    counts = np.array([(active & (ap == i)).sum() for i in range(own.rrm_env.num_aps)])
    values = np.array([rewards[f"ap_{i}"] for i in range(len(counts))])
    assert len(set(np.round(values, 6))) > 1  # the APs' cells fare differently
    weighted = float((values * counts).sum() / counts.sum())
    assert weighted == pytest.approx(team_rewards["ap_0"], abs=1e-9)
    assert weighted == pytest.approx(float(client_utility(s)[0][active].mean()), abs=1e-9)
    with pytest.raises(ValueError, match="needs reward='experience'"):
        parallel_env("rrm_gym/FastLoop-v2", agent_reward="own", reward="pf")
    for bad in ({"observation": "image"}, {"agent_reward": "mine"}, {"info": "deep"}):
        with pytest.raises(ValueError):
            parallel_env("rrm_gym/FastLoop-v2", **bad)
