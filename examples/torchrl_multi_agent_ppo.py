"""Multi-agent PPO with TorchRL: every AP an agent with its own row of the observation, one
actor shared by all of them, a centralised critic, the shield's action mask applied to the
actor's choices (the MAPPO recipe of TorchRL's multi-agent tutorial).

    python examples/torchrl_multi_agent_ppo.py [--iterations 20] [--smoke]

The PettingZoo env (``observation="flat"``, one ``Box`` per AP) goes through TorchRL's
``PettingZooWrapper``, which groups the APs as ``"ap"`` and reads ``action_mask`` from their
infos; the episode cost is read from the same infos (``("ap", "info", "cost")``).
"""

from __future__ import annotations

import argparse

import torch
from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.collectors import Collector
from torchrl.data import LazyTensorStorage, ReplayBuffer, SamplerWithoutReplacement
from torchrl.envs import RewardSum, TransformedEnv
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.modules import MaskedCategorical, MultiAgentMLP, ProbabilisticActor
from torchrl.objectives import ClipPPOLoss, ValueEstimators

from rrm_gym.envs import RRMParallelEnv

GROUP = "ap"


def make_env(episode_steps: int) -> TransformedEnv:
    env = PettingZooWrapper(
        RRMParallelEnv("rrm_gym/FastLoop-v2", scenario="office", episode_steps=episode_steps, observation="flat"),
        use_mask=True,
        categorical_actions=True,
    )
    return TransformedEnv(env, RewardSum(in_keys=[(GROUP, "reward")], out_keys=[(GROUP, "episode_reward")]))


def main(argv: list[str] | None = None) -> list[float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--smoke", action="store_true", help="two short iterations, to check that it runs")
    args = p.parse_args(argv)
    iterations, episode, frames = (2, 4, 16) if args.smoke else (args.iterations, 60, 600)
    torch.manual_seed(0)
    env = make_env(episode)
    n_agents = len(env.group_map[GROUP])
    n_obs = env.observation_spec[GROUP, "observation"].shape[-1]
    n_actions = env.full_action_spec[GROUP, "action"].space.n

    actor_net = TensorDictModule(
        MultiAgentMLP(n_obs, n_actions, n_agents, centralised=False, share_params=True, depth=2, num_cells=64),
        in_keys=[(GROUP, "observation")],
        out_keys=[(GROUP, "logits")],
    )
    actor = ProbabilisticActor(
        actor_net,
        in_keys={"logits": (GROUP, "logits"), "mask": (GROUP, "action_mask")},
        out_keys=[(GROUP, "action")],
        distribution_class=MaskedCategorical,
        return_log_prob=True,
        log_prob_key=(GROUP, "sample_log_prob"),
    )
    critic = TensorDictModule(
        MultiAgentMLP(n_obs, 1, n_agents, centralised=True, share_params=True, depth=2, num_cells=64),
        in_keys=[(GROUP, "observation")],
        out_keys=[(GROUP, "state_value")],
    )
    collector = Collector(env, actor, frames_per_batch=frames, total_frames=frames * iterations)
    buffer = ReplayBuffer(
        storage=LazyTensorStorage(frames), sampler=SamplerWithoutReplacement(), batch_size=frames // 4
    )
    loss = ClipPPOLoss(actor, critic, clip_epsilon=0.2, entropy_coeff=1e-3, normalize_advantage=False)
    loss.set_keys(
        reward=(GROUP, "reward"),
        action=(GROUP, "action"),
        sample_log_prob=(GROUP, "sample_log_prob"),
        value=(GROUP, "state_value"),
        done=(GROUP, "done"),
        terminated=(GROUP, "terminated"),
    )
    loss.make_value_estimator(ValueEstimators.GAE, gamma=0.99, lmbda=0.95)
    optimiser = torch.optim.Adam(loss.parameters(), lr=3e-4)
    returns = []
    for i, batch in enumerate(collector):
        # the group's done flags, as the loss reads them per agent
        for key in ("done", "terminated"):
            batch.set(
                ("next", GROUP, key),
                batch.get(("next", key)).unsqueeze(-1).expand(batch.get_item_shape(("next", GROUP, "reward"))),
            )
        with torch.no_grad():
            loss.value_estimator(
                batch, params=loss.critic_network_params, target_params=loss.target_critic_network_params
            )
        buffer.extend(batch.reshape(-1))
        for _ in range(2):
            for _ in range(4):
                sample = buffer.sample()
                out = loss(sample)
                total = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
                optimiser.zero_grad()
                total.backward()
                nn.utils.clip_grad_norm_(loss.parameters(), 1.0)
                optimiser.step()
        done = batch.get(("next", GROUP, "done"))
        ended = batch.get(("next", GROUP, "episode_reward"))[done]
        mean_return = float(ended.mean()) if ended.numel() else float("nan")
        cost = float(batch.get(("next", GROUP, "info", "cost"))[..., 0].sum()) / max(1, int(done[..., 0].sum()))
        returns.append(mean_return)
        print(f"iteration {i + 1}: mean episode return per AP {mean_return:.3f}, cost per episode {cost:.2f}")
    collector.shutdown()
    return returns


if __name__ == "__main__":
    main()
