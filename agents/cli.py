"""The ``rrm-gym`` command with the agent-side commands (``benchmark``, ``train``, ``evaluate``) added
to the core ones.

The core package (``rrm_gym``) never imports ``agents``; this module extends its parser.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from rrm_gym import cli as core

_timesteps = core._int_range(1, 10**10, "an integer ")
_n_envs = core._int_range(1, 256, "an integer ")

# the default benchmark: the plan as shipped, a random plan, the channel heuristics at full power,
# DCA with each power heuristic, and the oracle
DEFAULT_COMBOS = (
    ("static", "max"),
    ("random", "max"),
    ("lccs", "max"),
    ("unmanaged_aware", "max"),
    ("dca", "max"),
    ("dca", "tpc"),
    ("dca", "client_snr"),
    ("static", "tpc"),
)


def _combo(spec: str) -> tuple[str, str]:
    from agents.baselines import CHANNEL_POLICIES, POWER_POLICIES

    if spec == "oracle":
        return ("oracle", "oracle")
    channel, sep, power = spec.partition("/")
    if not sep or channel not in CHANNEL_POLICIES or power not in POWER_POLICIES:
        raise ValueError(
            f"{spec!r}: give CHANNEL/POWER with CHANNEL in {sorted(CHANNEL_POLICIES)} and "
            f"POWER in {sorted(POWER_POLICIES)}, or 'oracle'"
        )
    return (channel, power)


def _combos(args: argparse.Namespace) -> list[tuple[str, str]]:
    from agents.baselines import CHANNEL_POLICIES, POWER_POLICIES

    if args.policies == ["all"]:
        combos = [(c, p) for c in CHANNEL_POLICIES for p in POWER_POLICIES]
        return combos + ([("oracle", "oracle")] if args.oracle else [])
    if args.policies:
        combos = [_combo(spec) for spec in args.policies]
        twice = _twice(combos)
        if twice:
            raise ValueError(f"--policies: {', '.join('/'.join(c) for c in twice)} given more than once")
        return combos
    return list(DEFAULT_COMBOS) + ([("oracle", "oracle")] if args.oracle else [])


def _twice(values: Sequence) -> list:
    """The values that occur more than once, in order of first occurrence."""
    return [v for v, n in Counter(values).items() if n > 1]


def _seeds_or_report(seeds: list[int] | None, err: Console) -> bool:
    """Whether the seeds are usable (after printing why not): each seed is one paired sample, so
    a seed given twice would count one episode as two and narrow every interval."""
    twice = _twice(seeds or [])
    if twice:
        err.print(
            f"error: --seeds: {', '.join(map(str, twice))} given more than once (each seed is one paired sample)",
            markup=False,
            highlight=False,
        )
    return not twice


def _load_models(paths: Sequence[str] | None, err: Console) -> list | None:
    """Trained policies named on the command line, or ``None`` after printing why one cannot load."""
    from agents.training import load_policy

    models = []
    twice = _twice([str(Path(p).resolve()) if Path(p).exists() else p for p in paths or []])
    if twice:
        err.print(f"error: --model: {', '.join(twice)} given more than once", markup=False, highlight=False)
        return None
    for path in paths or []:
        try:
            models.append(load_policy(path))
        except (OSError, ValueError, RuntimeError) as e:
            err.print(f"error: --model {path}: {e}", markup=False, highlight=False)
            return None
    return models


def _print_table(rows: list[dict], title: str, out: Console) -> None:
    from agents.evaluate import diff_cell

    table = Table(title=title)
    ref = rows[0]["reference"] if rows else ""
    delta = [f"Δ vs {ref}"] if ref else []  # evaluate runs no reference row
    cols = ("channel", "power", "reward", *delta, "SLE", "p95 ms", "mean Mb/s", "p5 Mb/s", "elastic")
    for col in (*cols, "CCA", "retry", "ch.chg", "shield", "rollb.", "DFS", "cost"):
        table.add_column(col, justify="left" if col in ("channel", "power") else "right")

    def cell(r: dict, m: str, fmt: str) -> str:
        half = r[f"{m}_ci95"]
        return f"{r[m]:{fmt}}" + ("" if half != half else f"±{half:{fmt}}")

    for r in rows:
        table.add_row(
            r["channel_policy"],
            r["power_policy"],
            cell(r, "reward", ".3f"),
            *([diff_cell(r)] if ref else []),
            cell(r, "sle", ".0%"),
            cell(r, "latency_p95_ms", ".0f"),
            cell(r, "throughput_mean_mbps", ".2f"),
            cell(r, "throughput_p5_mbps", ".2f"),
            cell(r, "elastic_mean_mbps", ".1f"),
            cell(r, "cca_busy_mean", ".0%"),
            cell(r, "retry_rate_mean", ".0%"),
            f"{r['channel_changes']:.1f}",
            f"{r['shield_interventions']:.1f}",
            f"{r['rollbacks']:.1f}",
            f"{r['dfs_violations']:.0f}",
            f"{r['cost']:.1f}",
        )
    out.print(table)


def _run_rows(sc: object, jobs: list, seeds: list[int], hours: float, err: Console, what: str) -> list:
    """Run (Result, runner) jobs over seeds with a progress bar; the Results."""
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(what, total=len(jobs) * len(seeds))
        for res, runner in jobs:
            for seed in seeds:
                res.per_seed.append(runner(sc, seed, hours))
                res.seeds.append(seed)
                bar.advance(task)
    return [res for res, _ in jobs]


def _model_jobs(models: list, sc: object, err: Console) -> list | None:
    from agents.evaluate import Result, model_env, model_labels, run_model

    jobs = []
    for m in models:
        try:
            model_env(sc, m)
        except ValueError:
            err.print(
                f"error: --model {m.path}: trained on {m.meta.get('scenario')!r}, does not fit scenario {sc.name!r} "
                f"(a policy acts on a fixed number of APs and choices)",
                markup=False,
                highlight=False,
            )
            return None
        jobs.append((Result(*model_labels(m)), lambda s, seed, h, m=m: run_model(s, m, seed, h)))
    return jobs


def _bad_out(target: Path, err: Console) -> bool:
    """Whether ``target`` cannot be the output directory (after printing why): checked before a run,
    so that a file in the way is neither overwritten nor found out only after hours of work."""
    why = core.check_out_dir(target)
    if why is None:
        # made and written to once now (and what was made taken away again), so that a directory
        # that cannot be is refused before the run, not after it
        made = [p for p in (target, *target.parents) if not os.path.lexists(p)]
        try:
            target.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=target):
                pass
        except OSError as e:
            why = f"{target} cannot be written to: {e.strerror or e}"
        for p in made:  # deepest first (those never made are skipped)
            if not os.path.lexists(p):
                continue
            try:
                p.rmdir()
            except OSError:
                break
    if why is not None:
        err.print(f"error: --out {why}", markup=False, highlight=False)
    return why is not None


def _write(results: list, target: Path, title: str, err: Console, reference: tuple[str, str] | None) -> list | None:
    """:func:`agents.evaluate.write_outputs`, or ``None`` after printing why it could not write."""
    from agents.evaluate import write_outputs

    try:
        return write_outputs(results, target, title, reference)
    except OSError as e:
        err.print(f"error: cannot write to {target}: {e.strerror or e}", markup=False, highlight=False)
        return None


def _cmd_benchmark(args: argparse.Namespace, out: Console, err: Console) -> int:
    from agents.baselines import Oracle
    from agents.evaluate import Result, run_baseline, summarise

    sc = core.load_or_report(args.scenario, err)
    if sc is None:
        return core.EXIT_USAGE
    target = Path(args.out) if args.out else Path("runs") / f"benchmark-{sc.name}"
    if not _seeds_or_report(args.seeds, err) or _bad_out(target, err):
        return core.EXIT_USAGE
    try:
        combos = _combos(args)
    except ValueError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        return core.EXIT_USAGE
    models = _load_models(args.model, err)
    if models is None:
        return core.EXIT_USAGE
    model_jobs = _model_jobs(models, sc, err)
    if model_jobs is None:
        return core.EXIT_USAGE
    try:
        reference = _combo(args.reference)
    except ValueError as e:
        err.print(f"error: --reference {e}", markup=False, highlight=False)
        return core.EXIT_USAGE
    if reference not in combos:
        combos.insert(0, reference)
    seeds = args.seeds if args.seeds else list(range(args.episodes))
    jobs = [(Result(c, p), lambda s, seed, h, c=c, p=p: run_baseline(s, c, p, seed, h)) for c, p in combos] + model_jobs
    results = _run_rows(sc, jobs, seeds, args.hours, err, f"benchmark on {sc.name}")
    title = f"{sc.name}: {args.hours:g} h episodes, seeds {', '.join(map(str, seeds))}"
    rows = summarise(results, reference)
    _print_table(rows, title, out)
    out.print(
        f"mean ± 95 % confidence half-width over seeds; Δ: paired by seed against {'/'.join(reference)}, "
        f"* where the 95 % CI excludes zero. reward: the experience utility (nats), demand ceiling "
        f"{rows[0]['ceiling']:.3f} on these seeds.",
        highlight=False,
    )
    if ("oracle", "oracle") in combos:
        out.print(f"oracle: privileged search on the true model, an upper reference; budget: {Oracle().budget}")
    written = _write(results, target, title, err, reference)
    if written is None:
        return 1
    out.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    return core.EXIT_OK


def _cmd_evaluate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from agents.evaluate import ci95, summarise

    sc = core.load_or_report(args.scenario, err)
    if sc is None:
        return core.EXIT_USAGE
    models = _load_models([args.model], err)
    if models is None:
        return core.EXIT_USAGE
    jobs = _model_jobs(models, sc, err)
    if jobs is None:
        return core.EXIT_USAGE
    target = Path(args.out) if args.out else Path("runs") / f"evaluate-{models[0].meta.get('name', 'model')}-{sc.name}"
    if not _seeds_or_report(args.seeds, err) or _bad_out(target, err):
        return core.EXIT_USAGE
    seeds = args.seeds if args.seeds else list(range(100, 100 + args.episodes))
    results = _run_rows(sc, jobs, seeds, args.hours, err, f"evaluate on {sc.name}")
    title = f"{models[0].label} on {sc.name}: {args.hours:g} h episodes, seeds {', '.join(map(str, seeds))}"
    _print_table(summarise(results, None), title, out)
    mean, half = ci95([m["loop_cost"] for m in jobs[0][0].per_seed])
    out.print(
        f"mean ± 95 % confidence half-width over seeds; episode cost of the model's own loop (its training "
        f"signal): {mean:.2f} ± {half:.2f}",
        highlight=False,
    )
    written = _write(results, target, title, err, None)  # no reference row: no differences
    if written is None:
        return 1
    out.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    return core.EXIT_OK


def _cmd_train(args: argparse.Namespace, out: Console, err: Console) -> int:
    from agents.training import TrainConfigError, load_config, train

    overrides = {
        "timesteps": args.timesteps,
        "n_envs": args.n_envs,
        "seed": args.seed,
        "vectorization": args.vectorization,
    }
    try:
        cfg = load_config(args.config, overrides)
    except TrainConfigError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        return core.EXIT_USAGE
    run_dir = Path(args.out) if args.out else Path("runs") / cfg.name
    if _bad_out(run_dir, err):
        return core.EXIT_USAGE
    out.print(
        f"training {cfg.algorithm} on {cfg.env_id} ({cfg.scenario}, other loop: {cfg.other_policy}) for "
        f"{cfg.timesteps} steps into {run_dir}; TensorBoard: tensorboard --logdir {run_dir / 'tb'}",
        highlight=False,
    )
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(cfg.name, total=cfg.timesteps)

        def progress(done: int, stats: Mapping[str, float]) -> None:
            extra = " ".join(f"{k}={v:.3g}" for k, v in stats.items())
            bar.update(task, completed=min(done, cfg.timesteps), description=f"{cfg.name} {extra}")

        try:
            path = train(cfg, run_dir, resume=args.resume, progress=progress)
        except (OSError, TrainConfigError) as e:
            err.print(f"error: {e}", markup=False, highlight=False)
            return core.EXIT_USAGE
    out.print(f"saved {path} (and {path.with_suffix('.json').name}); evaluate with:", highlight=False)
    out.print(f"  rrm-gym evaluate --model {path} --scenario {cfg.scenario}", highlight=False)
    return core.EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = core.build_parser()
    sub = parser.get_default("subparsers")
    p = sub.add_parser("benchmark", help="compare RRM heuristics (and the oracle) over seeds; the main job")
    p.add_argument("--scenario", default="office", help="packaged name or YAML path (default office)")
    p.add_argument(
        "--policies",
        nargs="+",
        metavar="CHANNEL/POWER",
        help="combinations to run, or 'all' (default: eight common ones, + oracle)",
    )
    p.add_argument(
        "--reference",
        default="static/max",
        metavar="CHANNEL/POWER",
        help="the row every other is compared with, paired by seed (default static/max)",
    )
    p.add_argument("--no-oracle", dest="oracle", action="store_false", help="leave the privileged oracle out")
    p.add_argument(
        "--episodes", type=core._episodes, default=3, help="episodes, one per seed 0..N-1, up to 10,000 (default 3)"
    )
    p.add_argument("--seeds", type=core._seed, nargs="+", help="explicit seeds, 0 to 2^32-1 (overrides --episodes)")
    p.add_argument("--hours", type=core._hours, default=1.0, help="episode length in hours, up to 8760 (default 1)")
    p.add_argument(
        "--out", help="directory for benchmark.csv, benchmark_per_seed.csv, .md, .png (default runs/benchmark-SCENARIO)"
    )
    p.add_argument("--model", nargs="+", metavar="PATH", help="trained models to place in the same table")
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser("train", help="train an RL agent from a YAML config (configs/training/)")
    p.add_argument(
        "--config",
        required=True,
        help="training config: a YAML file, or the name of a packaged one (configs/training/)",
    )
    p.add_argument("--timesteps", type=_timesteps, help="override the config's timesteps (1 to 10^10)")
    p.add_argument("--n-envs", type=_n_envs, help="override the config's number of envs (1 to 256)")
    p.add_argument(
        "--vectorization",
        choices=["separate", "batched"],
        help="override the config's: separate envs, or the env's batched vector env (n-envs networks)",
    )
    p.add_argument("--seed", type=core._seed, help="override the config's seed (0 to 2^32-1)")
    p.add_argument("--out", help="run directory (default runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the run directory")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained model with the benchmark's metrics")
    p.add_argument("--model", required=True, help="model.pt / model.zip, or a run directory")
    p.add_argument("--scenario", default="office", help="packaged name or YAML path (default office)")
    p.add_argument(
        "--episodes", type=core._episodes, default=5, help="episodes, seeds 100..100+N-1, up to 10,000 (default 5)"
    )
    p.add_argument("--seeds", type=core._seed, nargs="+", help="explicit seeds, 0 to 2^32-1 (overrides --episodes)")
    p.add_argument("--hours", type=core._hours, default=1.0, help="episode length in hours, up to 8760 (default 1)")
    p.add_argument("--out", help="directory for benchmark.csv / .md / .png")
    p.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return core.main(argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
