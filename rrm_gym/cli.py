"""The ``rrm-gym`` command."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from rrm_gym.config import Scenario, ScenarioError, load_scenario, packaged_scenarios
from rrm_gym.safety.audit_cli import add_audit_parser
from rrm_gym.sim import kernels

EXIT_OK = 0
EXIT_USAGE = 2


# Ranges of the numeric arguments (docs/environments.md lists them).
MAX_HOURS = 8760.0  # one simulated year
MAX_SEED = 2**32 - 1
MAX_PERIODS = 1_000_000
MAX_EPISODES = 10_000


def _float(text: str) -> float:
    try:
        if "_" in text:  # Python's 1_0 is 10; on a command line it is a slip
            raise ValueError
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text[:40]}")
    return value


def _positive_float(text: str) -> float:
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text[:40]}")
    return value


def _hours(text: str) -> float:
    """Simulated hours: a finite number in (0, MAX_HOURS]."""
    value = _positive_float(text)
    if value > MAX_HOURS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_HOURS:g} hours (one year), got {text[:40]}")
    return value


def _int(text: str) -> int:
    try:
        if "_" in text:
            raise ValueError
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer") from None


def _int_range(low: int, high: int, what: str = "") -> Callable[[str], int]:
    """An argparse ``type=``: an integer in ``[low, high]``."""

    def check(text: str) -> int:
        value = _int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {what}in [{low}, {high}], got {text[:40]}")
        return value

    check.__name__ = "integer"  # argparse names the type in its messages
    return check


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text[:40]}")
    return value


_seed = _int_range(0, MAX_SEED, "an integer ")
_periods = _int_range(1, MAX_PERIODS, "an integer ")
_episodes = _int_range(1, MAX_EPISODES, "an integer ")


def check_out_dir(path: Path) -> str | None:
    """Why ``path`` cannot be an output directory (a file is there, or above it), or ``None``."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                where = "" if p == path else f" ({p} is a file)"
                return f"{path} is not a directory{where}: give a directory (it is created if missing)"
            return None
    return None


def load_or_report(name_or_path: str, err: Console) -> Scenario | None:
    """The scenario, or ``None`` after printing why it cannot be loaded."""
    try:
        return load_scenario(name_or_path)
    except ScenarioError as e:
        err.print(str(e), markup=False, highlight=False)
        return None


def _cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    try:
        sc = load_scenario(args.path)
    except ScenarioError as e:
        err.print("invalid scenario", style="bold red", end="")
        err.print(f" ({len(e.problems)} problem{'s' * (len(e.problems) != 1)}):")
        for line in str(e).splitlines():
            err.print(f"  {line}", markup=False, highlight=False)
        return EXIT_USAGE
    out.print(
        f"{args.path}: OK - scenario {sc.name!r}: {len(sc.aps)} APs, {sc.clients.count} clients, "
        f"{len(sc.neighbors)} unmanaged APs, {len(sc.interferers)} interferers, {len(sc.radars)} radars "
        f"({sc.regulatory_domain})",
        highlight=False,
    )
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rrm_gym.sim import WirelessSimulation

    sc = load_or_report(args.scenario, err)
    if sc is None:
        return EXIT_USAGE
    total_s = int(round(args.hours * 3600))
    if total_s < 1:
        err.print(f"--hours {args.hours} is shorter than one 1 s tick")
        return EXIT_USAGE
    sim = WirelessSimulation(sc, seed=args.seed)
    step = sc.loops.fast_period_s
    n = sim.num_aps
    kpi_sum: dict[str, float] = {}
    ap_sum = {name: np.zeros(n) for name in ("cca", "retry", "thr", "air", "clients")}
    with Progress(console=err, transient=True, disable=total_s <= 6 * 3600 or not err.is_terminal) as bar:
        task = bar.add_task(f"simulating {sc.name}", total=total_s)
        done = 0
        while done < total_s:
            span = min(step, total_s - done)
            s = sim.run(span)
            for key, value in s.kpis().items():  # chunk KPIs, weighted by the chunk's duration
                kpi_sum[key] = kpi_sum.get(key, 0.0) + float(value[0]) * span
            ap_sum["cca"] += s.cca_busy_frac[0].sum(axis=0)
            ap_sum["retry"] += s.retry_rate[0].sum(axis=0)
            ap_sum["thr"] += s.throughput_mbps[0].sum(axis=0)
            ap_sum["air"] += s.airtime_frac[0].sum(axis=0)
            ap_sum["clients"] += s.clients_per_ap[0] * span
            done += span
            bar.update(task, advance=span)

    hours = f"{args.hours:g} h"
    table = Table(title=f"{sc.name}: {hours} from {sc.start_hour:g}:00, seed {args.seed} (initial plan)")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    labels = {
        "experience_utility": ("experience utility (the envs' reward)", "{:.3f}"),
        "sle": ("service level: client time meeting need and bound", "{:.1%}"),
        "sle_throughput": ("  meeting its throughput need", "{:.1%}"),
        "sle_latency": ("  within its latency bound", "{:.1%}"),
        "latency_p95_ms": ("latency, 95th percentile", "{:.0f} ms"),
        "throughput_mean_mbps": ("client throughput, mean (active clients)", "{:.2f} Mb/s"),
        "throughput_p5_mbps": ("client throughput, 5th percentile", "{:.2f} Mb/s"),
        "elastic_mean_mbps": ("elastic (bulk) flows, mean", "{:.2f} Mb/s"),
        "cca_busy_mean": ("CCA busy, mean over active APs", "{:.1%}"),
        "retry_rate_mean": ("retry rate, mean over active APs", "{:.1%}"),
    }
    for key, (label, fmt) in labels.items():
        table.add_row(label, fmt.format(kpi_sum[key] / total_s))
    out.print(table)

    per_ap = Table(title="per AP (means over the run)")
    cols = ("AP", "GHz", "ch", "MHz", "dBm", "clients", "CCA busy", "airtime", "retry", "Mb/s")
    for col in cols:
        per_ap.add_column(col, justify="left" if col == "AP" else "right")
    for i, ap in enumerate(sc.aps):
        per_ap.add_row(
            ap.name or f"ap{i}",
            f"{sim.ap_band_ghz[i]:g}",
            str(int(sim.channel[0, i])),
            str(int(sim.width_mhz[0, i])),
            f"{sim.power_dbm[0, i]:.0f}",
            f"{ap_sum['clients'][i] / total_s:.1f}",
            f"{ap_sum['cca'][i] / total_s:.1%}",
            f"{ap_sum['air'][i] / total_s:.1%}",
            f"{ap_sum['retry'][i] / total_s:.1%}",
            f"{ap_sum['thr'][i] / total_s:.1f}",
        )
    out.print(per_ap)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rrm_gym.safety.audit import SINK_MAX_BYTES, SINK_RETENTION_FILES, AuditConfigError, AuditLog, resolve_key
    from rrm_gym.safety.demo import run_demo

    sc = load_or_report(args.scenario, err)
    if sc is None:
        return EXIT_USAGE
    audit_path = None
    try:
        key = resolve_key(key_file=args.key_file)
        if args.audit_dir is not None:
            audit_path = Path(args.audit_dir) / "audit.jsonl"
        sink = {"max_bytes": SINK_MAX_BYTES, "retention_files": SINK_RETENTION_FILES} if audit_path else {}
        audit = AuditLog(key, path=audit_path, fsync=args.fsync, **sink)
    except (AuditConfigError, OSError) as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        return EXIT_USAGE
    try:
        with audit, Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task(f"demo on {sc.name}", total=args.periods)
            report = run_demo(sc, args.periods, args.seed, audit, progress=lambda: bar.advance(task))
    except OSError as e:  # the disk filled up, the file system went away: every whole record stays
        kept = (
            f"; the records written before it are kept and verify with: "
            f"rrm-gym audit verify {audit_path.parent} --allow-unsealed"
            if audit_path is not None
            else ""
        )
        err.print(f"error: {e.strerror or e}{kept}", markup=False, highlight=False)
        return 1
    c = report.counters
    table = Table(
        title=f"event loop demo: {report.periods} x {report.period_s} s on {report.scenario}, seed {args.seed}"
    )
    table.add_column("what")
    table.add_column("count", justify="right")
    by_source = c["events_by_source"]
    table.add_row("events detected automatically", str(by_source.get("detected", 0)))
    table.add_row("  (incl. rollback-monitor verdicts)", str(c["events_by_type"].get("DEGRADATION", 0)))
    table.add_row("events injected", str(by_source.get("injected", 0)))
    table.add_row("change requests (agent / manual)", f"{by_source.get('agent', 0)} / {by_source.get('manual', 0)}")
    for name, count in sorted(c["events_by_type"].items()):
        table.add_row(f"  {name}", str(count))
    table.add_row("actions executed", str(c["actions_executed"]))
    for name, count in sorted(c["actions_by_type"].items()):
        table.add_row(f"  {name}", str(count))
    table.add_row("shield outcomes", ", ".join(f"{k} {v}" for k, v in sorted(c["shield_outcomes"].items())) or "-")
    table.add_row("rollbacks (automatic / manual)", f"{c['rollbacks_auto']} / {c['rollbacks_manual']}")
    table.add_row("rejected by cooldown", str(c["cooldown_deferrals"]))
    statuses = c["audit_records_by_status"]
    table.add_row("audit records", str(sum(statuses.values())))
    for name, count in sorted(statuses.items()):
        table.add_row(f"  {name}", str(count))
    table.add_row("DFS reactions (worst)", f"{c['dfs_reactions']} ({c['dfs_reaction_worst_s']:.0f} s)")
    table.add_row("radar pulses hitting an AP's band", str(c["radar_hits"]))
    table.add_row("DFS violations (compliance monitor)", str(c["dfs_violations"]))
    table.add_row("EIRP violations (compliance monitor)", str(c["eirp_violations"]))
    out.print(table)
    for line in report.injected:
        out.print(f"  {line}", highlight=False)
    k = report.kpis
    out.print(
        f"client throughput mean {k['throughput_mean_mbps']:.2f} Mb/s, p5 {k['throughput_p5_mbps']:.2f} Mb/s; "
        f"CCA busy {k['cca_busy_mean']:.1%}; retry {k['retry_rate_mean']:.1%}",
        highlight=False,
    )
    if audit_path is not None:
        out.print(
            f"audit log written to {audit_path.parent}/, sealed at head {audit.head} "
            f"(verify: rrm-gym audit verify {audit_path.parent})"
        )
    elif audit.ephemeral_key:
        out.print("audit log kept in memory, signed with a throw-away key (give --audit-dir to keep it)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rrm-gym", description="Wi-Fi radio resource management gym.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.set_defaults(subparsers=sub)

    p = sub.add_parser("validate", help="check a scenario file and explain every problem")
    p.add_argument("path", help="scenario YAML path or packaged name")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("simulate", help="run a scenario with its initial plan and print KPIs")
    p.add_argument(
        "--scenario", default="office", help=f"packaged name ({', '.join(packaged_scenarios())}) or YAML path"
    )
    p.add_argument("--hours", type=_hours, default=1.0, help="simulated hours, up to 8760 (default 1)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed, 0 to 2^32-1 (default 0)")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("demo", help="the event loop end to end: detection, injected events, rollback, audit")
    p.add_argument("--scenario", default="dfs_site", help="packaged name or YAML path (default dfs_site)")
    p.add_argument(
        "--periods", type=_periods, default=100, help="fast-loop periods to run, 1 to 1,000,000 (default 100)"
    )
    p.add_argument("--seed", type=_seed, default=0, help="random seed, 0 to 2^32-1 (default 0)")
    p.add_argument("--audit-dir", help="write the signed audit log here (needs a key)")
    p.add_argument("--key-file", help="file holding the audit HMAC key (default: $RRM_GYM_AUDIT_KEY)")
    p.add_argument("--fsync", action="store_true", help="fsync the audit file after every record")
    p.set_defaults(func=_cmd_demo)

    add_audit_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run the command line; ``parser`` lets ``agents.cli`` add the training-side commands."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    # tables piped to a file or a log keep their columns instead of wrapping at 80; no markup:
    # names and paths the user chose ("lab [bold]", "out[/]x") print as they are
    out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, markup=False)
    err = Console(stderr=True, soft_wrap=True, markup=False)
    try:
        if args.command not in ("audit", "validate"):  # the commands that simulate read it
            kernels.threads_from_env()
    except ValueError as e:
        err.print(f"error: {e}")
        return 2
    try:
        if args.command == "audit":
            return args.func(args)
        return args.func(args, out, err)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
