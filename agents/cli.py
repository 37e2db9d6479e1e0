"""The ``rrm-gym`` command with the agent-side commands (``benchmark``) added to the core ones.

The core package (``rrm_gym``) never imports ``agents``; this module extends its parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from rrm_gym import cli as core


def _combos(args: argparse.Namespace) -> list[tuple[str, str]]:
    from agents.baselines import CHANNEL_POLICIES, POWER_POLICIES

    if args.policies:
        out = []
        for spec in args.policies:
            if spec == "oracle":
                out.append(("oracle", "oracle"))
                continue
            channel, sep, power = spec.partition("/")
            if not sep or channel not in CHANNEL_POLICIES or power not in POWER_POLICIES:
                raise ValueError(
                    f"--policies {spec!r}: give CHANNEL/POWER with CHANNEL in {sorted(CHANNEL_POLICIES)} and "
                    f"POWER in {sorted(POWER_POLICIES)}, or 'oracle'"
                )
            out.append((channel, power))
        return out
    combos = [(c, p) for c in CHANNEL_POLICIES for p in POWER_POLICIES]
    return combos + ([("oracle", "oracle")] if args.oracle else [])


def _cmd_benchmark(args: argparse.Namespace, out: Console, err: Console) -> int:
    from agents.evaluate import Result, run_baseline, write_outputs

    sc = core.load_or_report(args.scenario, err)
    if sc is None:
        return core.EXIT_USAGE
    try:
        combos = _combos(args)
    except ValueError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        return core.EXIT_USAGE
    seeds = args.seeds if args.seeds else list(range(args.episodes))
    results = [Result(c, p) for c, p in combos]
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"benchmark on {sc.name}", total=len(combos) * len(seeds))
        for res in results:
            for seed in seeds:
                res.per_seed.append(run_baseline(sc, res.channel_policy, res.power_policy, seed, args.hours))
                bar.advance(task)
    rows = sorted((r.summary() for r in results), key=lambda r: -r["pf_utility"])
    title = f"{sc.name}: {args.hours:g} h episodes, seeds {', '.join(map(str, seeds))}"
    table = Table(title=title)
    for col in (
        "channel",
        "power",
        "PF utility",
        "mean Mb/s",
        "p5 Mb/s",
        "CCA busy",
        "retry",
        "ch.chg",
        "shield",
        "rollb.",
        "DFS",
    ):
        table.add_column(col, justify="left" if col in ("channel", "power") else "right")

    def cell(r: dict, m: str, fmt: str) -> str:
        half = r[f"{m}_ci95"]
        return f"{r[m]:{fmt}}" + ("" if half != half else f"±{half:{fmt}}")

    for r in rows:
        table.add_row(
            r["channel_policy"],
            r["power_policy"],
            cell(r, "pf_utility", ".3f"),
            cell(r, "throughput_mean_mbps", ".2f"),
            cell(r, "throughput_p5_mbps", ".2f"),
            cell(r, "cca_busy_mean", ".0%"),
            cell(r, "retry_rate_mean", ".0%"),
            f"{r['channel_changes']:.1f}",
            f"{r['shield_interventions']:.1f}",
            f"{r['rollbacks']:.1f}",
            f"{r['dfs_violations']:.0f}",
        )
    out.print(table)
    out.print("mean ± 95 % confidence half-width over seeds; oracle = privileged search on the true model")
    written = write_outputs(rows, Path(args.out) if args.out else Path("runs") / f"benchmark-{sc.name}", title)
    out.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    return core.EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = core.build_parser()
    sub = parser.get_default("subparsers")
    p = sub.add_parser("benchmark", help="compare RRM heuristics (and the oracle) over seeds; the main job")
    p.add_argument("--scenario", default="office", help="packaged name or YAML path (default office)")
    p.add_argument(
        "--policies", nargs="+", metavar="CHANNEL/POWER", help="combinations to run (default: all, + oracle)"
    )
    p.add_argument("--no-oracle", dest="oracle", action="store_false", help="leave the privileged oracle out")
    p.add_argument("--episodes", type=core._positive_int, default=3, help="episodes, one per seed 0..N-1 (default 3)")
    p.add_argument("--seeds", type=core._int, nargs="+", help="explicit seeds (overrides --episodes)")
    p.add_argument("--hours", type=core._positive_float, default=1.0, help="episode length in hours (default 1)")
    p.add_argument("--out", help="directory for benchmark.csv / .md / .png (default runs/benchmark-SCENARIO)")
    p.set_defaults(func=_cmd_benchmark)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return core.main(argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
