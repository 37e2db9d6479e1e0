"""Register the environments with Gymnasium (idempotent; run when ``rrm_gym`` is imported)."""

from __future__ import annotations

import gymnasium as gym

ENV_IDS = {
    "rrm_gym/FastLoop-v0": "rrm_gym.envs.fast:FastLoopEnv",
    "rrm_gym/SlowLoop-v0": "rrm_gym.envs.slow:SlowLoopEnv",
    "rrm_gym/Joint-v0": "rrm_gym.envs.joint:JointEnv",
}


# natively batched versions, returned by gymnasium.make_vec (vectorization_mode="sync" still gives N envs)
VECTOR_ENTRY_POINTS = {
    "rrm_gym/FastLoop-v0": "rrm_gym.envs.vector:FastLoopVectorEnv",
    "rrm_gym/SlowLoop-v0": "rrm_gym.envs.vector:SlowLoopVectorEnv",
    "rrm_gym/Joint-v0": "rrm_gym.envs.vector:JointVectorEnv",
}


def register_envs() -> None:
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, vector_entry_point=VECTOR_ENTRY_POINTS.get(env_id))
