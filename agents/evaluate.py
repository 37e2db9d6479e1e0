"""Run policies on an environment over seeds and summarise them with confidence intervals."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.baselines import CHANNEL_POLICIES, POWER_POLICIES, Oracle
from rrm_gym.config import Scenario, load_scenario
from rrm_gym.envs import FastLoopEnv, JointEnv
from rrm_gym.envs.core import DEFAULT_COST_WEIGHTS

if TYPE_CHECKING:
    from agents.training import TrainedPolicy

# per-step KPIs averaged over the episode (``reward`` is the env's default reward, the experience
# utility), then the episode's counts
KPI_METRICS = (
    "reward",
    "pf_utility",
    "sle",
    "sle_throughput",
    "sle_latency",
    "latency_p95_ms",
    "throughput_mean_mbps",
    "throughput_p5_mbps",
    "elastic_mean_mbps",
    "elastic_p5_mbps",
    "cca_busy_mean",
    "retry_rate_mean",
    "ceiling",
)
METRICS = (*KPI_METRICS, "channel_changes", "shield_interventions", "rollbacks", "dfs_violations", "cost")
REFERENCE = ("static", "max")  # the row every other is compared with, paired by seed
CHANNEL_PERIOD_S = 600  # channel heuristics re-plan every 10 minutes (Cisco DCA's default interval)
ORACLE_REPLAN_S = 600
# Student t, 97.5 % quantile, by degrees of freedom (1..30); past 30, t975()'s expansion
_T975 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14, 2.13,
         2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05, 2.04)  # fmt: skip
_Z975 = 1.959963984540054


def t975(df: int) -> float:
    """Student t's 97.5 % quantile with ``df`` degrees of freedom: the table to 30, then the
    Cornish-Fisher expansion about the normal quantile (Abramowitz & Stegun 26.7.5), within
    1e-5 of the exact value from 30 on."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % confidence interval (Student t over seeds)."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()) if len(x) else math.nan, math.nan
    return float(x.mean()), float(t975(len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


@dataclass
class Result:
    """One policy combination over seeds: per-seed metrics and their summaries."""

    channel_policy: str
    power_policy: str
    per_seed: list[dict[str, float]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        row: dict[str, Any] = {"channel_policy": self.channel_policy, "power_policy": self.power_policy}
        for m in METRICS:
            mean, half = ci95([s[m] for s in self.per_seed])
            row[m] = mean
            row[f"{m}_ci95"] = half
        row["seeds"] = len(self.per_seed)
        return row


def paired_difference(result: Result, reference: Result, metric: str = "reward") -> tuple[float, float]:
    """Mean and 95 % half-width of ``result - reference`` in ``metric``, paired by seed (both ran on
    the same seeds, so the draws of traffic, clients and shadowing cancel); NaN without pairs."""
    ref = {seed: m[metric] for seed, m in zip(reference.seeds, reference.per_seed, strict=True)}
    diffs = [m[metric] - ref[seed] for seed, m in zip(result.seeds, result.per_seed, strict=True) if seed in ref]
    return ci95(diffs) if diffs else (math.nan, math.nan)


def summarise(results: list[Result], reference: tuple[str, str] | None = REFERENCE) -> list[dict[str, Any]]:
    """Summary rows, best reward first, each with its paired difference from the ``reference``
    row in reward and SLE (``reward_diff``, ``reward_diff_ci95``, ``reward_diff_significant``:
    the CI excludes zero); NaN where the reference did not run, and with ``reference=None``
    (``reference`` then reads "")."""
    ref = next((r for r in results if (r.channel_policy, r.power_policy) == reference), None)
    rows = []
    for res in results:
        row = res.summary()
        for metric in ("reward", "sle"):
            diff, half = paired_difference(res, ref, metric) if ref is not None else (math.nan, math.nan)
            row[f"{metric}_diff"] = diff
            row[f"{metric}_diff_ci95"] = half
            row[f"{metric}_diff_significant"] = bool(math.isfinite(half) and abs(diff) > half)
        row["reference"] = "/".join(reference) if reference is not None else ""
        rows.append(row)
    return sorted(rows, key=lambda r: -r["reward"])


def _episode_metrics(
    env: FastLoopEnv | JointEnv, steps: int, act: Callable[[dict, dict], np.ndarray], seed: int
) -> dict[str, float]:
    obs, info = env.reset(seed=seed)
    kpis: dict[str, list[float]] = {k: [] for k in KPI_METRICS}
    loop_cost = 0.0
    for _ in range(steps):
        obs, _, _, truncated, info = env.step(act(obs, info))
        loop_cost += info["cost"]
        kpi = {
            **info["kpi"],
            "reward": info["kpi"]["experience_utility"],
            "ceiling": float(env._sensing.experience_ceiling()[0]),
        }
        for k in kpis:
            kpis[k].append(kpi[k])
        if truncated:
            break
    loop = env.event_loop
    records = loop.audit.records
    agent = [r for r in records if r.source == "agent"]
    applied = ("SUCCESS", "MODIFIED")
    intervened = ("REJECTED", "DEFERRED", "MODIFIED")
    rollbacks = loop.rollbacks.auto_rollbacks + loop.rollbacks.manual_rollbacks
    compliance = info["compliance"]
    # the env's cost, over the requests of both loops (a row's channel and power policy together)
    w = DEFAULT_COST_WEIGHTS
    cost = (
        w["shield_rejected"] * sum(r.execution_status == "REJECTED" for r in agent)
        + w["shield_modified"] * sum(r.execution_status == "MODIFIED" for r in agent)
        + w["shield_deferred"] * sum(r.execution_status == "DEFERRED" for r in agent)
        + w["rollbacks"] * rollbacks
        + w["dfs_violations"] * compliance["dfs_violations"]
        + w["eirp_violations"] * compliance["eirp_violations"]
    )
    return {
        **{k: float(np.mean(v)) for k, v in kpis.items()},
        "channel_changes": float(
            sum(r.action_type == "CHANNEL_CHANGE" and r.execution_status in applied for r in records)
        ),
        "shield_interventions": float(sum(r.execution_status in intervened for r in agent)),
        "rollbacks": float(rollbacks),
        "dfs_violations": float(compliance["dfs_violations"]),
        "cost": float(cost),
        # the env's own cost signal, for the requests of ``env.agent_loop`` only (what an agent of
        # that loop is trained against)
        "loop_cost": float(loop_cost),
    }


def run_baseline(
    scenario: str | Path | Scenario, channel: str, power: str, seed: int, hours: float = 1.0
) -> dict[str, float]:
    """One episode of a channel x power heuristic combination (or ``"oracle"``), its metrics."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    fast = sc.loops.fast_period_s
    steps = max(1, int(round(hours * 3600 / fast)))
    if channel == "oracle" or power == "oracle":
        env = JointEnv(sc, episode_steps=steps)
        oracle = Oracle(seed=seed).bind(env)
        every = max(1, ORACLE_REPLAN_S // fast)
        state = {"step": 0, "action": None}

        def act(obs: dict, info: dict) -> np.ndarray:
            if state["step"] % every == 0 or state["action"] is None:
                state["action"] = oracle(obs, info)
            else:  # hold the plan between re-plans
                state["action"] = np.concatenate([env.current_channel_action(), env.current_power_action()])
            state["step"] += 1
            return state["action"]

        return _episode_metrics(env, steps, act, seed)
    if channel not in CHANNEL_POLICIES:
        raise ValueError(f"unknown channel policy {channel!r}; choose from {sorted(CHANNEL_POLICIES)} or 'oracle'")
    if power not in POWER_POLICIES:
        raise ValueError(f"unknown power policy {power!r}; choose from {sorted(POWER_POLICIES)} or 'oracle'")
    env = FastLoopEnv(sc, episode_steps=steps, slow_period_s=max(fast, CHANNEL_PERIOD_S // fast * fast))
    env.slow_policy = CHANNEL_POLICIES[channel](seed).bind(env)
    return _episode_metrics(env, steps, POWER_POLICIES[power](seed).bind(env), seed)


ENCODING_KWARGS = ("allow_width", "power_mode", "channel_onehot")  # env settings that change what a policy sees or does


def model_env(scenario: Scenario, policy: TrainedPolicy, steps: int = 60) -> FastLoopEnv:
    """The benchmark's env for a trained policy, in the encoding it was trained with; ValueError
    naming the mismatch when the policy does not fit the scenario."""
    fast = scenario.loops.fast_period_s
    encoding = {k: v for k, v in policy.env_kwargs.items() if k in ENCODING_KWARGS}
    env = FastLoopEnv(
        scenario, episode_steps=steps, slow_period_s=max(fast, CHANNEL_PERIOD_S // fast * fast), **encoding
    )
    policy.check_env(env, f"scenario {scenario.name!r}")
    return env


def run_model(
    scenario: str | Path | Scenario, policy: TrainedPolicy, seed: int, hours: float = 1.0
) -> dict[str, float]:
    """One episode of a trained policy in the benchmark's harness: a fast-loop (power) model with its
    channel heuristic re-planning every 10 minutes, or a slow-loop (channel) model re-planning every
    10 minutes with its power heuristic; its metrics."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    steps = max(1, int(round(hours * 3600 / sc.loops.fast_period_s)))
    env = model_env(sc, policy, steps)
    policy.bind(env, seed)  # a residual model's heuristic, seeded as the baselines are
    env.agent_loop = policy.loop  # info["cost"] counts the model's own requests, as in training
    if policy.loop == "fast":
        env.slow_policy = CHANNEL_POLICIES[policy.other_policy](seed).bind(env)
        return _episode_metrics(env, steps, policy, seed)
    env.slow_policy = policy
    return _episode_metrics(env, steps, POWER_POLICIES[policy.other_policy](seed).bind(env), seed)


def model_labels(policy: TrainedPolicy) -> tuple[str, str]:
    """(channel policy, power policy) names of a trained policy's benchmark row."""
    return (policy.other_policy, policy.label) if policy.loop == "fast" else (policy.label, policy.other_policy)


def write_outputs(
    results: list[Result], out: Path, title: str, reference: tuple[str, str] | None = REFERENCE
) -> list[Path]:
    """``benchmark.csv`` (a row per policy: means, 95 % half-widths and the paired difference from
    the reference, if there is one), ``benchmark_per_seed.csv``, ``benchmark.md`` and a PNG chart
    (the differences from the reference; the rewards themselves without one), into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(results, reference)
    written = []
    diff_cols = [c for m in ("reward", "sle") for c in (f"{m}_diff", f"{m}_diff_ci95", f"{m}_diff_significant")]
    cols = [
        "channel_policy",
        "power_policy",
        *[c for m in METRICS for c in (m, f"{m}_ci95")],
        *diff_cols,
        "reference",
        "seeds",
    ]
    path = out / "benchmark.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in cols})
    written.append(path)
    path = out / "benchmark_per_seed.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["channel_policy", "power_policy", "seed", *METRICS])
        w.writeheader()
        for res in results:
            for seed, m in zip(res.seeds, res.per_seed, strict=True):
                w.writerow({"channel_policy": res.channel_policy, "power_policy": res.power_policy, "seed": seed,
                            **{k: m[k] for k in METRICS}})  # fmt: skip
    written.append(path)
    path = out / "benchmark.md"
    path.write_text(markdown_table(rows, title))
    written.append(path)
    path = out / "benchmark.png"
    _chart(rows, path, title)
    written.append(path)
    return written


def _cell(r: dict[str, Any], m: str, fmt: str) -> str:
    half = r[f"{m}_ci95"]
    return f"{r[m]:{fmt}}" + ("" if not math.isfinite(half) else f" ± {half:{fmt}}")


def diff_cell(r: dict[str, Any], m: str = "reward", fmt: str = "+.3f") -> str:
    """``+0.123 ± 0.045 *`` (``*``: the paired CI excludes zero); empty without a reference."""
    d, half = r[f"{m}_diff"], r[f"{m}_diff_ci95"]
    if not math.isfinite(d):
        return ""
    if (r["channel_policy"], r["power_policy"]) == tuple(r["reference"].split("/")):
        return "reference"
    return (
        f"{d:{fmt}}" + (f" ± {half:.3f}" if math.isfinite(half) else "") + (" *" if r[f"{m}_diff_significant"] else "")
    )


def markdown_table(rows: list[dict[str, Any]], title: str) -> str:
    ref = rows[0]["reference"] if rows else ""
    cols = ("channel", "power", "reward", *([f"Δ vs {ref}"] if ref else []), "SLE", "p95 latency ms",
            "mean Mb/s", "p5 Mb/s", "elastic Mb/s", "CCA busy", "retry", "ch. changes", "shield", "rollbacks", "DFS",
            "cost")  # fmt: skip
    lines = [f"### {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        delta = f" {diff_cell(r)} |" if ref else ""
        lines.append(
            f"| {r['channel_policy']} | {r['power_policy']} | {_cell(r, 'reward', '.3f')} |{delta} "
            f"{_cell(r, 'sle', '.1%')} | {_cell(r, 'latency_p95_ms', '.0f')} | "
            f"{_cell(r, 'throughput_mean_mbps', '.2f')} | {_cell(r, 'throughput_p5_mbps', '.2f')} | "
            f"{_cell(r, 'elastic_mean_mbps', '.1f')} | {_cell(r, 'cca_busy_mean', '.1%')} | "
            f"{_cell(r, 'retry_rate_mean', '.1%')} | {_cell(r, 'channel_changes', '.1f')} | "
            f"{_cell(r, 'shield_interventions', '.1f')} | {_cell(r, 'rollbacks', '.1f')} | {r['dfs_violations']:.0f} | "
            f"{_cell(r, 'cost', '.1f')} |"
        )
    lines.append("")
    seeds = rows[0]["seeds"] if rows else 0
    ceiling = rows[0]["ceiling"] if rows else math.nan
    delta = (
        "Δ: the paired difference in reward from the reference row on the same seeds (* where its 95 % CI "
        "excludes zero). "
        if ref
        else ""
    )
    lines.append(
        f"Mean ± 95 % confidence half-width over {seeds} seeds. {delta}Reward: the experience utility "
        f"(nats; its demand ceiling on these seeds, every client served in full with no delay, is {ceiling:.3f})."
    )
    return "\n".join(lines) + "\n"


def _chart(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    order = sorted(rows, key=lambda r: r["reward"])
    labels = [f"{r['channel_policy']} / {r['power_policy']}" for r in order]
    fig = Figure(figsize=(8, 0.32 * len(rows) + 1.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ref = rows[0]["reference"] if rows else ""
    # without a reference the rewards themselves; a difference or an interval that does not exist
    # (no reference seed, one seed) is left undrawn, not drawn as zero
    key = "reward_diff" if ref else "reward"
    values = [r[key] for r in order]
    err = [r[f"{key}_ci95"] for r in order]
    colors = ["tab:green" if v > 0 else "tab:red" for v in values] if ref else "tab:blue"
    ax.barh(labels, values, xerr=err, color=colors, alpha=0.8)
    ax.axvline(0.0, color="black", linewidth=0.8)
    what = f"reward difference from {ref}, paired by seed" if ref else "reward"
    ax.set_xlabel(f"{what}, with 95 % CI (nats)")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path)
