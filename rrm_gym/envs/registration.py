"""Register the environments with Gymnasium (idempotent; run when ``rrm_gym`` is imported)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym

ENV_IDS = {
    "rrm_gym/FastLoop-v2": "rrm_gym.envs.fast:FastLoopEnv",
    "rrm_gym/SlowLoop-v2": "rrm_gym.envs.slow:SlowLoopEnv",
    "rrm_gym/Joint-v2": "rrm_gym.envs.joint:JointEnv",
}


# natively batched versions, returned by gymnasium.make_vec (vectorization_mode="sync" still gives N envs)
VECTOR_ENTRY_POINTS = {
    "rrm_gym/FastLoop-v2": "rrm_gym.envs.vector:FastLoopVectorEnv",
    "rrm_gym/SlowLoop-v2": "rrm_gym.envs.vector:SlowLoopVectorEnv",
    "rrm_gym/Joint-v2": "rrm_gym.envs.vector:JointVectorEnv",
}


# Retired versions (Gymnasium's rule: a change that alters results bumps the version). v1
# changed the physics, the traffic and the default reward, so a v0 result cannot be reproduced by
# v1. v2 shows the shield's channel-change budget in the observation and ``info`` and defers
# channel changes past it without charging them, where v1 rejected them at a cost: v2's
# observation space and cost differ from v1's; its dynamics and rewards do not.
RETIRED = {
    **{env_id.replace("-v2", "-v0"): env_id for env_id in ENV_IDS},
    **{env_id.replace("-v2", "-v1"): env_id for env_id in ENV_IDS},
}
WHY_RETIRED = {
    "v0": "v1 changed the radio physics, the traffic model and the default reward, so its results differ from v0's",
    "v1": (
        "v2 adds the channel-change budget to the observation ('channel_budget') and to info, and defers "
        "channel changes past it without charging them (v1 rejected them at a cost), so its observation "
        "space and cost differ from v1's; its dynamics and rewards are v1's"
    ),
}


def _retired(env_id: str) -> Callable[..., None]:
    def make(*args: object, **kwargs: object) -> None:
        version = env_id.rsplit("-", 1)[1]
        raise gym.error.DeprecatedEnv(
            f"{env_id} is retired: {WHY_RETIRED[version]}. Use {RETIRED[env_id]} (and retrain models "
            f"trained on {version})."
        )

    return make


def register_envs() -> None:
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, vector_entry_point=VECTOR_ENTRY_POINTS.get(env_id))
    for env_id in RETIRED:
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=_retired(env_id), vector_entry_point=_retired(env_id))
