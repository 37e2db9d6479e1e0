"""Register the environments with Gymnasium (idempotent; run when ``rrm_gym`` is imported)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym

ENV_IDS = {
    "rrm_gym/FastLoop-v1": "rrm_gym.envs.fast:FastLoopEnv",
    "rrm_gym/SlowLoop-v1": "rrm_gym.envs.slow:SlowLoopEnv",
    "rrm_gym/Joint-v1": "rrm_gym.envs.joint:JointEnv",
}


# natively batched versions, returned by gymnasium.make_vec (vectorization_mode="sync" still gives N envs)
VECTOR_ENTRY_POINTS = {
    "rrm_gym/FastLoop-v1": "rrm_gym.envs.vector:FastLoopVectorEnv",
    "rrm_gym/SlowLoop-v1": "rrm_gym.envs.vector:SlowLoopVectorEnv",
    "rrm_gym/Joint-v1": "rrm_gym.envs.vector:JointVectorEnv",
}


# Retired versions: v1 changed the physics, the traffic and the default reward, so a v0 result
# cannot be reproduced by v1 (Gymnasium's rule: a change that alters results bumps the version).
RETIRED = {old.replace("-v1", "-v0"): old for old in ENV_IDS}


def _retired(env_id: str) -> Callable[..., None]:
    def make(*args: object, **kwargs: object) -> None:
        raise gym.error.DeprecatedEnv(
            f"{env_id} is retired: v1 changed the radio physics, the traffic model and the default reward, so "
            f"its results differ from v0's. Use {RETIRED[env_id]} (and retrain models trained on v0)."
        )

    return make


def register_envs() -> None:
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, vector_entry_point=VECTOR_ENTRY_POINTS.get(env_id))
    for env_id in RETIRED:
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=_retired(env_id), vector_entry_point=_retired(env_id))
