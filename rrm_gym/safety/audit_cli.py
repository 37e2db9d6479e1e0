"""``rrm-gym audit verify|export``: check and export a signed audit log.

Wire into the main CLI with :func:`add_audit_parser`; ``python -m rrm_gym.safety.audit_cli verify PATH``
runs the same subcommands standalone. Exit codes: 0 intact and vouched for to its end (sealed, or
ending at ``--expect-head``, or accepted with ``--allow-unsealed``) / exported; 1 tampered, cut,
unsealed or empty (or export refused because of it); 2 unreadable path, no key or bad usage.

The key comes from ``--key-file`` or ``$RRM_GYM_AUDIT_KEY``; there is deliberately no ``--key``
option, because a key on the command line leaks into shell history and process listings.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import shutil
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from rrm_gym.safety.audit import (
    KEY_ENV_VAR,
    AuditConfigError,
    VerifyResult,
    iter_records,
    log_files,
    parse_head,
    resolve_key,
    rotation_index,
    verify,
)
from rrm_gym.safety.audit.verify import base_of, dumps_record

EXIT_OK = 0
EXIT_TAMPERED = 1
EXIT_USAGE = 2
CSV_COLUMNS = (
    "sequence",
    "audit_id",
    "sim_time_s",
    "network",
    "ap_id",
    "event_type",
    "action_type",
    "source",
    "execution_status",
    "reason",
    "rollback_token",
    "configuration_changes",
)


def _say(console: Any, text: str, *, stderr: bool = False) -> None:
    # The main CLI passes rich Consoles; standalone use prints plainly. Paths must not be read as markup.
    if console is None:
        print(text, file=sys.stderr if stderr else sys.stdout)
    else:
        console.print(text, markup=False, highlight=False)


def _key(args: argparse.Namespace, err: Any) -> bytes | None:
    try:
        key = resolve_key(key_file=args.key_file)
    except AuditConfigError as e:
        _say(err, f"error: {e}", stderr=True)
        return None
    if key is None:
        _say(err, f"error: no audit key: set ${KEY_ENV_VAR} or pass --key-file FILE", stderr=True)
    return key


def _verify(args: argparse.Namespace, err: Any) -> VerifyResult | None:
    """Verify ``args.path`` with the key from ``args``; ``None`` (reported) when either is unusable."""
    key = _key(args, err)
    if key is None:
        return None
    path = args.path
    try:
        head = parse_head(args.expect_head) if args.expect_head else None
    except ValueError as e:
        _say(err, f"error: --expect-head: {e}", stderr=True)
        return None
    try:
        return verify(
            path,
            key,
            allow_unsealed=args.allow_unsealed,
            expect_head=head,
            anchor=False if args.no_anchor else args.anchor,
        )
    except (OSError, AuditConfigError) as e:
        _say(err, f"error: cannot read audit log {path!r}: {getattr(e, 'strerror', None) or e}", stderr=True)
        return None


def _problem_line(result: VerifyResult) -> str:
    if result.intact:
        return f"NOT VOUCHED FOR: {result.reason}"
    where = f"{result.file} line {result.first_bad_line}" if result.file else "the log"
    return f"TAMPERED: {where} (sequence {result.first_bad_sequence}): {result.reason}"


def cmd_verify(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    """``audit verify PATH``: 0 intact and vouched for to its end; 1 tampered, cut or unsealed; 2 no key or path."""
    result = _verify(args, err)
    if result is None:
        return EXIT_USAGE
    if not result.ok:
        _say(out, _problem_line(result))
        if result.intact and result.records and not args.allow_unsealed:
            _say(out, "(pass --allow-unsealed to accept an unsealed log for crash forensics)")
        if not result.intact and result.records == 0 and result.reason.startswith("signature mismatch"):
            _say(out, "(not even the first record verifies: check that this is the key the log was written with)")
        return EXIT_TAMPERED
    sealed = "sealed" if result.sealed else "NOT sealed"
    _say(out, f"OK: {result.records} records verified in {args.path}, {sealed}; head {result.head}")
    if args.allow_unsealed and not (result.sealed and not result.unsealed_resumes):
        _say(out, "warning: accepted with --allow-unsealed: records may be missing from the end (or before a resume)")
    for note in result.notes:
        _say(out, f"note: {note}")
    p = Path(args.path)
    if p.is_file() and rotation_index(p) == 0 and any(p.parent.glob(f"{glob.escape(p.name)}.[0-9]*")):
        _say(out, f"note: rotated files {p.name}.N exist beside it; verify the directory to check the whole chain")
    return EXIT_OK


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run: text starting like a formula gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def cmd_export(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    """``audit export PATH --out OUT``: verify, then write every record as JSON Lines or CSV."""
    result = _verify(args, err)
    if result is None:
        return EXIT_USAGE
    if not result.ok:
        _say(out, _problem_line(result))
        if not args.force:
            _say(err, "error: refusing to export a tampered log (use --force to export it anyway)", stderr=True)
            return EXIT_TAMPERED
        _say(err, "warning: exporting a tampered log (--force); unparseable lines are skipped", stderr=True)
    fmt = args.format or ("csv" if args.out.lower().endswith(".csv") else "jsonl")
    out_path = Path(args.out)
    partial: Path | None = None
    try:
        files = log_files(args.path)  # before the output exists, so that it cannot join the log
        refusal = _out_refusal(Path(os.path.realpath(out_path)), files, Path(args.path).is_dir())
        if refusal:
            _say(err, f"error: --out {args.out!r} {refusal}", stderr=True)
            return EXIT_USAGE
        st = out_path.stat() if out_path.exists() else None
        if st is not None and stat.S_ISDIR(st.st_mode):
            _say(err, f"error: --out {args.out!r} is a directory: give a file name", stderr=True)
            return EXIT_USAGE
        records = iter_records(args.path, skip_invalid=args.force)
        if st is not None and not stat.S_ISREG(st.st_mode):  # a pipe, a terminal (/dev/stdout): a stream
            with open(out_path, "w", encoding="utf-8", newline="") as fh:
                count = _write_records(fh, records, fmt)
        else:
            # written beside the file (a link's target, not the link) and renamed over it at the end, with
            # its permissions: a failed export leaves a file there as it was
            target = Path(os.path.realpath(out_path))
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            with open(partial, "w", encoding="utf-8", newline="") as fh:
                count = _write_records(fh, records, fmt)
            if st is not None:
                shutil.copymode(target, partial)
            os.replace(partial, target)
    except (OSError, AuditConfigError, ValueError) as e:
        if partial is not None:
            partial.unlink(missing_ok=True)
        _say(err, f"error: export to {args.out!r} failed: {getattr(e, 'strerror', None) or e}", stderr=True)
        return EXIT_USAGE
    _say(out, f"exported {count} records from {args.path} to {args.out} ({fmt})")
    return EXIT_OK


def _write_records(fh: IO[str], records: Iterable[Mapping[str, Any]], fmt: str) -> int:
    """``records`` written to ``fh`` as CSV or JSON Lines; returns how many."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for rec in records:
            row = [_csv_cell(rec.get(c)) for c in CSV_COLUMNS[:-1]]
            changes = json.dumps(
                rec.get("configuration_changes"), separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
            writer.writerow([*row, _csv_cell(changes)])
            count += 1
    else:
        for rec in records:
            fh.write(dumps_record(rec) + "\n")
            count += 1
    return count


def _out_refusal(out: Path, files: list[Path], whole_directory: bool) -> str:
    """Why writing an export to ``out`` would damage the log of ``files`` ("" if it would not):
    one of its files (by any name or link), its anchor, or a file its directory would count in."""
    log_dir = files[0].parent.resolve()
    base = base_of(files[0]).name
    if out.exists() and any(os.path.samefile(out, f) for f in files):
        return "is one of the log's own files"
    if out.parent.resolve() == log_dir and (out.name == f"{base}.anchor" or out.name.startswith(f"{base}.")):
        return "is the log's anchor or a name its rotated files take"
    if whole_directory and out.parent.resolve() == log_dir and out.name.endswith(".jsonl"):
        return "would make a second log in the log's directory (write the export elsewhere)"
    return ""


def _add_subcommands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")
    key_help = f"file holding the HMAC key (default: ${KEY_ENV_VAR})"

    p = sub.add_parser("verify", help="check signatures, the hash chain and the seal; exit 1 if not vouched for")
    p.add_argument("path", help="audit log file, or directory of rotated files (audit.jsonl, audit.jsonl.1, ...)")
    p.add_argument("--key-file", help=key_help)
    _add_end_options(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("export", help="verify, then write the records as JSON Lines or CSV")
    p.add_argument("path", help="audit log file or directory of rotated files")
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--key-file", help=key_help)
    _add_end_options(p)
    p.add_argument(
        "--format", choices=("jsonl", "csv"), default=None, help="output format (default: from --out, else jsonl)"
    )
    p.add_argument("--force", action="store_true", help="export even if verification fails")
    p.set_defaults(func=cmd_export)


def _add_end_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--expect-head",
        metavar="SEQ:SIGNATURE",
        help="the log must hold this record (a head kept elsewhere, as 'verify' prints it); vouched for up to it",
    )
    p.add_argument("--anchor", help="anchor file to check the log's end against (default: <log>.anchor beside it)")
    p.add_argument("--no-anchor", action="store_true", help="do not read the anchor file beside the log")
    p.add_argument(
        "--allow-unsealed",
        action="store_true",
        help="accept a log that is intact but not sealed (its writer crashed), with a warning",
    )


def add_audit_parser(subparsers: Any) -> None:
    """Add ``audit verify`` / ``audit export`` to the ``rrm-gym`` subparsers; each sets ``func(args) -> int``."""
    p = subparsers.add_parser(
        "audit",
        help="verify or export a tamper-evident audit log",
        description="Verify or export an HMAC-signed, hash-chained audit log (key: --key-file or $RRM_GYM_AUDIT_KEY).",
    )
    _add_subcommands(p)


def main(argv: list[str] | None = None) -> int:
    """Standalone ``audit`` command: ``main(["verify", "audit/"])``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="rrm-gym audit", description="Verify or export a signed audit log.")
    _add_subcommands(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits on bad usage (2) and --help (0); return it instead
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
