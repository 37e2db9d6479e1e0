"""The ``rrm-gym`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from rrm_gym.config import ScenarioError, load_scenario, packaged_scenarios

EXIT_OK = 0
EXIT_USAGE = 2


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    try:
        sc = load_scenario(args.path)
    except ScenarioError as e:
        err.print(f"[bold red]invalid scenario[/] ({len(e.problems)} problem{'s' * (len(e.problems) != 1)}):")
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

    try:
        sc = load_scenario(args.scenario)
    except ScenarioError as e:
        err.print(str(e), markup=False, highlight=False)
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
        "throughput_mean_mbps": ("client throughput, mean", "{:.2f} Mb/s"),
        "throughput_p5_mbps": ("client throughput, 5th percentile", "{:.2f} Mb/s"),
        "cca_busy_mean": ("CCA busy, mean over APs", "{:.1%}"),
        "retry_rate_mean": ("retry rate, mean over APs", "{:.1%}"),
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rrm-gym", description="Wi-Fi radio resource management gym.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a scenario file and explain every problem")
    p.add_argument("path", help="scenario YAML path or packaged name")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("simulate", help="run a scenario with its initial plan and print KPIs")
    p.add_argument(
        "--scenario", default="office", help=f"packaged name ({', '.join(packaged_scenarios())}) or YAML path"
    )
    p.add_argument("--hours", type=_positive_float, default=1.0, help="simulated hours (default 1)")
    p.add_argument("--seed", type=_int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    try:
        return args.func(args, out, err)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
