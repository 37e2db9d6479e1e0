"""The event loop's share of a batched ``FastLoop-v2`` step: how much of the time an agent's
step takes goes to the safety layer (shield, apply, audit, rollback, detectors) rather than to
the simulation and the env's own work (actions, observations, rewards, infos).

    python benchmarks/event_loop_share.py [--scenario office] [--num-envs 16] [--steps 300] [--repeats 3]
                                          [--policy random|hold|tpc]

Times ``EventLoop.advance`` and ``EventLoop.submit_many`` with the simulation's ``run`` inside
them taken out, and the audit's ``AuditLog.record`` within them; prints the best of
``--repeats`` runs (the fastest run, whose shares are the least disturbed by the machine) and
the audit records per network-step. ``random`` actions are the worst case: nearly every AP
changes power every step, and each change is shielded, applied, watched and audited; ``hold``
keeps every AP's power (the event loop still runs its detectors, rollback windows and DFS
bookkeeping every second); ``tpc`` runs the Cisco-style transmit power control baseline on every
network, a realistic rate of change (the policy's own time is not counted). The target is an
event-loop share under 25 %. Last, what one audit record of an applied power change costs, part
by part (microseconds, best of five timings).
"""

from __future__ import annotations

import argparse
import time
import timeit
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import rrm_gym  # noqa: F401  (registers the envs)
from agents.baselines import TransmitPowerControl
from rrm_gym.safety.audit import AuditLog
from rrm_gym.safety.audit.record import canonical_json, sign
from rrm_gym.safety.loop import EventLoop
from rrm_gym.sim.simulation import WirelessSimulation


def _timed(cls: type, name: str, clock: dict[str, float], slot: str) -> Callable[[], None]:
    """Wrap ``cls.name`` so that its time adds to ``clock[slot]``; returns the undo."""
    original = getattr(cls, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            clock[slot] += time.perf_counter() - t

    setattr(cls, name, wrapper)
    return lambda: setattr(cls, name, original)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default="office")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--policy", choices=("random", "hold", "tpc"), default="random")
    args = p.parse_args()

    env = gym.make_vec("rrm_gym/FastLoop-v2", num_envs=args.num_envs, scenario=args.scenario, episode_steps=100_000)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    nvec = env.single_action_space.nvec
    if args.policy == "tpc":
        tpc = TransmitPowerControl().bind(env.unwrapped.template)

        def choose(i: int, obs: dict[str, np.ndarray]) -> np.ndarray:
            return np.stack([tpc({k: v[b] for k, v in obs.items()}, {}) for b in range(args.num_envs)])

    else:
        if args.policy == "random":
            actions = [rng.integers(nvec, size=(args.num_envs, len(nvec))) for _ in range(args.steps + 30)]
        else:  # the highest level, every AP's starting power in the packaged scenarios
            actions = [np.broadcast_to(nvec - 1, (args.num_envs, len(nvec)))] * (args.steps + 30)

        def choose(i: int, obs: dict[str, np.ndarray]) -> np.ndarray:
            return actions[i]

    clock = {"sim": 0.0, "loop": 0.0, "audit": 0.0}
    undo = [
        _timed(WirelessSimulation, "run", clock, "sim"),
        _timed(EventLoop, "advance", clock, "loop"),
        _timed(EventLoop, "submit_many", clock, "loop"),
        _timed(AuditLog, "record", clock, "audit"),
    ]
    best = None
    try:
        for _ in range(args.repeats):
            for i in range(30):
                obs = env.step(choose(i, obs))[0]
            clock.update(sim=0.0, loop=0.0, audit=0.0)
            records = env.unwrapped.event_loop.audit.total
            total = 0.0  # the env's steps only, not the policy's choices
            for i in range(30, args.steps + 30):
                a = choose(i, obs)
                t = time.perf_counter()
                obs = env.step(a)[0]
                total += time.perf_counter() - t
            loop_s = clock["loop"] - clock["sim"]  # the simulation runs inside advance()
            per_step = (env.unwrapped.event_loop.audit.total - records) / (args.steps * args.num_envs)
            run = (args.steps * args.num_envs / total, loop_s, clock["audit"], clock["sim"], total, per_step)
            if best is None or run[0] > best[0]:
                best = run
    finally:
        for u in undo:
            u()
    rate, loop_s, audit_s, sim_s, total, per_step = best
    print(
        f"FastLoop-v2 make_vec B={args.num_envs} on {args.scenario}, {args.policy} actions: {rate:,.0f} "
        f"network-steps/s (best of {args.repeats} x {args.steps} steps; {per_step:.1f} audit records a network-step)"
    )
    print(f"  event loop  {loop_s / total:6.1%}  (target < 25 %; of which the audit {audit_s / total:.1%})")
    print(f"  simulation  {sim_s / total:6.1%}")
    print(f"  env         {1 - (loop_s + sim_s) / total:6.1%}  (actions, observations, rewards, infos)")
    record_costs()


def record_costs(count: int = 20_000) -> None:
    """Microseconds per audit record of an applied power change, as the event loop writes it:
    the whole ``AuditLog.record`` and its parts (fields checked and cleaned, canonical JSON, HMAC)."""
    log = AuditLog(b"k" * 32, seed=0)
    fields = (
        60.0, "CHANGE_REQUEST", "agent", "SUCCESS", "POWER_CHANGE", 0, 3,
        [{"param": "power_dbm", "old_value": 20.0, "new_value": 17.0}], "rb-n0-ap3-000012", "",
        {"requested": {"power_dbm": 17.0}, "loop": "fast"},
    )  # fmt: skip
    body, line, _ = log._number(log._fields(*fields))
    parts = {
        "whole record": lambda: log.record(*fields),
        "fields checked and cleaned": lambda: log._fields(*fields),
        "canonical JSON": lambda: canonical_json(body),
        "HMAC-SHA256": lambda: sign(line, b"k" * 32),
    }
    cost = {name: min(timeit.repeat(f, number=count, repeat=5)) / count * 1e6 for name, f in parts.items()}
    print("one audit record of a power change: " + ", ".join(f"{name} {us:.1f} us" for name, us in cost.items()))


if __name__ == "__main__":
    main()
