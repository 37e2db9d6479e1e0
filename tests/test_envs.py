"""Gymnasium environments (FastLoop, SlowLoop, Joint): API conformance, determinism, RL tooling,
action masks against the shield, ``info`` contents, DFS compliance under a random agent,
rendering, rewards, argument validation, the Safety-Gymnasium wrapper and the other loop's policy.

Most tests are parametrized over every registered id (``rrm_gym.envs.ENV_IDS``), as Minigrid does.
Episodes are kept short: SlowLoop runs with ``slow_period_s=600`` (10 fast periods per step)
unless a test is about the defaults.
"""

from __future__ import annotations

import importlib
import math
import pickle
import warnings
from collections import Counter
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.envs.registration import load_env_creator
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import SubprocVecEnv

import rrm_gym
from rrm_gym.config import Scenario, load_scenario, scenario_from_dict
from rrm_gym.envs import ENV_IDS, SafetyGymnasiumWrapper, register_envs
from rrm_gym.envs.core import DEFAULT_COST_WEIGHTS, EVENT_KEYS, KPI_KEYS
from rrm_gym.radio.regulatory import SLOT_CHANNEL, SLOT_WIDTH_MHZ
from rrm_gym.safety import ChangeRequest, CooldownConfig, EventLoopConfig, Outcome, RollbackConfig, ShieldConfig

ALL_IDS = list(ENV_IDS)
FAST, SLOW, JOINT = "rrm_gym/FastLoop-v2", "rrm_gym/SlowLoop-v2", "rrm_gym/Joint-v2"
CHANNEL_IDS = [SLOW, JOINT]  # the envs whose action includes the channel plan
SHORT_SLOW_PERIOD_S = 600  # SlowLoop steps of 10 fast periods instead of 60 keep the suite quick
COMPLIANCE_KEYS = ("dfs_violations", "cac_violation_s", "non_occupancy_violation_s", "eirp_violations", "radar_hits")
# Cooldowns longer than any episode here: every change made in a test keeps its AP's parameter
# locked, so masks have masked-out choices. The shield's limit on simultaneous channel changes
# couples APs and is deliberately not part of the per-AP masks: lifting it (frac 1.0) keeps it
# from interfering with the per-AP comparison.
LONG_COOLDOWN = EventLoopConfig(
    react_to_saturation=False,
    cooldown=CooldownConfig(channel_s=7200.0, width_s=7200.0, power_s=7200.0),
    shield=ShieldConfig(max_channel_change_frac=1.0),
)


# ----------------------------------------------------------------------------- helpers


def make(env_id: str, **kwargs: Any) -> gymnasium.Env:
    """``gymnasium.make`` with a short episode and a short SlowLoop step unless overridden."""
    return gymnasium.make(env_id, **{"episode_steps": 3, "slow_period_s": SHORT_SLOW_PERIOD_S, **kwargs})


def env_class(env_id: str) -> type:
    return load_env_creator(gymnasium.spec(env_id).entry_point)


def hold_action(env: gymnasium.Env) -> np.ndarray:
    """The action that keeps the current channel plan and (to the nearest 3 dB level) the powers."""
    u = env.unwrapped
    parts = ([u.current_channel_action()] if u.controls_channel else []) + (
        [u.current_power_action()] if u.controls_power else []
    )
    return np.concatenate(parts).astype(np.int64)


def random_actions(env: gymnasium.Env, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(env.action_space.nvec) for _ in range(count)]


def mask_offsets(env: gymnasium.Env) -> np.ndarray:
    nvec = env.action_space.nvec
    return np.concatenate([[0], np.cumsum(nvec)[:-1]])


def shield_acceptance(env: gymnasium.Env) -> np.ndarray:
    """For every AP and every choice of the env's encoding, in ``action_masks()`` order: whether the
    shield would accept the corresponding change request now (``Shield.check`` applies nothing)."""
    u = env.unwrapped
    shield, now = u.event_loop.shield, u.sim.time_s
    accepted = []
    if u.controls_channel:
        for ap in range(u.num_aps):
            for slot in u.slots[ap]:
                req = ChangeRequest(ap, int(SLOT_CHANNEL[slot]), int(SLOT_WIDTH_MHZ[slot]), loop=u.agent_loop)
                accepted.append(shield.check(req, now).outcome is not Outcome.REJECTED)
    if u.controls_power:
        for ap in range(u.num_aps):
            for level in u.power_levels[ap]:
                req = ChangeRequest(ap, power_dbm=float(level), loop=u.agent_loop)
                accepted.append(shield.check(req, now).outcome is not Outcome.REJECTED)
    return np.array(accepted, dtype=bool)


def assert_mask_matches_shield(env: gymnasium.Env) -> np.ndarray:
    """Mask bits equal the shield's verdicts (computed before the shield checks run); the mask."""
    mask = env.unwrapped.action_masks()
    accepted = shield_acceptance(env)
    wrong = np.flatnonzero(mask != accepted)
    assert wrong.size == 0, f"mask disagrees with the shield at flat indices {wrong.tolist()[:20]}"
    return mask


def assert_tree_equal(a: Any, b: Any, where: str = "") -> None:
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_tree_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_tree_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def rollout(env_id: str, seed: int, actions: list[np.ndarray]) -> list[tuple]:
    env = make(env_id, episode_steps=len(actions), info_audit_ids=True)
    obs, info = env.reset(seed=seed)
    out = [(obs, None, info)]
    for a in actions:
        obs, reward, _, _, info = env.step(a)
        out.append((obs, reward, info))
    return out


def high_power_etsi_site() -> Scenario:
    """``dfs_site`` with 29 dBm radios, those on 100-140 (30 dBm EIRP) running at 26 dBm: more than
    the 23 dBm EIRP limit of channels 36-64, so moving there means clipping their power."""
    d = load_scenario("dfs_site").model_dump()
    for ap in d["aps"]:
        ap["max_power_dbm"] = 29.0
        if ap["channel"] >= 100:
            ap["power_dbm"] = 26.0
    return scenario_from_dict(d)


# ----------------------------------------------------------------------------- 1. API checkers


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_env_checker_passes_without_warnings(env_id):
    env = gymnasium.make(env_id, episode_steps=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gymnasium_check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_env_checker_passes_with_only_the_2d_observation_advice(env_id):
    env = gymnasium.make(env_id, episode_steps=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    # SB3 advises flattening 2-D Box observations; MultiInputPolicy flattens them itself.
    other = [str(w.message) for w in caught if "unconventional shape" not in str(w.message)]
    assert other == []


# ----------------------------------------------------------------------------- 2. determinism


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_seed_and_actions_give_identical_trajectories(env_id):
    actions = random_actions(make(env_id), 3, seed=7)
    first, second = rollout(env_id, 11, actions), rollout(env_id, 11, actions)
    for t, ((o1, r1, i1), (o2, r2, i2)) in enumerate(zip(first, second, strict=True)):
        assert_tree_equal(o1, o2, f"step {t} obs")
        assert r1 == r2
        assert_tree_equal(i1, i2, f"step {t} info")
    assert any(info["audit_ids"] for _, _, info in first)  # the audit ids compared are not all empty


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_different_seeds_give_different_trajectories(env_id):
    actions = random_actions(make(env_id), 3, seed=7)
    a, b = rollout(env_id, 11, actions), rollout(env_id, 12, actions)
    assert not np.array_equal(a[0][0]["ap_features"], b[0][0]["ap_features"])
    assert [r for _, r, _ in a[1:]] != [r for _, r, _ in b[1:]]
    assert [i["kpi"] for _, _, i in a] != [i["kpi"] for _, _, i in b]


# ----------------------------------------------------------------------------- 3. pickling


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("steps_before", [0, 1])
def test_pickled_env_steps_exactly_like_the_original(env_id, steps_before):
    env = make(env_id, episode_steps=4, event_loop=LONG_COOLDOWN)
    env.reset(seed=3)
    actions = random_actions(env, steps_before + 2, seed=5)
    for a in actions[:steps_before]:
        env.step(a)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.unwrapped is not env.unwrapped
    np.testing.assert_array_equal(clone.unwrapped.action_masks(), env.unwrapped.action_masks())
    for a in actions[steps_before:]:
        o1, r1, te1, tr1, i1 = env.step(a)
        o2, r2, te2, tr2, i2 = clone.step(a)
        assert_tree_equal(o1, o2, "obs")
        assert (r1, te1, tr1) == (r2, te2, tr2)
        assert_tree_equal(i1, i2, "info")


# ----------------------------------------------------------------------------- 4. subprocess vec env


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_subproc_vec_env_with_forkserver_builds_and_steps(env_id):
    # forkserver workers start from a fresh interpreter: the "rrm_gym:" prefix makes gymnasium
    # import (and so register) rrm_gym there.
    vec = SubprocVecEnv(
        [lambda: gymnasium.make(f"rrm_gym:{env_id}", episode_steps=3, slow_period_s=SHORT_SLOW_PERIOD_S)] * 2,
        start_method="forkserver",
    )
    try:
        local = make(env_id)
        assert vec.action_space == local.action_space
        vec.seed(0)
        obs = vec.reset()
        assert obs["ap_features"].shape == (2, *local.observation_space["ap_features"].shape)
        masks = vec.env_method("action_masks")
        assert [m.shape for m in masks] == [(int(local.action_space.nvec.sum()),)] * 2
        rng = np.random.default_rng(0)
        for t in range(3):
            obs, rewards, dones, infos = vec.step(np.stack([rng.integers(local.action_space.nvec) for _ in range(2)]))
            assert rewards.shape == (2,) and np.isfinite(rewards).all()
            assert dones.tolist() == [t == 2] * 2
        assert all(i["TimeLimit.truncated"] for i in infos)
        assert all(local.observation_space.contains(i["terminal_observation"]) for i in infos)
    finally:
        vec.close()


# ----------------------------------------------------------------------------- 5. SB3 / sb3-contrib


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_ppo_learns_a_few_steps_and_predicts_actions_in_the_space(env_id):
    env = make(env_id, episode_steps=5)
    model = PPO("MultiInputPolicy", env, n_steps=32, batch_size=32, n_epochs=1, device="cpu", seed=0)
    model.learn(total_timesteps=64)
    obs, _ = env.reset(seed=1)
    for _ in range(2):
        action, _ = model.predict(obs, deterministic=False)
        assert env.action_space.contains(np.asarray(action, dtype=np.int64))
        obs, *_ = env.step(action)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_maskable_ppo_finds_the_env_masks_and_predicts_only_masked_in_actions(env_id):
    env = make(env_id, episode_steps=5, event_loop=LONG_COOLDOWN)
    model = MaskablePPO("MultiInputPolicy", env, n_steps=32, batch_size=32, n_epochs=1, device="cpu", seed=0)
    vec = model.get_env()
    assert is_masking_supported(vec)
    vec.reset()
    np.testing.assert_array_equal(get_action_masks(vec)[0], vec.envs[0].unwrapped.action_masks())
    model.learn(total_timesteps=64)

    offsets = mask_offsets(env)
    obs, _ = env.reset(seed=2)
    saw_masked_out = False
    for _ in range(4):
        mask = env.unwrapped.action_masks()
        saw_masked_out |= not mask.all()
        action, _ = model.predict(obs, action_masks=mask, deterministic=False)
        assert env.action_space.contains(np.asarray(action, dtype=np.int64))
        assert mask[offsets + action].all(), f"predicted {action} outside the mask"
        obs, *_ = env.step(action)
    assert saw_masked_out  # cooldowns after the first changes made the masks non-trivial


# ----------------------------------------------------------------------------- 6. masks == shield


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_action_mask_is_exactly_what_the_shield_accepts_after_reset_and_changes(env_id):
    env = make(env_id, episode_steps=4, event_loop=LONG_COOLDOWN)
    env.reset(seed=4)
    mask = assert_mask_matches_shield(env)
    assert mask.all()  # nothing has changed yet: no cooldown, no radar, every candidate is legal
    masked_out = []
    for a in random_actions(env, 3, seed=9):
        env.step(a)
        masked_out.append(int((~assert_mask_matches_shield(env)).sum()))
    # the first step's changes put their APs in cooldown: later choices of those APs are masked out
    assert masked_out[0] > 0


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_action_mask_matches_the_shield_on_the_office_with_default_cooldowns(env_id):
    env = make(env_id, episode_steps=4, event_loop=EventLoopConfig(shield=ShieldConfig(max_channel_change_frac=1.0)))
    env.reset(seed=5)
    for a in random_actions(env, 3, seed=1):
        env.step(a)
        assert_mask_matches_shield(env)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_radar_barred_channels_are_masked_out_and_rejected_by_the_shield(env_id):
    # dfs_site: radar on 52 at t = 300 s; APs 0 and 6 start there (40 MHz, 52+56)
    env = make(
        env_id,
        scenario="dfs_site",
        episode_steps=10,
        event_loop=EventLoopConfig(react_to_saturation=False, shield=ShieldConfig(max_channel_change_frac=1.0)),
    )
    u = env.unwrapped
    env.reset(seed=0)
    radar_events = 0
    while u.sim.time_s <= 300:
        _, _, _, _, info = env.step(hold_action(env))
        radar_events += info["events"]["DFS_RADAR"]
    assert radar_events > 0
    now = u.sim.time_s
    barred = u.event_loop.dfs.barred_slots(0, now)
    assert barred[[s for s in u.slots[0] if SLOT_CHANNEL[s] == 52]].all()
    mask = assert_mask_matches_shield(env)
    if not u.controls_channel:
        return
    offsets = mask_offsets(env)
    checked = 0
    for ap in range(u.num_aps):
        cur = int(u.sim.slot[0, ap])
        for i, slot in enumerate(u.slots[ap]):
            if barred[slot] and slot != cur:
                assert not mask[offsets[ap] + i], f"AP {ap} may pick barred slot {slot}"
                req = ChangeRequest(ap, int(SLOT_CHANNEL[slot]), int(SLOT_WIDTH_MHZ[slot]), loop=u.agent_loop)
                result = u.event_loop.shield.check(req, now)
                assert result.outcome is Outcome.REJECTED and "barred" in result.reason
                checked += 1
    assert checked >= u.num_aps  # every AP has at least one barred candidate


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_action_mask_matches_the_shield_when_a_channel_move_would_clip_a_power_in_cooldown(env_id):
    # Radios at 26 dBm on 100-140 (30 dBm EIRP). After a power change their power is in cooldown;
    # a move to 36-64 (23 dBm EIRP) would clip the power, which the shield counts as a power change
    # and rejects for the cooldown. The mask must say so too.
    env = make(env_id, scenario=high_power_etsi_site(), episode_steps=2, event_loop=LONG_COOLDOWN)
    u = env.unwrapped
    env.reset(seed=0)
    assert_mask_matches_shield(env)
    max_power = np.array([len(p) - 1 for p in u.power_levels])
    if env_id == SLOW:
        u.fast_policy = lambda obs, info: max_power  # the power change comes from the fast loop
        action = u.current_channel_action()
    elif env_id == JOINT:
        action = np.concatenate([u.current_channel_action(), max_power])
    else:
        action = max_power
    env.step(action)
    assert (u.sim.power_dbm[0] > 23.0).any()
    assert_mask_matches_shield(env)


# ----------------------------------------------------------------------------- 7. info contents


def assert_info_well_formed(env: gymnasium.Env, info: dict) -> None:
    u = env.unwrapped
    # numbers are numpy scalars (so that every library reads their dtype), arrays of fixed shape
    assert type(info["cost"]) is np.float64 and info["cost"] >= 0
    assert info["cost_terms"].keys() == DEFAULT_COST_WEIGHTS.keys()
    assert all(type(v) is np.float64 and v >= 0 for v in info["cost_terms"].values())
    assert info["cost"] == pytest.approx(sum(u.cost_weights[k] * v for k, v in info["cost_terms"].items()))
    assert info["kpi"].keys() == set(KPI_KEYS)
    assert all(type(v) is np.float64 and math.isfinite(v) for v in info["kpi"].values())
    assert set(COMPLIANCE_KEYS) <= info["compliance"].keys()
    assert all(type(v) is np.int64 and v >= 0 for v in info["compliance"].values())
    assert info["shield"].keys() == {o.value for o in Outcome}
    assert all(type(v) is np.int64 and v >= 0 for v in info["shield"].values())
    assert info["events"].keys() == set(EVENT_KEYS)
    assert all(type(v) is np.int64 and v >= 0 for v in info["events"].values())
    # every rollback of the period; the cost charges only those of this env's own changes
    assert type(info["rollbacks"]) is np.int64 and info["rollbacks"] >= info["cost_terms"]["rollbacks"]
    assert type(info["audit_records"]) is np.int64 and info["audit_records"] >= 0
    if u.info_audit_ids:  # the ids themselves, a list of varying length, only when asked for
        assert isinstance(info["audit_ids"], list) and len(info["audit_ids"]) == info["audit_records"]
        assert all(type(a) is str and a for a in info["audit_ids"])
    else:
        assert "audit_ids" not in info
    mask = info["action_mask"]
    assert isinstance(mask, np.ndarray) and mask.dtype == np.bool_
    assert mask.shape == (int(env.action_space.nvec.sum()),)
    np.testing.assert_array_equal(mask, u.action_masks())
    assert type(info["sim_time_s"]) is np.float64 and info["sim_time_s"] == u.sim.time_s


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_info_has_every_key_with_numeric_types_on_every_step_including_the_last(env_id):
    env = make(env_id, episode_steps=3, event_loop=LONG_COOLDOWN, info_audit_ids=True)
    u = env.unwrapped
    _, info = env.reset(seed=0)
    assert_info_well_formed(env, info)
    period = u.slow_period_s if env_id == SLOW else u.fast_period_s
    start, seen_ids, truncated = info["sim_time_s"], [], False
    for t, a in enumerate(random_actions(env, 3, seed=2), start=1):
        _, _, _, truncated, info = env.step(a)
        assert_info_well_formed(env, info)
        assert info["sim_time_s"] == start + t * period
        seen_ids += info["audit_ids"]
    assert truncated
    assert len(seen_ids) == len(set(seen_ids)) > 0


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_info_events_count_the_change_requests_submitted_in_the_step(env_id):
    # EVENT_KEYS include CHANGE_REQUEST; the agent's requests of a step are change-request events.
    env = make(env_id, episode_steps=2)
    env.reset(seed=0)
    _, _, _, _, info = env.step(random_actions(env, 1, seed=3)[0])
    requests = sum(info["shield"].values())
    assert requests > 0
    assert info["events"]["CHANGE_REQUEST"] == requests


# ----------------------------------------------------------------------------- 8. DFS compliance


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_random_agent_on_dfs_site_never_violates_dfs_or_eirp_and_meets_radar(env_id):
    steps = 6 if env_id == SLOW else 150  # SlowLoop: 6 x 600 s; the others 150 x 60 s
    env = make(env_id, scenario="dfs_site", episode_steps=steps)
    env.reset(seed=0)
    env.action_space.seed(0)
    radar_events = 0
    for _ in range(steps):
        _, _, _, _, info = env.step(env.action_space.sample())
        assert info["compliance"]["dfs_violations"] == 0, info["compliance"]
        assert info["compliance"]["eirp_violations"] == 0, info["compliance"]
        assert info["cost_terms"]["dfs_violations"] == info["cost_terms"]["eirp_violations"] == 0.0
        radar_events += info["events"]["DFS_RADAR"]
    assert radar_events > 0
    assert info["compliance"]["radar_hits"] > 0


# ----------------------------------------------------------------------------- 9. render


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_rgb_array_is_a_uint8_picture(env_id):
    env = make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(hold_action(env))
    img = env.render()
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8
    assert img.ndim == 3 and img.shape[2] == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 0  # not a blank canvas


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_ansi_names_every_ap(env_id):
    env = make(env_id, render_mode="ansi")
    env.reset(seed=0)
    texts = [env.render()]
    env.step(hold_action(env))
    texts.append(env.render())
    for text in texts:
        assert isinstance(text, str)
        for ap in env.unwrapped.scenario.aps:
            assert ap.name in text


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_without_render_mode_returns_none(env_id):
    env = make(env_id)
    env.reset(seed=0)
    assert env.render() is None


# ----------------------------------------------------------------------------- 10. rewards and arguments


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_reward_option_selects_the_matching_kpi_and_does_not_change_the_dynamics(env_id):
    kpi_of = {"pf": "pf_utility", "throughput": "throughput_mean_mbps", "p5": "throughput_p5_mbps"}
    actions = random_actions(make(env_id), 2, seed=4)
    kpis = {}
    for name, key in kpi_of.items():
        env = make(env_id, reward=name)
        env.reset(seed=6)
        kpis[name] = []
        for a in actions:
            _, reward, _, _, info = env.step(a)
            assert reward == info["kpi"][key]
            assert info["kpi"]["throughput_p5_mbps"] <= info["kpi"]["throughput_mean_mbps"]
            kpis[name].append(info["kpi"])
    assert kpis["pf"] == kpis["throughput"] == kpis["p5"]


BAD_KWARGS = [
    ({"reward": "latency"}, r"reward 'latency'"),
    ({"cost_weights": {"latency": 1.0}}, r"cost terms \['latency'\]"),
    ({"episode_steps": 0}, r"episode_steps"),
    ({"render_mode": "rgb"}, r"render_mode"),
    ({"fast_period_s": 60, "slow_period_s": 90}, r"slow_period_s 90 must be a multiple"),
    ({"fast_period_s": 120, "slow_period_s": 60}, r"fast_period_s <= slow_period_s"),
]


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize(("kwargs", "message"), BAD_KWARGS, ids=lambda x: str(x) if isinstance(x, dict) else "")
def test_bad_constructor_arguments_raise_value_error_naming_the_problem(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        env_class(env_id)(**kwargs)


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("kind", ["too_high", "negative", "too_long", "too_short", "non_integral"])
def test_out_of_space_action_raises_value_error(env_id, kind):
    env = make(env_id)
    env.reset(seed=0)
    nvec = env.action_space.nvec
    action = {
        "too_high": nvec.copy(),
        "negative": np.full(len(nvec), -1),
        "too_long": np.zeros(len(nvec) + 1, dtype=np.int64),
        "too_short": np.zeros(len(nvec) - 1, dtype=np.int64),
        "non_integral": np.full(len(nvec), 0.5),
    }[kind]
    assert not env.action_space.contains(action)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_step_before_reset_raises(env_id):
    with pytest.raises(RuntimeError, match="reset"):
        env_class(env_id)(episode_steps=2).step(np.zeros(1, dtype=np.int64))


# ----------------------------------------------------------------------------- 11. Safety-Gymnasium


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_safety_gymnasium_wrapper_returns_six_tuples_with_the_info_cost(env_id):
    env = SafetyGymnasiumWrapper(make(env_id, episode_steps=3, event_loop=LONG_COOLDOWN))
    reference = make(env_id, episode_steps=3, event_loop=LONG_COOLDOWN)
    env.reset(seed=1)
    reference.reset(seed=1)
    costs = []
    for a in random_actions(env, 3, seed=8):
        out = env.step(a)
        assert len(out) == 6
        obs, reward, cost, terminated, truncated, info = out
        ref_obs, ref_reward, ref_terminated, ref_truncated, _ = reference.step(a)
        assert type(cost) is float and cost == info["cost"]
        assert (reward, terminated, truncated) == (ref_reward, ref_terminated, ref_truncated)
        assert_tree_equal(obs, ref_obs)
        costs.append(cost)
    assert max(costs) > 0  # changes of APs in cooldown were rejected and cost something


# ----------------------------------------------------------------------------- 12. the other loop's policy


def slot_of_channel_policy(env: gymnasium.Env, channel: int) -> Any:
    """A slow-loop policy: every AP to ``channel`` at its current width where it has that slot."""
    u = env.unwrapped

    def policy(obs: Any, info: Any) -> np.ndarray:
        choice = u.current_channel_action()
        for ap in range(u.num_aps):
            s = u.slots[ap]
            hit = np.flatnonzero((SLOT_CHANNEL[s] == channel) & (SLOT_WIDTH_MHZ[s] == u.sim.width_mhz[0, ap]))
            if hit.size:
                choice[ap] = hit[0]
        return choice

    return policy


def test_fast_loop_slow_policy_moves_channels_within_the_simultaneous_change_limit():
    env = make(FAST, episode_steps=5, slow_period_s=120)  # the slow policy runs at steps 0, 2 and 4
    u = env.unwrapped
    u.slow_policy = slot_of_channel_policy(env, 149)
    env.reset(seed=0)
    before = u.sim.channel[0].copy()
    _, _, _, _, info = env.step(hold_action(env))
    moved = np.flatnonzero(u.sim.channel[0] != before)
    limit = u.event_loop.shield.max_channel_changes
    assert 1 <= moved.size <= limit
    assert (u.sim.channel[0, moved] == 149).all()
    # the slow loop's requests are not this (fast-loop) agent's: they cost it nothing
    assert sum(info["shield"].values()) == 0 and info["cost"] == 0.0
    for _ in range(4):
        env.step(hold_action(env))
    slow = [r for r in u.event_loop.audit.records if r.details.get("loop") == "slow"]
    applied = [r for r in slow if r.execution_status == "SUCCESS" and r.action_type == "CHANNEL_CHANGE"]
    per_instant = {t: sum(r.sim_time_s == t for r in applied) for t in {r.sim_time_s for r in slow}}
    assert sorted(per_instant) == [60.0, 180.0, 300.0]
    assert all(1 <= n <= limit for n in per_instant.values()), per_instant
    assert not any(r.execution_status == "REJECTED" for r in slow)
    assert all("budget spent" in r.reason for r in slow if r.execution_status == "DEFERRED")
    assert (u.sim.channel[0] == 149).sum() >= 3


def test_a_rollback_costs_the_loop_whose_change_was_undone_and_no_other():
    # thresholds no change can cross: only the manual rollbacks below happen
    never = RollbackConfig(retry_abs_increase=2.0, satisfaction_drop=2.0)
    env = make(FAST, episode_steps=5, event_loop=EventLoopConfig(react_to_saturation=False, rollback=never))
    u = env.unwrapped
    env.reset(seed=0)
    loop = u.event_loop
    action = hold_action(env)
    action[0] = 0  # the agent (fast loop) lowers AP 0's power
    env.step(action)
    agent_token = next(t for t, w in loop.rollbacks.history.items() if w.ap == 0)
    assert loop.rollbacks.history[agent_token].loop == "fast"
    loop.submit(ChangeRequest(1, power_dbm=float(u.power_levels[1][0]), loop="slow"))
    other_token = loop.last_token
    assert loop.rollbacks.history[other_token].loop == "slow"
    loop.rollback(other_token)
    _, _, _, _, info = env.step(hold_action(env))
    assert info["rollbacks"] == 1 and info["cost_terms"]["rollbacks"] == 0.0 and info["cost"] == 0.0
    loop.rollback(agent_token)
    _, _, _, _, info = env.step(hold_action(env))
    assert info["rollbacks"] == 1 and info["cost_terms"]["rollbacks"] == 1.0 and info["cost"] == 1.0
    assert loop.rollbacks.by_loop == {"fast": 1, "slow": 1}


def test_slow_loop_fast_policy_sets_every_ap_to_its_minimum_power():
    env = make(
        SLOW,
        episode_steps=2,
        fast_policy=lambda obs, info: np.zeros(10, dtype=np.int64),
        # no automatic rollback, which could restore an old power right at the end of the step
        event_loop=EventLoopConfig(react_to_saturation=False, auto_rollback=False),
    )
    u = env.unwrapped
    env.reset(seed=0)
    assert (u.sim.power_dbm[0] > u.sim.ap_min_power_dbm).all()
    _, _, _, _, info = env.step(hold_action(env))
    np.testing.assert_array_equal(u.sim.power_dbm[0], u.sim.ap_min_power_dbm)
    assert sum(info["shield"].values()) == 0  # fast-loop requests are not the slow agent's


@pytest.mark.parametrize(
    ("env_id", "policy_arg", "bad"),
    [
        (FAST, "slow_policy", np.zeros(3, dtype=np.int64)),
        (FAST, "slow_policy", np.full(10, 10_000)),
        (SLOW, "fast_policy", np.zeros(11, dtype=np.int64)),
        (SLOW, "fast_policy", np.full(10, -1)),
        (SLOW, "fast_policy", np.full(10, 0.9)),  # not a choice: refused, not truncated to 0
        (FAST, "slow_policy", [1.5] * 10),
    ],
)
def test_other_loop_policy_returning_a_wrong_shape_or_range_raises_value_error(env_id, policy_arg, bad):
    env = make(env_id, **{policy_arg: lambda obs, info: bad})
    env.reset(seed=0)
    with pytest.raises(ValueError, match=policy_arg):
        env.step(hold_action(env))
    # the step stopped part-way (a slow agent's channels went in first): refused until reset
    with pytest.raises(RuntimeError, match=rf"failed part-way \(ValueError: {policy_arg}.*call reset\(\)"):
        env.step(hold_action(env))
    env.unwrapped.__dict__[policy_arg] = None
    env.reset(seed=0)
    env.step(hold_action(env))


def test_a_step_after_a_failed_one_is_refused_and_reset_gives_a_clean_episode():
    calls = {"n": 0}

    def flaky(obs, info):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("policy server down")
        return np.ones(10, dtype=np.int64)

    env = make(SLOW, episode_steps=2, fast_policy=flaky).unwrapped
    ref = make(SLOW, episode_steps=2, fast_policy=lambda o, i: np.ones(10, dtype=np.int64)).unwrapped
    action = np.array([len(s) - 1 for s in env.slots])
    env.reset(seed=1)
    with pytest.raises(RuntimeError, match="policy server down"):
        env.step(action)
    with pytest.raises(RuntimeError, match="failed part-way"):
        env.step(action)
    for e in (env, ref):
        e.reset(seed=1)
    obs, reward, *_, info = env.step(action)
    obs_ref, reward_ref, *_, info_ref = ref.step(action)
    assert reward == reward_ref and info["shield"] == info_ref["shield"]
    assert all(np.array_equal(obs[k], obs_ref[k]) for k in obs)


# ----------------------------------------------------------------------------- 13. episode end


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_truncates_after_episode_steps_and_never_terminates(env_id):
    env = make(env_id, episode_steps=3)
    for seed in (0, 1):  # and again after a reset
        env.reset(seed=seed)
        flags = [env.step(hold_action(env))[2:4] for _ in range(3)]
        assert flags == [(False, False), (False, False), (False, True)]


# ----------------------------------------------------------------------------- 14. registration


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_make_with_module_prefix_builds_the_registered_env(env_id):
    env = gymnasium.make(f"rrm_gym:{env_id}", episode_steps=2)
    assert type(env.unwrapped) is env_class(env_id)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_importing_twice_and_registering_twice_is_harmless():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(rrm_gym)
        register_envs()
        register_envs()
    for env_id, entry_point in ENV_IDS.items():
        assert gymnasium.spec(env_id).entry_point == entry_point
    assert gymnasium.make(FAST, episode_steps=1).unwrapped.episode_steps == 1


# ----------------------------------------------------------------------------- step power actions
def test_step_power_mode_moves_each_ap_one_level_down_holds_or_up():
    env = gymnasium.make("rrm_gym/FastLoop-v2", scenario="office", power_mode="step")
    u = env.unwrapped
    env.reset(seed=3)
    assert list(env.action_space.nvec) == [3] * u.num_aps
    start = u.sim.power_dbm[0].copy()
    idx = u.current_power_action()
    # AP 0 down, AP 1 holds, the rest up (where a level above exists)
    action = np.full(u.num_aps, 2)
    action[0], action[1] = 0, 1
    env.step(action)
    after = u.sim.power_dbm[0]
    assert after[0] == u.power_levels[0][idx[0] - 1] < start[0]
    assert after[1] == start[1]
    for ap in range(2, u.num_aps):
        top = len(u.power_levels[ap]) - 1
        assert after[ap] == u.power_levels[ap][min(idx[ap] + 1, top)]


def test_step_power_mode_masks_steps_past_the_ends_of_the_power_range():
    env = gymnasium.make("rrm_gym/FastLoop-v2", scenario="office", power_mode="step")
    u = env.unwrapped
    env.reset(seed=3)
    for _ in range(12):  # walk every AP down to its minimum, one step a minute
        env.step(np.zeros(u.num_aps, dtype=np.int64))
    np.testing.assert_allclose(u.sim.power_dbm[0], [lv[0] for lv in u.power_levels])
    mask = u.action_masks().reshape(u.num_aps, 3)
    assert not mask[:, 0].any() and mask[:, 1].all() and mask[:, 2].all()


def test_unknown_power_mode_is_a_value_error_naming_the_choices():
    with pytest.raises(ValueError, match="power_mode must be one of"):
        gymnasium.make("rrm_gym/FastLoop-v2", scenario="office", power_mode="delta")


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_channel_onehot_observation_marks_each_aps_current_channel_choice(env_id):
    # rollback thresholds no change crosses: the move below stands whatever it does to the KPIs
    never = EventLoopConfig(
        react_to_saturation=False, rollback=RollbackConfig(retry_abs_increase=2, satisfaction_drop=2)
    )
    env = make(env_id, channel_onehot=True, episode_steps=2, event_loop=never)
    gymnasium_check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    u = env.unwrapped
    assert env.observation_space.contains(obs)
    assert obs["current_channel"].shape == (u.num_aps, max(len(s) for s in u.slots))
    assert (obs["current_channel"].sum(axis=1) == 1).all()
    assert np.array_equal(obs["current_channel"].argmax(axis=1), u.current_channel_action())
    # move AP 0 to another channel of its width; the one-hot follows
    slots = u.slots[0]
    target = next(s for s in slots if SLOT_WIDTH_MHZ[s] == u.sim.width_mhz[0, 0] and s != u.sim.slot[0, 0])
    u.event_loop.submit(ChangeRequest(0, int(SLOT_CHANNEL[target]), int(SLOT_WIDTH_MHZ[target])))
    obs, *_ = env.step(hold_action(env))
    assert obs["current_channel"][0].argmax() == u.slot_action(0, int(target)) == u.current_channel_action()[0]
    assert "current_channel" not in make(env_id).observation_space.spaces  # off by default


@pytest.mark.parametrize("name", ["FastLoop", "SlowLoop", "Joint"])
@pytest.mark.parametrize("version", ["v0", "v1"])
def test_a_retired_id_is_a_clear_error_that_names_v2_and_what_changed(name, version):
    old = f"rrm_gym/{name}-{version}"
    with pytest.raises(gymnasium.error.DeprecatedEnv, match=f"rrm_gym.{name}-v2") as err:
        gymnasium.make(old)
    assert ("channel-change budget" if version == "v1" else "radio physics") in str(err.value)
    with pytest.raises(gymnasium.error.DeprecatedEnv, match="retired"):
        gymnasium.make_vec(old, num_envs=2)


def masked_random_action(env: gymnasium.Env, info: dict, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random choice among those ``info["action_mask"]`` allows, per AP."""
    parts = np.split(info["action_mask"], np.cumsum(env.action_space.nvec)[:-1])
    return np.array([rng.choice(np.flatnonzero(m)) for m in parts])


@pytest.mark.parametrize("scenario", ["office", "enterprise"])
@pytest.mark.parametrize("env_id", CHANNEL_IDS)
def test_a_masked_agent_has_no_shield_cost(env_id, scenario):
    """Random choices within the masks ask far more channel changes than the budget allows: the
    excess is deferred and not charged, so the shield costs such an agent nothing."""
    env = make(env_id, scenario=scenario, episode_steps=6)
    u = env.unwrapped
    budget = u.event_loop.shield.max_channel_changes
    rng = np.random.default_rng(7)
    obs, info = env.reset(seed=3)
    deferred = 0
    for _ in range(6):
        left = int(info["channel_changes_left"])
        assert obs["channel_budget"][0] == np.float32(left / u.num_aps)
        obs, _, _, _, info = env.step(masked_random_action(env, info, rng))
        assert info["cost_terms"]["shield_rejected"] == 0 and info["cost_terms"]["shield_modified"] == 0
        assert int(info["shield"]["REJECTED"]) == int(info["shield"]["MODIFIED"]) == 0
        deferred += int(info["shield"]["DEFERRED"])
        if env_id == SLOW:  # one decision per step, the plan's changes at its first instant
            assert int(info["shield"]["APPLIED"]) <= left <= budget
    assert deferred > 0  # the budget did bind
    statuses = {r.execution_status for r in u.event_loop.audit.records if r.details.get("loop") == u.agent_loop}
    assert "REJECTED" not in statuses and "DEFERRED" in statuses


def test_a_plan_past_the_budget_moves_the_lowest_numbered_aps_and_defers_the_rest():
    quiet = EventLoopConfig(react_to_saturation=False, react_to_interference=False, auto_rollback=False)
    env = make(SLOW, event_loop=quiet)
    u = env.unwrapped
    obs, info = env.reset(seed=0)
    budget = u.event_loop.shield.max_channel_changes
    assert 1 <= budget < u.num_aps
    assert int(info["channel_changes_left"]) == budget
    assert obs["channel_budget"][0] == np.float32(budget / u.num_aps)
    # someone else (here a person) moves AP 0 at this instant: one change of the budget is spent
    slots = u.slots[0]
    other = next(int(s) for s in slots if s != u.sim.slot[0, 0] and SLOT_WIDTH_MHZ[s] == u.sim.width_mhz[0, 0])
    u.event_loop.submit(ChangeRequest(0, int(SLOT_CHANNEL[other]), int(SLOT_WIDTH_MHZ[other])))
    assert int(u.event_loop.shield.channel_changes_left(u.sim.time_s)[0]) == budget - 1
    assert u._observe()["channel_budget"][0] == np.float32((budget - 1) / u.num_aps)
    # every other AP asks to move (within its mask)
    mask, off = u.action_masks(), mask_offsets(env)
    here = u.current_channel_action()
    action = here.copy()
    for ap in range(1, u.num_aps):
        allowed = np.flatnonzero(mask[off[ap] : off[ap] + len(u.slots[ap])])
        action[ap] = next(int(c) for c in allowed if c != here[ap])
    before = u.sim.slot[0].copy()
    _, _, _, _, info = env.step(action)
    moved = np.flatnonzero(u.sim.slot[0] != before)
    assert moved.tolist() == list(range(1, budget))  # the lowest-numbered askers, up to what was left
    assert int(info["shield"]["APPLIED"]) == budget - 1
    assert int(info["shield"]["DEFERRED"]) == u.num_aps - budget
    assert info["cost"] == 0.0
    deferred = [r for r in u.event_loop.audit.records if r.execution_status == "DEFERRED"]
    assert sorted(r.ap_id for r in deferred) == list(range(budget, u.num_aps))
    assert all("budget spent" in r.reason for r in deferred)
    # the next decision instant has the whole budget again
    assert int(info["channel_changes_left"]) == budget


def test_the_event_loops_own_move_at_the_decision_instant_spends_the_budget_the_observation_shows():
    env = make(SLOW, event_loop=EventLoopConfig(react_to_saturation=False, auto_rollback=False))
    u = env.unwrapped
    env.reset(seed=0)
    budget = u.event_loop.shield.max_channel_changes
    before = u.sim.slot[0].copy()
    # interference on AP 0, reported now: the loop moves it away at this instant (not an emergency)
    u.event_loop.inject_interference_event(0, kind="microwave", duty_cycle=0.9, confidence=0.95)
    assert u.sim.slot[0, 0] != before[0]
    assert u._observe()["channel_budget"][0] == np.float32((budget - 1) / u.num_aps)
    info = u._make_info(u._sensing, [], [], Counter(), u._reward_terms(u._sensing))
    assert info["channel_changes_left"] == budget - 1


def test_the_batched_env_reports_each_networks_channel_budget():
    venv = gymnasium.make_vec(SLOW, num_envs=3, episode_steps=2, slow_period_s=SHORT_SLOW_PERIOD_S)
    u = venv.unwrapped if hasattr(venv, "unwrapped") else venv
    obs, info = venv.reset(seed=0)
    budget = u.event_loop.shield.max_channel_changes
    assert obs["channel_budget"].shape == (3, 1)
    assert info["channel_changes_left"].tolist() == [budget] * 3
    rng = np.random.default_rng(0)
    masks = u.action_masks()
    actions = np.stack([masked_random_action(u.template, {"action_mask": masks[b]}, rng) for b in range(3)])
    _, _, _, _, info = venv.step(actions)
    assert (info["cost"] == 0).all() and (info["shield"]["REJECTED"] == 0).all()
    assert (info["shield"]["DEFERRED"] > 0).any()
    venv.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_a_pickled_env_goes_on_exactly_as_the_original(env_id):
    import pickle

    env = make(env_id, episode_steps=6)
    env.reset(seed=5)
    actions = random_actions(env, 6, seed=3)
    for a in actions[:3]:
        env.step(a)
    twin = pickle.loads(pickle.dumps(env))
    for a in actions[3:]:
        o1, r1, _, t1, i1 = env.step(a)
        o2, r2, _, t2, i2 = twin.step(a)
        assert_tree_equal(o1, o2, "obs")
        assert r1 == r2 and t1 == t2
        assert_tree_equal(i1, i2, "info")
    assert twin.unwrapped.event_loop.audit.total == env.unwrapped.event_loop.audit.total


def test_ap_labels_do_not_collide_on_enterprise_and_the_frame_has_room_for_the_legend():
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from rrm_gym.envs.render import _label_aps
    from rrm_gym.sim import WirelessSimulation

    sim = WirelessSimulation("enterprise", seed=0)
    fig = Figure(figsize=(8.6, 4.8), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.06, 0.1, 0.56, 0.82))
    w, h = sim.scenario.area.width_m, sim.scenario.area.height_m
    ax.set_xlim(-0.05 * w, 1.05 * w)
    ax.set_ylim(-0.05 * h, 1.05 * h)
    ax.set_aspect("equal")
    _label_aps(ax, sim.ap_xy, [f"{i}:{int(c)}" for i, c in enumerate(sim.channel[0])])
    canvas.draw()
    boxes = [t.get_window_extent(canvas.get_renderer()) for t in ax.texts]
    assert len(boxes) == len(sim.ap_xy) > 20
    overlaps = [(i, j) for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]
    assert overlaps == []
    env = gymnasium.make("rrm_gym/FastLoop-v2", scenario="enterprise", render_mode="rgb_array", episode_steps=2)
    env.reset(seed=0)
    assert env.render().shape == (480, 860, 3)


def test_v2_steps_give_the_rewards_v1_gave():
    """v2 changed what an agent sees and is charged, not the network: these rewards are what the
    last v1 commit gave for the same seeds and actions (a change here is a new version)."""
    v1 = {
        JOINT: [-0.18423015372513743, 0.08995025962019249, 0.10156324383497779, 0.07647029346121109,
                0.0038381866198447592],
        SLOW: [0.06131276474852555, 5.726971591459111e-05, -0.024347941063685947],
    }  # fmt: skip
    for env_id, expected in v1.items():
        env = make(env_id, scenario="office", episode_steps=len(expected))
        env.reset(seed=11)
        rng = np.random.default_rng(5)
        rewards = [env.step(rng.integers(env.action_space.nvec))[1] for _ in expected]
        assert rewards == pytest.approx(expected, rel=1e-6, abs=1e-9), env_id
