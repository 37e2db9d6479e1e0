"""Speed of the working tree against an earlier commit, both timed in one process.

On a noisy shared machine two benchmark runs minutes apart can differ by 2x, so a change's
gain is measured here instead: the package as of ``--against`` (a git revision) is exported
to a temporary folder under another name, and the same work is timed on both, interleaved:

* ``sim``: per scenario and batch size, one simulated hour in 60 calls of ``run(60)`` (the
  fast loop's pattern) after a warm-up hour, old and new alternating call by call (the first
  alternating too) over ``--repeats`` replays of the same hour from copies; each call's time
  is its fastest replay, and the ratio is of the sums;
* ``events``: the event loop's request stream of ``bench_event_loop.py`` one ``submit`` at a
  time, and one power request per AP of ``--networks`` networks per ``submit_many`` call,
  old and new alternating; fastest of ``--repeats`` runs.

The sensing (``sim``) and the audit records (``events``) of both are compared as well: the
sensing is reported ``identical`` (bit for bit), ``same to X`` (float readings within a relative
X < 1e-9 of each other, or 1e-6 X absolute where they are under 1e-6, single-precision ones
within one unit in the last place, every other field equal: rounding) or ``DIFFERENT``; the
records ``identical`` or ``DIFFERENT``.

    python benchmarks/ab_speed.py --against 7ad1b5d sim --scenarios enterprise hall --batch 1 64
    python benchmarks/ab_speed.py --against 7ad1b5d events --networks 1 64
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OLD = "rrm_ab_old"


def export_old(rev: str, into: Path) -> None:
    """``rrm_gym`` and ``configs`` as of ``rev`` under ``into``, the package renamed to ``OLD``."""
    archive = into / "old.tar"
    try:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--output", str(archive), rev, "rrm_gym", "configs"],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"ab_speed: cannot export {rev!r}: {e.stderr.strip()}") from None
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    (into / "rrm_gym").rename(into / OLD)
    for path in (into / OLD).rglob("*.py"):
        path.write_text(path.read_text().replace("rrm_gym", OLD))


def packages(rev: str, tmp: Path) -> dict[str, str]:
    export_old(rev, tmp)
    sys.path.insert(0, str(tmp))
    return {"old": OLD, "new": "rrm_gym"}


def module(pkg: str, name: str) -> ModuleType:
    return importlib.import_module(f"{pkg}.{name}")


def sensing_diff(a: object, b: object) -> float:
    """The largest relative difference between two readings' float fields (0: bit-for-bit the
    same), or ``inf`` when a shape or a field of another type differs."""
    worst = 0.0
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if x.shape != y.shape:
                return np.inf
            if x.dtype.kind == "f":
                both = np.isfinite(x) & np.isfinite(y)
                if not np.array_equal(np.where(both, 0.0, x), np.where(both, 0.0, y), equal_nan=True):
                    return np.inf  # a NaN or an infinity in one place and not the other
                x, y = x[both].astype(float), y[both].astype(float)
                gap = np.abs(x - y)
                if getattr(a, f.name).dtype == np.float32:
                    # per-tick readings are kept in single precision: a double-precision rounding
                    # difference may land on the neighbouring float32, one unit in the last place
                    gap[gap <= np.spacing(np.maximum(np.abs(x), np.abs(y)).astype(np.float32))] = 0.0
                d = gap / np.maximum(np.abs(x), 1e-6)  # relative; below 1e-6, absolute x 1e6
                worst = max(worst, float(d.max(initial=0.0)))
            elif not np.array_equal(x, y):
                return np.inf
        elif x != y:
            return np.inf
    return worst


def describe(diff: float) -> str:
    return "identical" if diff == 0 else f"same to {diff:.0e}" if diff < 1e-9 else "DIFFERENT"


def ab_sim(pkgs: dict[str, str], scenarios: list[str], batches: list[int], repeats: int) -> None:
    print(f"{'scenario':<12} {'B':>3} | {'old ms/min':>10} {'new ms/min':>10} | {'new/old speed':>13} | sensing")
    for scenario in scenarios:
        for b in batches:
            warm = {}
            for k, pkg in pkgs.items():
                sim = module(pkg, "sim").WirelessSimulation(scenario, seed=0, num_networks=b)
                sim.run(3600)
                warm[k] = sim
            best = {k: [np.inf] * 60 for k in pkgs}
            diff = 0.0
            for rep in range(repeats):
                sims = {k: copy.deepcopy(v) for k, v in warm.items()}
                for i in range(60):
                    out = {}
                    for k in list(pkgs) if (i + rep) % 2 == 0 else list(pkgs)[::-1]:
                        t = time.perf_counter()
                        out[k] = sims[k].run(60)
                        best[k][i] = min(best[k][i], time.perf_counter() - t)
                    diff = max(diff, sensing_diff(out["old"], out["new"]))
            old, new = (sum(best[k]) / 60 * 1e3 for k in ("old", "new"))
            print(f"{scenario:<12} {b:>3} | {old:>10.3f} {new:>10.3f} | {old / new:>12.3f}x | {describe(diff)}")


def request_stream(pkg: str, count: int) -> tuple[object, list]:
    """The loop and stream of ``bench_event_loop.events_per_s`` (a power step, a channel move in ten)."""
    safety, sim_mod = module(pkg, "safety"), module(pkg, "sim")
    sim = sim_mod.WirelessSimulation("office", seed=0)
    cooldown = safety.CooldownConfig(0.0, 0.0, 0.0)
    loop = safety.EventLoop(sim, safety.EventLoopConfig(cooldown=cooldown), audit=safety.AuditLog(b"ab-key-not-secret"))
    loop.shield.max_channel_changes = sim.num_aps
    rng = np.random.default_rng(0)
    aps = rng.integers(0, sim.num_aps, count)
    powers = rng.choice([5.0, 8.0, 11.0, 14.0, 17.0, 20.0], count)
    channels = rng.choice([36, 40, 44, 48, 149, 153, 157, 161], count)
    req = safety.ChangeRequest
    stream = [
        req(int(aps[i]), channel=int(channels[i]), power_dbm=float(powers[i]))
        if i % 10 == 0 and sim.ap_band_ghz[aps[i]] == 5.0
        else req(int(aps[i]), power_dbm=float(powers[i]))
        for i in range(count)
    ]
    return loop, stream


def request_batches(pkg: str, count: int, networks: int) -> tuple[object, list]:
    """The loop and batches of ``bench_event_loop.batched_events_per_s``."""
    safety, sim_mod = module(pkg, "safety"), module(pkg, "sim")
    sim = sim_mod.WirelessSimulation("office", seed=0, num_networks=networks)
    cooldown = safety.CooldownConfig(0.0, 0.0, 0.0)
    loop = safety.EventLoop(sim, safety.EventLoopConfig(cooldown=cooldown), audit=safety.AuditLog(b"ab-key-not-secret"))
    n = sim.num_aps
    steps = max(1, count // (n * networks))
    powers = np.random.default_rng(0).choice([5.0, 8.0, 11.0, 14.0, 17.0, 20.0], (steps, networks, n))
    req = safety.ChangeRequest
    batches = [
        [req(ap, power_dbm=float(p), network=b) for b in range(networks) for ap, p in enumerate(step[b])]
        for step in powers
    ]
    return loop, batches


def records(loop: object) -> list[str]:
    """A loop's audit records without their ids and signatures (the ids' prefix is per log)."""
    drop = ("audit_id", "signature", "prev_signature")
    return [repr({k: v for k, v in r.to_dict().items() if k not in drop}) for r in loop.audit.records]


def ab_events(pkgs: dict[str, str], networks: list[int], count: int, repeats: int) -> None:
    print(f"{'requests':<26} | {'old /s':>8} {'new /s':>8} | {'new/old speed':>13} | records")
    rows: list[tuple[str, int | None]] = [("one submit at a time", None)] + [
        (f"submit_many x{n} networks", n) for n in networks
    ]
    for label, nets in rows:
        best = {k: 0.0 for k in pkgs}
        same = True
        for rep in range(repeats):
            done = {}
            for k in list(pkgs) if rep % 2 == 0 else list(pkgs)[::-1]:
                if nets is None:
                    loop, stream = request_stream(pkgs[k], count)
                    t = time.perf_counter()
                    for r in stream:
                        loop.submit(r)
                    n = len(stream)
                else:
                    loop, batches = request_batches(pkgs[k], count, nets)
                    t = time.perf_counter()
                    for batch in batches:
                        loop.submit_many(batch)
                        loop.take_results()
                    n = sum(map(len, batches))
                best[k] = max(best[k], n / (time.perf_counter() - t))
                done[k] = loop
            same = same and records(done["old"]) == records(done["new"])
        print(
            f"{label:<26} | {best['old']:>8,.0f} {best['new']:>8,.0f} | {best['new'] / best['old']:>12.3f}x | "
            f"{'identical' if same else 'DIFFERENT'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="git revision of the old code, e.g. HEAD~3 or a commit")
    parser.add_argument("--repeats", type=int, default=4)
    sub = parser.add_subparsers(dest="what", required=True)
    p_sim = sub.add_parser("sim", help="simulation: one hour in run(60) calls")
    p_sim.add_argument("--scenarios", nargs="+", default=["enterprise", "hall", "legacy_24", "office"])
    p_sim.add_argument("--batch", nargs="+", type=int, default=[1, 64])
    p_ev = sub.add_parser("events", help="event loop: change requests through shield, apply, audit, watch")
    p_ev.add_argument("--networks", nargs="+", type=int, default=[1, 8, 64])
    p_ev.add_argument("--events", type=int, default=30_000)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    with tempfile.TemporaryDirectory() as tmp:
        pkgs = packages(args.against, Path(tmp))
        print(f"old: {args.against} (exported), new: the working tree; {args.repeats} repeats\n")
        if args.what == "sim":
            if any(b < 1 for b in args.batch):
                parser.error("--batch values must be >= 1")
            ab_sim(pkgs, args.scenarios, args.batch, args.repeats)
        else:
            if any(n < 1 for n in args.networks) or args.events < 100:
                parser.error("--networks values must be >= 1 and --events >= 100")
            ab_events(pkgs, args.networks, args.events, args.repeats)


if __name__ == "__main__":
    main()
