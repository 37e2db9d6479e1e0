"""The natively batched vector envs (FastLoop, SlowLoop, Joint): ``gymnasium.make_vec`` wiring,
equality with the single env at B = 1, independence of the networks, the batched info, masks against the
shield, autoreset modes, DFS compliance under random actions and argument errors."""

from __future__ import annotations

import copy

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import SyncVectorEnv, VectorEnv

import rrm_gym  # noqa: F401  (registers the envs)
from rrm_gym.envs import (
    FastLoopEnv,
    FastLoopVectorEnv,
    JointEnv,
    JointVectorEnv,
    SlowLoopEnv,
    SlowLoopVectorEnv,
    observation,
)
from rrm_gym.envs.observation import AP_FEATURES, build_observations, scan_channels
from rrm_gym.envs.vector import env_info
from rrm_gym.radio.regulatory import SLOT_MEMBERS
from rrm_gym.safety import ChangeRequest, CooldownConfig, EventLoop, EventLoopConfig, Outcome
from rrm_gym.sim import WirelessSimulation

FAST = "rrm_gym/FastLoop-v2"


def flat(info: dict) -> dict:
    """Nested info as {path: value} for comparisons."""
    out = {}
    for k, v in info.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in flat(v).items()})
        else:
            out[k] = v
    return out


def assert_network_0_is(single, o1: dict, i1: dict, vec, o2: dict, i2: dict, step: int) -> None:
    """Network 0 of the vector env has the single env's observation, info and action masks."""
    assert all(np.array_equal(o1[k], o2[k][0]) for k in o1), step
    f1, f2 = flat(i1), flat(i2)
    for k, v in f1.items():
        if k == "audit_ids":
            assert list(f2[k][0]) == v
        else:
            assert np.array_equal(np.asarray(v), f2[k][0]), (step, k)
    assert np.array_equal(single.action_masks(), vec.action_masks()[0])


def side_by_side(single, vec, seed: int, steps: int) -> list[dict]:
    """Step a single env and a one-network vector env with the same masked random actions and
    check that they agree step for step (observations, infos, masks, rewards, audit trail);
    the single env's infos."""
    o1, i1 = single.reset(seed=seed)
    o2, i2 = vec.reset(seed=seed)
    rng = np.random.default_rng(seed)
    infos = []
    for step in range(steps):
        assert_network_0_is(single, o1, i1, vec, o2, i2, step)
        splits = np.cumsum(single.action_space.nvec)[:-1]
        a = np.array([rng.choice(np.flatnonzero(m)) for m in np.split(single.action_masks(), splits)])
        o1, r1, t1, tr1, i1 = single.step(a)
        o2, r2, t2, tr2, i2 = vec.step(a[None])
        assert (r1, tr1) == (r2[0], tr2[0])
        infos.append(i1)
    assert tr1 and tr2[0]
    assert list(single.event_loop.audit._memory) == list(vec.event_loop.audit._memory)
    return infos


def test_make_vec_returns_the_batched_env_and_sync_mode_still_gives_separate_envs():
    env = gymnasium.make_vec(FAST, num_envs=3, episode_steps=2)
    assert isinstance(env, FastLoopVectorEnv) and env.num_envs == 3 and env.sim.num_networks == 3
    assert env.action_space.shape == (3, env.num_aps)
    assert env.observation_space["ap_features"].shape == (3, env.num_aps, 17)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert set(obs) == set(env.single_observation_space.spaces)
    sync = gymnasium.make_vec(FAST, num_envs=2, vectorization_mode="sync", episode_steps=2)
    assert isinstance(sync, SyncVectorEnv)
    assert sync.single_action_space == env.single_action_space
    sync.close()
    env.close()


@pytest.mark.parametrize("power_mode", ["level", "step"])
def test_one_network_is_exactly_the_single_env(power_mode):
    kw = {"episode_steps": 6, "power_mode": power_mode, "audit_key": "test-key-0123456789"}
    single = FastLoopEnv("office", **kw)
    vec = FastLoopVectorEnv(1, "office", **kw)
    o1, i1 = single.reset(seed=7)
    o2, i2 = vec.reset(seed=7)
    rng = np.random.default_rng(0)
    for step in range(6):
        assert_network_0_is(single, o1, i1, vec, o2, i2, step)
        a = rng.integers(single.action_space.nvec)
        o1, r1, t1, tr1, i1 = single.step(a)
        o2, r2, t2, tr2, i2 = vec.step(a[None])
        assert (r1, t1, tr1) == (r2[0], t2[0], tr2[0])
    assert tr1 and tr2[0]
    assert list(single.event_loop.audit._memory) == list(vec.event_loop.audit._memory)


def test_networks_are_independent_a_network_sees_only_its_own_actions():
    envs = [FastLoopVectorEnv(3, "office", episode_steps=10) for _ in range(2)]
    for e in envs:
        e.reset(seed=3)
    rng = np.random.default_rng(1)
    for _ in range(5):
        a = rng.integers(envs[0].single_action_space.nvec, size=(3, envs[0].num_aps))
        b = a.copy()
        b[1] = rng.integers(envs[0].single_action_space.nvec)  # network 1 acts differently
        out_a, out_b = envs[0].step(a), envs[1].step(b)
        for net in (0, 2):
            assert all(np.array_equal(out_a[0][k][net], out_b[0][k][net]) for k in out_a[0])
            assert out_a[1][net] == out_b[1][net]
            assert out_a[4]["cost"][net] == out_b[4]["cost"][net]
    assert not np.array_equal(envs[0].sim.power_dbm[1], envs[1].sim.power_dbm[1])


def test_batched_info_is_what_gymnasium_builds_env_by_env():
    env = FastLoopVectorEnv(4, "office", episode_steps=5)
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    per_env = [copy.deepcopy(env_info(info, n)) for n in range(4)]
    expected: dict = {}
    for n, one in enumerate(per_env):
        expected = VectorEnv._add_info(env, expected, one, n)
    fe, fg = flat(expected), flat(info)
    assert fe.keys() == fg.keys()
    for k in fe:
        assert fe[k].dtype == fg[k].dtype and fe[k].shape == fg[k].shape, k
        assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(fe[k], fg[k], strict=True)), k


def test_info_holds_every_network_s_costs_kpis_and_audit_ids():
    env = FastLoopVectorEnv(3, "office", episode_steps=5, info_audit_ids=True)
    env.reset(seed=1)
    obs, reward, term, trunc, info = env.step(env.action_space.sample())
    assert reward.shape == (3,) and np.isfinite(reward).all()
    for key in ("cost", "rollbacks", "sim_time_s"):
        assert info[key].shape == (3,) and info[f"_{key}"].all()
    assert info["action_mask"].shape == (3, int(env.single_action_space.nvec.sum()))
    assert info["kpi"]["experience_utility"].tolist() == pytest.approx(reward.tolist())
    held = {r.audit_id: r.network for r in env.event_loop.audit.records}
    for net in range(3):
        assert info["audit_ids"][net] and all(held[i] == net for i in info["audit_ids"][net])
        assert info["audit_records"][net] == len(info["audit_ids"][net])
        assert info["shield"]["APPLIED"][net] + info["shield"]["MODIFIED"][net] > 0
        assert info["events"]["CHANGE_REQUEST"][net] == sum(info["shield"][o.value][net] for o in Outcome)


@pytest.mark.parametrize("power_mode", ["level", "step"])
def test_masked_out_choices_are_exactly_what_the_shield_refuses_per_network(power_mode):
    cfg = EventLoopConfig(react_to_saturation=False, cooldown=CooldownConfig(power_s=7200.0))
    env = FastLoopVectorEnv(3, "office", episode_steps=5, power_mode=power_mode, event_loop=cfg)
    env.reset(seed=2)
    hold = env.current_power_action() if power_mode == "level" else np.ones((3, env.num_aps), dtype=np.int64)
    a = hold.copy()
    a[1, 0] = 0  # network 1 turns AP 0 down one level (level 0: the lowest; step 0: one down)
    env.step(a)
    masks = env.action_masks()
    nvec = env.single_action_space.nvec
    starts = np.concatenate([[0], np.cumsum(nvec)[:-1]])
    loop = env.event_loop
    for net in range(3):
        for ap in range(env.num_aps):
            row = masks[net, starts[ap] : starts[ap] + nvec[ap]]
            for choice in range(nvec[ap]):
                probe = copy.deepcopy(loop)
                if power_mode == "level":
                    level = env.power_levels[ap][choice]
                else:
                    cur = env.current_power_action()[net, ap]
                    idx = cur + choice - 1
                    if not 0 <= idx < len(env.power_levels[ap]):
                        assert not row[choice]
                        continue
                    level = env.power_levels[ap][idx]
                result = probe.submit(ChangeRequest(ap, power_dbm=float(level), network=net))
                assert row[choice] == result.accepted, (net, ap, choice, result.reason)
    assert not masks[1].all() and masks[0].all() and masks[2].all()


def test_next_step_autoreset_resets_every_network_after_the_last_step():
    env = FastLoopVectorEnv(2, "office", episode_steps=3)
    env.reset(seed=4)
    for _ in range(2):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        assert not trunc.any() and not term.any()
    _, _, term, trunc, info = env.step(env.action_space.sample())
    assert trunc.all() and not term.any() and info["sim_time_s"][0] == 240.0
    obs, reward, term, trunc, info = env.step(env.action_space.sample())  # ignored: this step resets
    assert (reward == 0).all() and not trunc.any() and info["sim_time_s"][0] == 60.0
    assert env.observation_space.contains(obs)


def test_same_step_autoreset_returns_the_final_observation_and_info():
    env = gymnasium.make_vec(FAST, num_envs=2, episode_steps=2, autoreset_mode="SameStep")
    env.reset(seed=5)
    env.step(env.action_space.sample())
    obs, reward, term, trunc, info = env.step(env.action_space.sample())
    assert trunc.all() and info["_final_obs"].all() and info["final_obs"].shape == (2,)
    assert env.single_observation_space.contains(info["final_obs"][1])
    assert info["final_info"]["sim_time_s"][0] == 180.0 and info["sim_time_s"][0] == 60.0
    assert np.isfinite(reward).all()
    obs, reward, term, trunc, info = env.step(env.action_space.sample())  # a normal step of the new episode
    assert not trunc.any() and info["sim_time_s"][0] == 120.0


def test_random_actions_on_dfs_site_keep_every_network_compliant():
    env = FastLoopVectorEnv(4, "dfs_site", episode_steps=30)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(30):
        _, _, _, _, info = env.step(env.action_space.sample())
    assert (info["compliance"]["dfs_violations"] == 0).all()
    assert (info["compliance"]["eirp_violations"] == 0).all()
    assert env.event_loop.compliance.radar_hits > 0  # radar met an AP: the rules were exercised


def test_slow_policy_is_asked_for_every_network_each_slow_period():
    calls = []

    def keep_plan(obs, info):
        calls.append(info["action_mask"].shape)
        return np.argmax(obs["ap_features"][:, :1] >= 0, axis=1) * 0 + keep[len(calls) - 1]

    env = FastLoopVectorEnv(3, "office", episode_steps=4, slow_period_s=120, slow_policy=keep_plan)
    env.reset(seed=0)
    keep = [FastLoopEnv("office").current_channel_action()] * 100
    for _ in range(4):
        env.step(env.current_power_action())
    assert len(calls) == 3 * 2  # steps 0 and 2, three networks each
    assert all(shape == (sum(len(s) for s in env.slots),) for shape in calls)


def test_bad_actions_and_arguments_are_clear_errors():
    env = FastLoopVectorEnv(2, "office")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((2, env.num_aps), dtype=np.int64))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 10\)"):
        env.step(np.zeros((3, env.num_aps), dtype=np.int64))
    with pytest.raises(ValueError, match="0 <= a <"):
        env.step(np.full((2, env.num_aps), 99))
    with pytest.raises(ValueError, match="num_envs"):
        FastLoopVectorEnv(0, "office")
    with pytest.raises(ValueError, match="autoreset_mode"):
        FastLoopVectorEnv(2, "office", autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="render"):
        FastLoopVectorEnv(2, "office", render_mode="rgb_array")
    with pytest.raises(ValueError, match="unknown reward"):
        FastLoopVectorEnv(2, "office", reward="joy")
    with pytest.raises(ValueError, match="episode_steps=5 and max_episode_steps=3 disagree"):
        gymnasium.make_vec("rrm_gym/FastLoop-v2", num_envs=2, episode_steps=5, max_episode_steps=3)
    with pytest.raises(ValueError, match="num_envs must be in"):
        FastLoopVectorEnv(10**9, "office")  # refused before anything is allocated
    with pytest.raises(TypeError, match="num_envs must be an integer"):
        FastLoopVectorEnv(2.0, "office")
    with pytest.raises(TypeError, match="one seed"):
        env.reset(seed=[0, 1])
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.step(np.zeros((2, env.num_aps), dtype=np.int64))


def test_numpy_counts_and_the_make_vec_alias_give_the_single_envs_defaults():
    assert FastLoopVectorEnv(np.int64(2), "office").num_envs == 2
    assert gymnasium.make_vec("rrm_gym/SlowLoop-v2", num_envs=2).episode_steps == 24  # SlowLoopEnv's default
    assert gymnasium.make_vec("rrm_gym/FastLoop-v2", num_envs=2).episode_steps == 60
    assert gymnasium.make_vec("rrm_gym/SlowLoop-v2", num_envs=2, max_episode_steps=3).episode_steps == 3
    assert (
        gymnasium.make_vec("rrm_gym/FastLoop-v2", num_envs=2, episode_steps=4, max_episode_steps=4).episode_steps == 4
    )


def test_rewards_are_not_a_view_of_the_logged_kpis():
    env = gymnasium.make_vec("rrm_gym/FastLoop-v2", num_envs=2, reward="pf")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.current_power_action())
    logged = info["kpi"]["pf_utility"].copy()
    np.testing.assert_array_equal(reward, logged)
    reward *= 0.0  # an in-place reward transform
    np.testing.assert_array_equal(info["kpi"]["pf_utility"], logged)


def reference_observation(loop, s, network: int = 0) -> dict[str, np.ndarray]:
    """One network's observation computed on its own, the straightforward way."""
    sim = loop.sim
    n = sim.num_aps
    feats = np.zeros((n, len(AP_FEATURES)), dtype=np.float32)
    slot = sim.slot[network]
    power = sim.power_dbm[network]
    span = np.maximum(sim.ap_max_power_dbm - sim.ap_min_power_dbm, 1e-9)
    feats[:, 0] = sim.channel[network] / 165.0
    feats[:, 1] = sim.ap_band_ghz == 5.0
    feats[:, 2] = sim.width_mhz[network] / 160.0
    feats[:, 3] = (power - sim.ap_min_power_dbm) / span
    feats[:, 13] = sim.domain.slot_dfs[slot]
    feats[:, 14] = ~sim.tx_enabled[network]
    rssi = np.zeros((n, n), dtype=np.float32)
    channels = scan_channels(sim.domain)
    scan = np.zeros((n, len(channels)), dtype=np.float32)
    if s is not None:
        b = network
        offered = s.demand_mbps[b].mean(axis=0)
        served = s.throughput_mbps[b].mean(axis=0)
        feats[:, 4] = s.clients_per_ap[b] / max(1, sim.num_clients)
        feats[:, 5] = np.log1p(offered) / np.log(1001.0)
        feats[:, 6] = np.log1p(served) / np.log(1001.0)
        feats[:, 7] = np.where(offered > 0, served / np.maximum(offered, 1e-9), 1.0)
        feats[:, 8] = s.cca_busy_frac[b].mean(axis=0)
        feats[:, 9] = s.cca_busy_frac[b].max(axis=0)
        feats[:, 10] = s.airtime_frac[b].mean(axis=0)
        feats[:, 11] = s.retry_rate[b].mean(axis=0)
        feats[:, 12] = s.nonwifi_duty_frac[b].max(axis=0)
        ap = s.client_ap[b]
        linked = ap >= 0
        snr_sum = np.bincount(ap[linked], np.nan_to_num(s.client_snr_db[b][linked]), minlength=n)
        count = np.bincount(ap[linked], minlength=n)
        feats[:, 15] = np.where(count > 0, snr_sum / np.maximum(count, 1), 0.0) / 60.0
        snr = np.where(linked, np.nan_to_num(s.client_snr_db[b], nan=0.0), np.inf)
        snr_min = np.full(n, np.inf)
        np.minimum.at(snr_min, np.maximum(ap, 0), snr)
        feats[:, 16] = np.where(np.isfinite(snr_min), snr_min, 0.0) / 60.0
        r = s.neighbor_rssi_dbm[b]
        rssi = np.where(np.isfinite(r), (r + 100.0) / 70.0, 0.0).astype(np.float32)
        # off-channel scan: strongest unmanaged AP heard on each 20 MHz channel of its band
        if s.foreign_rssi_dbm.shape[2]:
            f = s.foreign_rssi_dbm[b]  # [N, M]
            on = SLOT_MEMBERS[s.foreign_slot][:, channels]  # [M, C]
            heard = np.where(np.isfinite(f)[:, :, None] & on[None], f[:, :, None], -np.inf).max(axis=1)
            scan = np.where(np.isfinite(heard), (heard + 100.0) / 70.0, 0.0).astype(np.float32)
    hour = sim.hour_of_day()
    angle = 2.0 * np.pi * hour / 24.0
    return {
        "ap_features": np.clip(feats, 0.0, 1.0),
        "neighbor_rssi": np.clip(rssi, 0.0, 1.0),
        "channel_scan": np.clip(scan, 0.0, 1.0),
        "time_of_day": np.array([np.sin(angle), np.cos(angle)], dtype=np.float32),
        "channel_budget": np.array([loop.shield.channel_changes_left(sim.time_s)[network] / n], dtype=np.float32),
    }


@pytest.mark.parametrize("dense_scan_max", [0, 10**9])  # both ways of taking the channel scan's max
@pytest.mark.parametrize("scenario", ["office", "residential", "dfs_site", "legacy_24"])
def test_batched_observations_equal_each_network_computed_on_its_own(scenario, dense_scan_max, monkeypatch):
    monkeypatch.setattr(observation, "DENSE_SCAN_MAX", dense_scan_max)
    sim = WirelessSimulation(scenario, seed=5, num_networks=3)
    loop = EventLoop(sim)
    spans = [None]
    for step in range(3):
        loop.submit(ChangeRequest(step % sim.num_aps, power_dbm=float(sim.ap_max_power_dbm[0] - 3), network=2))
        spans.append(loop.advance(60))
    for s in spans:
        batched = build_observations(loop, s)
        for b in range(3):
            ref = reference_observation(loop, s, b)
            for k, v in ref.items():
                assert v.dtype == batched[k].dtype and np.array_equal(v, batched[k][b]), (scenario, b, k)


def test_same_seed_gives_identical_batched_trajectories_and_another_seed_does_not():
    def run(seed):
        env = FastLoopVectorEnv(3, "office", episode_steps=4, audit_key="k" * 16)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        out = [obs]
        for _ in range(4):
            obs, reward, *_ = env.step(rng.integers(env.single_action_space.nvec, size=(3, env.num_aps)))
            out += [obs, reward]
        return out, list(env.event_loop.audit._memory)

    a, b, c = run(11), run(11), run(12)
    flat_a, flat_b, flat_c = (
        [x for item in r[0] for x in (item.values() if isinstance(item, dict) else [item])] for r in (a, b, c)
    )
    assert all(np.array_equal(x, y) for x, y in zip(flat_a, flat_b, strict=True)) and a[1] == b[1]
    assert not all(np.array_equal(x, y) for x, y in zip(flat_a, flat_c, strict=True))


def test_a_file_audit_trail_of_every_network_verifies(tmp_path):
    from rrm_gym.safety.audit import verify

    path = tmp_path / "audit" / "audit.jsonl"
    env = FastLoopVectorEnv(3, "office", episode_steps=3, audit_key="secret-key-0123456789", audit_path=path)
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    env.close()
    result = verify(path, b"secret-key-0123456789")
    assert result.ok and result.sealed and result.records >= len(env.event_loop.audit.records) > 0
    assert {r.network for r in env.event_loop.audit.records} >= {0, 1, 2}


# ------------------------------------------------------------------------------ SlowLoop


def max_power(obs, info):
    """A fast policy: every AP at its highest level (the last of its ascending list)."""
    return np.array([len(p) - 1 for p in SLOW_LEVELS])


SLOW_LEVELS = FastLoopEnv("office").power_levels


@pytest.mark.parametrize("fast_policy", [None, max_power])
def test_one_network_of_the_slow_loop_is_exactly_the_single_env(fast_policy):
    kw = {"episode_steps": 3, "slow_period_s": 300, "audit_key": "test-key-0123456789", "fast_policy": fast_policy}
    side_by_side(SlowLoopEnv("office", **kw), SlowLoopVectorEnv(1, "office", **kw), seed=4, steps=3)


def test_make_vec_gives_the_batched_slow_loop_with_per_network_channel_masks():
    env = gymnasium.make_vec("rrm_gym/SlowLoop-v2", num_envs=2, episode_steps=2, slow_period_s=300)
    assert isinstance(env, SlowLoopVectorEnv) and env.action_space.shape == (2, env.num_aps)
    obs, info = env.reset(seed=0)
    keep = env.current_channel_action()
    assert keep.shape == (2, env.num_aps) and np.array_equal(keep[0], env.template.current_channel_action())
    obs, reward, term, trunc, info = env.step(keep)
    assert reward.shape == (2,) and info["sim_time_s"][0] == 360.0 and env.observation_space.contains(obs)
    masks = env.action_masks()
    assert masks.shape == (2, int(env.single_action_space.nvec.sum())) and np.array_equal(masks, info["action_mask"])
    bad = SlowLoopVectorEnv(2, "office", episode_steps=2, slow_period_s=300, fast_policy=lambda o, i: np.zeros(3))
    bad.reset(seed=0)
    with pytest.raises(ValueError, match=r"fast_policy \(network 0\) must return"):
        bad.step(keep)
    with pytest.raises(RuntimeError, match="failed part-way .*fast_policy.*call reset"):
        bad.step(keep)  # the agent's channels went in before the policy failed: no going on from there
    bad.fast_policy = lambda o, i: np.full(env.num_aps, 0.9)  # not a choice: refused, not truncated to 0
    bad.reset(seed=0)
    with pytest.raises(ValueError, match="whole-number choices"):
        bad.step(keep)


def test_one_network_of_the_joint_env_is_exactly_the_single_env():
    kw = {"episode_steps": 5, "audit_key": "test-key-0123456789"}
    vec = gymnasium.make_vec("rrm_gym/Joint-v2", num_envs=1, **kw)
    assert isinstance(vec, JointVectorEnv) and vec.action_space.shape == (1, 2 * vec.num_aps)
    infos = side_by_side(JointEnv("office", **kw), vec, seed=5, steps=5)
    assert sum(i["shield"]["APPLIED"] for i in infos) > 0  # channel moves and power changes were made
    assert not vec.action_masks()[0].all()  # the channel cooldowns show in the batched mask


def test_joint_vector_env_networks_get_their_own_channels_and_powers():
    env = JointVectorEnv(2, "office", episode_steps=3)
    env.reset(seed=0)
    n = env.num_aps
    a = np.concatenate([env.current_channel_action(), env.current_power_action()], axis=1)
    a[1, 0] = (a[1, 0] + 1) % env.single_action_space.nvec[0]  # network 1 moves AP 0
    a[0, n + 1] = 0  # network 0 sets AP 1 to its lowest level
    before_slot, before_power = env.sim.slot.copy(), env.sim.power_dbm.copy()
    obs, reward, term, trunc, info = env.step(a)
    assert env.sim.slot[1, 0] != before_slot[1, 0] and env.sim.slot[0, 0] == before_slot[0, 0]
    assert before_power[0, 1] != env.power_levels[1][0]
    assert env.sim.power_dbm[0, 1] == env.power_levels[1][0] and env.sim.power_dbm[1, 1] == before_power[1, 1]
    assert info["shield"]["APPLIED"][1] >= 1 and env.observation_space.contains(obs)
    with pytest.raises(ValueError, match="actions must be integers of shape"):
        env.step(a[:, :n])
