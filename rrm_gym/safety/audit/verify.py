"""Verifying a log: every record's signature and link, and whether its whole length is vouched for.

A chain of signed records shows that nothing was edited, inserted, reordered or removed *between*
records, but not that records were not removed from the *end*. That is what the seal, the anchor
and an expected head are for:

* **Seal.** A writer that closes a log appends a signed :data:`~.record.LOG_SEALED` record. A log
  whose last record is not a seal was cut at its end, or its writer crashed; the two cannot be
  told apart without an anchor, so such a log does not verify unless the reader accepts it
  (``allow_unsealed``, for crash forensics). A writer that resumes an unsealed log says so in a
  signed :data:`~.record.LOG_RESUMED` record, which keeps failing verification the same way.
* **Anchor.** At each checkpoint (every N records or T seconds) and at the seal the writer
  rewrites a small signed file, ``<log>.anchor`` by default, holding the head: the sequence and
  signature of its newest record. A log that does not reach its anchor's head was cut. An anchor
  beside the log guards against accidents and careless edits; against someone who can write
  to the log's directory it helps only when kept elsewhere (another host, write-once storage),
  since an older anchor is validly signed too.
* **Expected head.** ``expect_head=(sequence, signature)``, kept by whoever needs it: the log
  must hold that record, and is vouched for up to it.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .keys import AuditConfigError, require_key
from .record import (
    CHAIN_BROKEN,
    GENESIS_SIGNATURE,
    LOG_RESUMED,
    LOG_ROTATED,
    LOG_SEALED,
    MAX_LINE_BYTES,
    RECORD_FIELDS,
    SIGNATURE_MISMATCH,
    AuditRecord,
    canonical_json,
    compute_signature,
    parse_line,
    sign,
)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_LOG_NAME = re.compile(r"(?P<base>.+\.jsonl)(?:\.(?P<index>[1-9][0-9]*))?")
ANCHOR_SUFFIX = ".anchor"
_ANCHOR_FIELDS = ("log", "sequence", "signature", "sealed")


@dataclass
class VerifyResult:
    """Outcome of :func:`verify` / :func:`verify_records`.

    ``ok`` is what ``rrm-gym audit verify`` exits 0 on: every record verifies and links, and the
    log is vouched for to its end (sealed, or ending at the expected head), or the caller accepted
    an unsealed log. ``intact`` alone says that no record read was edited, inserted, reordered or
    removed between others. ``first_bad_line`` is 1-based within ``file`` (within the list for
    :func:`verify_records`); ``first_bad_sequence`` is the sequence written in that record.
    """

    ok: bool
    records: int = 0  # records that verify (before the first bad one)
    first_bad_line: int | None = None
    first_bad_sequence: int | None = None
    file: str | None = None
    reason: str = "intact"
    intact: bool = True
    sealed: bool = False  # the last record is the writer's seal
    last_sequence: int | None = None
    last_signature: str | None = None
    last_location: str | None = None  # "FILE line N" of the last record that verifies
    vouched_sequence: int | None = None  # the log is known complete up to this record
    torn_tail: bool = False  # an incomplete last line (crash mid-write)
    truncated_head: bool = False  # the chain starts mid-log (oldest files removed by retention)
    unsealed_resumes: list[int] = field(default_factory=list)  # LOG_RESUMED records after an unsealed end
    notes: list[str] = field(default_factory=list)

    @property
    def head(self) -> str | None:
        """``"SEQUENCE:SIGNATURE"`` of the last record, to keep and pass back as an expected head."""
        return None if self.last_sequence is None else f"{self.last_sequence}:{self.last_signature}"


def parse_head(text: str) -> tuple[int, str]:
    """``"SEQUENCE:SIGNATURE"`` as a pair; ``ValueError`` naming what is wrong."""
    seq, sep, sig = text.strip().partition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,18}", seq) or not _HEX64.fullmatch(sig):
        raise ValueError(f"expected head {text!r} is not SEQUENCE:SIGNATURE (a number, ':', 64 lower-case hex digits)")
    return int(seq), sig


# ------------------------------------------------------------------------------------ anchors


def anchor_path_of(base: str | Path) -> Path:
    """The default anchor file of the log whose first file is ``base`` (``audit.jsonl.anchor``)."""
    p = Path(base)
    return p.with_name(p.name + ANCHOR_SUFFIX)


def anchor_text(log_name: str, sequence: int, signature: str, sealed: bool, key: bytes) -> str:
    """The signed JSON of an anchor: the log's name, its head and whether it is sealed."""
    body = {"log": log_name, "sequence": sequence, "signature": signature, "sealed": sealed}
    return canonical_json({**body, "anchor_signature": sign(canonical_json(body), key)}) + "\n"


def read_anchor(path: str | Path, key: bytes) -> dict[str, Any]:
    """A verified anchor file's ``{"log", "sequence", "signature", "sealed"}``; :class:`AuditConfigError` otherwise."""
    where = f"anchor file {str(path)!r}"
    try:
        # O_NONBLOCK: a FIFO or device in its place is refused below, not waited on forever
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise AuditConfigError(f"{where} is not a regular file")
            raw = fh.read(4097)
    except OSError as e:
        raise AuditConfigError(f"cannot read {where}: {e.strerror or e}") from None
    try:
        d = parse_line(raw.rstrip(b"\n"))
    except ValueError as e:
        raise AuditConfigError(f"{where} is not valid JSON: {e}") from None
    if not isinstance(d, dict) or set(d) != {*_ANCHOR_FIELDS, "anchor_signature"}:
        raise AuditConfigError(f"{where} does not hold the fields {', '.join(_ANCHOR_FIELDS)}, anchor_signature")
    body = {k: d[k] for k in _ANCHOR_FIELDS}
    given = d["anchor_signature"]
    try:
        expected = sign(canonical_json(body), key)
    except (TypeError, ValueError):  # a lone surrogate, a value JSON cannot write
        expected = None
    if not isinstance(given, str) or not _HEX64.fullmatch(given) or expected is None:
        raise AuditConfigError(f"{where}: not an anchor this package wrote (malformed signature or fields)")
    if not hmac.compare_digest(expected, given):
        raise AuditConfigError(f"{where}: signature mismatch (edited, or signed with another key)")
    if not isinstance(body["sequence"], int) or not isinstance(body["signature"], str):
        raise AuditConfigError(f"{where}: malformed sequence or signature")
    return body


# ------------------------------------------------------------------------------------ files


def rotation_index(path: str | Path) -> int:
    """0 for ``audit.jsonl``, n for ``audit.jsonl.n``."""
    m = _LOG_NAME.fullmatch(Path(path).name)
    return int(m["index"]) if m and m["index"] else 0


def log_files(path: str | Path) -> list[Path]:
    """The files of a log, oldest first: ``[path]`` for a file; for a directory its ``*.jsonl[.n]`` files.

    Raises ``FileNotFoundError`` for a missing path and :class:`AuditConfigError` for something
    that is not a regular file or directory, or a directory holding no log or several logs.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file or directory: {str(p)!r}")
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise AuditConfigError(f"{str(p)!r} is neither a regular file nor a directory")
    groups: dict[str, list[tuple[int, Path]]] = {}
    for child in p.iterdir():
        m = _LOG_NAME.fullmatch(child.name)
        if m and child.is_file():
            groups.setdefault(m["base"], []).append((int(m["index"] or 0), child))
    if not groups:
        raise AuditConfigError(f"no audit log files (*.jsonl, *.jsonl.N) in directory {str(p)!r}")
    if len(groups) > 1:
        raise AuditConfigError(f"directory {str(p)!r} holds several logs ({', '.join(sorted(groups))}); pass one file")
    return [f for _, f in sorted(next(iter(groups.values())))]


def _lines(f: Path) -> Iterator[tuple[int, bytes, bool]]:
    """``(line number, line without its newline, whether it had one)``, each read within the line limit."""
    with open(f, "rb") as fh:
        line_no = 0
        while raw := fh.readline(MAX_LINE_BYTES + 2):
            line_no += 1
            complete = raw.endswith(b"\n")
            yield line_no, raw[:-1] if complete else raw, complete
            if not complete and len(raw) > MAX_LINE_BYTES:
                return  # the rest of an over-long line is not read


# ------------------------------------------------------------------------------------ chain


def _record_problem(rec: Any, key: bytes) -> tuple[str, int | None] | None:
    """``(reason, sequence)`` if ``rec`` lacks fields, has extra ones or its signature does not verify."""
    if not isinstance(rec, Mapping):
        return "not a JSON object", None
    seq = rec.get("sequence")
    seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    for name in RECORD_FIELDS:
        if name not in rec:
            return f"missing field {name!r}", seq
    extra = sorted(set(rec) - set(RECORD_FIELDS))
    if extra:
        return f"unexpected field {extra[0]!r}", seq
    sig = rec["signature"]
    if not isinstance(sig, str) or not _HEX64.fullmatch(sig):
        return "malformed signature (not 64 lower-case hex digits)", seq
    try:
        expected = compute_signature(rec, key)
    except (TypeError, ValueError):
        return "record is not JSON-safe", seq
    if not hmac.compare_digest(expected, sig):
        return SIGNATURE_MISMATCH, seq
    # Only the key holder can get here, but a hand-made record could still carry odd types.
    if seq is None or seq < 0 or not isinstance(rec["prev_signature"], str):
        return "malformed sequence or prev_signature", seq
    return None


class _Chain:
    """Checks records one by one: fields, signature, sequence, link, and the seal's place."""

    def __init__(self, key: bytes, allow_truncated_head: bool, expect_head: tuple[int, str] | None) -> None:
        self.key = key
        self.allow_truncated_head = allow_truncated_head
        self.expect_head = expect_head
        self.expected_seq: int | None = None  # None until the first valid record
        self.prev_sig = GENESIS_SIGNATURE
        self.records = 0
        self.truncated_head = False
        self.sealed = False
        self.head_found = False
        self.anchor_declared = False
        self.unsealed_resumes: list[int] = []

    def check(self, rec: Any) -> tuple[str, int | None] | None:
        """``(reason, sequence)`` for a bad record, else ``None`` after advancing the chain."""
        problem = _record_problem(rec, self.key)
        if problem is not None:
            return problem
        seq, prev, sig = rec["sequence"], rec["prev_signature"], rec["signature"]
        if self.expected_seq is None:
            if seq == 0 and prev != GENESIS_SIGNATURE:
                return "chain broken: first record (sequence 0) does not start from the genesis signature", seq
            if seq > 0:
                if not self.allow_truncated_head:
                    return f"sequence gap: expected 0, found {seq} (head of the log deleted)", seq
                if prev == GENESIS_SIGNATURE:
                    return f"chain broken: record {seq} claims to be the first of the log", seq
                self.truncated_head = True
        elif seq > self.expected_seq:
            return f"sequence gap: expected {self.expected_seq}, found {seq} (record deleted or reordered)", seq
        elif seq < self.expected_seq:
            return (
                f"sequence out of order: expected {self.expected_seq}, found {seq} "
                "(record duplicated, inserted or reordered)"
            ), seq
        elif not hmac.compare_digest(prev, self.prev_sig):
            return CHAIN_BROKEN, seq
        event = rec["event_type"]
        details = rec["details"] if isinstance(rec["details"], dict) else {}
        if event in (LOG_SEALED, LOG_RESUMED, LOG_ROTATED):
            self.anchor_declared = details.get("anchor") is True
        if event == LOG_RESUMED:
            if details.get("after") == "unsealed":
                self.unsealed_resumes.append(seq)
        elif self.sealed and event != LOG_ROTATED:
            return f"record after the seal: the log was sealed at sequence {seq - 1}", seq
        if self.expect_head is not None and seq == self.expect_head[0]:
            if not hmac.compare_digest(sig, self.expect_head[1]):
                return f"expected head mismatch: record {seq} has another signature (log rewritten)", seq
            self.head_found = True
        if event != LOG_ROTATED:  # a new file after the seal is still the sealed log's
            self.sealed = event == LOG_SEALED
        self.expected_seq = seq + 1
        self.prev_sig = sig
        self.records += 1
        return None


def _finish(
    chain: _Chain,
    result: VerifyResult,
    torn: bool,
    allow_unsealed: bool,
    expect_from: str,
    anchor_sealed: bool = False,
) -> VerifyResult:
    """Decide whether an intact chain is vouched for to its end, and say why not."""
    result.records, result.truncated_head = chain.records, chain.truncated_head
    result.unsealed_resumes = list(chain.unsealed_resumes)
    if chain.records:
        result.last_sequence, result.last_signature = chain.expected_seq - 1, chain.prev_sig
    result.torn_tail = torn
    result.sealed = chain.sealed and not torn
    if chain.truncated_head:
        result.notes.append(f"chain starts at sequence {chain.expected_seq - chain.records} (older files removed)")
    if torn:
        result.notes.append("torn tail: an incomplete last line (interrupted write) was ignored")
    problems = []
    if chain.records == 0:
        result.ok, result.intact = False, not torn
        result.reason = "not an audit log: no complete record" if torn else "empty log: no records"
        return result
    head = chain.expect_head
    if head is not None and not chain.head_found:
        result.ok = False
        result.reason = (
            f"cut: the log ends at sequence {result.last_sequence}, but {expect_from} says it reached sequence "
            f"{head[0]} (records removed from its end)"
        )
        return result
    if result.sealed:
        result.vouched_sequence = result.last_sequence
    elif head is not None and head[0] == result.last_sequence and not torn and not expect_from.startswith("the anchor"):
        # it ends exactly at the head kept elsewhere (an anchor's head is only the last checkpoint)
        result.vouched_sequence = result.last_sequence
        result.notes.append(f"not sealed, but it ends at the expected head (sequence {head[0]})")
    else:
        if head is not None:
            result.vouched_sequence = head[0]
        if anchor_sealed:
            problems.append(f"{expect_from} says the log was sealed, but it has records past the seal")
        vouched = "no record" if result.vouched_sequence is None else f"sequence {result.vouched_sequence}"
        problems.append(
            f"not sealed: every record up to sequence {result.last_sequence} ({result.last_location}) verifies, "
            f"but the log may have been cut after it (a crash, or records removed from its end); "
            f"complete up to {vouched}"
        )
    if chain.unsealed_resumes:
        seqs = ", ".join(str(s) for s in chain.unsealed_resumes)
        problems.append(
            f"resumed after an unsealed end at sequence {seqs}: records before it may have been lost or removed"
        )
    if problems:
        result.notes.extend(problems)
        result.ok = allow_unsealed
        result.reason = "; ".join(problems) if not allow_unsealed else "intact, accepted unsealed"
    else:
        result.ok = True
        end = "sealed" if result.sealed else "ending at the expected head"
        result.reason = f"intact and {end} at sequence {result.last_sequence}"
    return result


def verify(
    path: str | Path,
    key: bytes | str | None,
    *,
    allow_truncated_head: bool | None = None,
    allow_unsealed: bool = False,
    expect_head: tuple[int, str] | str | None = None,
    anchor: str | Path | bool | None = None,
) -> VerifyResult:
    """Verify a log file, or a directory of rotated files in rotation order, against ``key``.

    ``allow_truncated_head`` defaults to: only when the oldest file is a rotated one (``.n``,
    n >= 1), i.e. the base file was removed by retention. ``expect_head`` (``(sequence,
    signature)`` or ``"SEQ:SIG"``) and ``anchor`` (an anchor file; by default ``<base>.anchor``
    beside a whole log when it exists; ``False`` for none) say how far the log must reach.
    Streams the files, line by line within :data:`~.record.MAX_LINE_BYTES`; memory stays small.
    """
    key_bytes = require_key(key)
    files = log_files(path)
    declared = None
    if anchor is None:
        # the anchor of the log the files belong to, whether or not its first file is still there
        declared = anchor_path_of(base_of(files[0]))
        anchor = declared if declared.is_file() else None
    elif anchor is False:
        anchor = None
    return verify_files(
        files,
        key_bytes,
        allow_truncated_head=rotation_index(files[0]) > 0 if allow_truncated_head is None else allow_truncated_head,
        allow_unsealed=allow_unsealed,
        expect_head=expect_head,
        anchor=anchor,
        declared_anchor=declared,
    )


def base_of(f: Path) -> Path:
    """The first file of the log ``f`` belongs to (``audit.jsonl`` for ``audit.jsonl.3``)."""
    m = _LOG_NAME.fullmatch(f.name)
    return f if m is None else f.with_name(m["base"])


def verify_files(
    files: list[Path],
    key: bytes,
    *,
    allow_truncated_head: bool = False,
    allow_unsealed: bool = False,
    expect_head: tuple[int, str] | str | None = None,
    anchor: str | Path | None = None,
    declared_anchor: str | Path | None = None,
) -> VerifyResult:
    """:func:`verify` of the given files, oldest first, with an explicit anchor file (or none).
    ``declared_anchor``: where the log's own anchor belongs; when the log says its writer keeps
    one and that file is missing, the log does not verify."""
    head = parse_head(expect_head) if isinstance(expect_head, str) else expect_head
    expect_from, anchor_sealed = "the expected head", False
    if anchor is not None and head is None:
        a = read_anchor(anchor, key)
        if files and a["log"] != base_of(files[0]).name:
            raise AuditConfigError(f"anchor file {str(anchor)!r} belongs to log {a['log']!r}, not {files[0].name!r}")
        head, anchor_sealed = (a["sequence"], a["signature"]), bool(a["sealed"])
        expect_from = f"the anchor {Path(anchor).name}"
    chain = _Chain(key, allow_truncated_head, head)
    result = VerifyResult(ok=True)
    torn = False
    previous: Path | None = None  # the last file that held something
    for i, f in enumerate(files):
        if f.stat().st_size == 0:
            continue  # a file just created (a crash before its first record)
        if torn and previous is not None:
            result.notes.append(f"torn line at the end of {previous.name} (interrupted write) skipped")
        torn = False
        for line_no, raw, complete in _lines(f):
            try:
                rec = parse_line(raw)
            except ValueError as e:
                if not complete and len(raw) <= MAX_LINE_BYTES:
                    torn = True  # only a file's last line can lack its newline: an interrupted write
                    break
                bad: tuple[str, int | None] | None = (f"not valid JSON: {e}", None)
            else:
                bad = chain.check(rec)
                if bad is None and line_no == 1 and rotation_index(f) > 0:
                    bad = _marker_problem(rec, f, previous)
            if bad is not None:
                reason, seq = bad
                if line_no == 1 and i > 0 and reason.startswith(("sequence gap", "chain broken")):
                    reason += (
                        f" (at the start of {f.name}: records at the end of {files[i - 1].name} "
                        "or a whole file removed)"
                    )
                result.records, result.truncated_head = chain.records, chain.truncated_head
                result.ok = result.intact = False
                result.first_bad_line, result.first_bad_sequence, result.file = line_no, seq, str(f)
                result.reason = reason
                return result
            result.last_location = f"{f} line {line_no}"
        previous = f
    if torn and chain.records == 0:
        result.file, result.first_bad_line = str(files[-1]), 1
    result = _finish(chain, result, torn, allow_unsealed, expect_from, anchor_sealed)
    if result.ok and declared_anchor is not None and anchor is None and chain.anchor_declared:
        result.ok = False
        result.reason = (
            f"the log says its writer keeps an anchor ({Path(declared_anchor).name}), but it is missing (removed, "
            "or the log copied without it): restore it, or verify without it (--no-anchor)"
        )
    return result


def _marker_problem(rec: Mapping[str, Any], f: Path, previous: Path | None) -> tuple[str, int | None] | None:
    """Why the first record of rotated file ``f`` is not its writer's marker for it, if it is not:
    a file renamed, records removed from its head, or bytes added to or cut from the file before."""
    details = rec["details"] if isinstance(rec["details"], dict) else {}
    index = rotation_index(f)
    if rec["event_type"] != LOG_ROTATED or details.get("file_index") != index:
        why = f"{f.name} does not start with its rotation marker (file renamed, or records removed from its head)"
        return why, rec["sequence"]
    if previous is not None and rotation_index(previous) == index - 1:
        expected, actual = details.get("previous_file_bytes"), previous.stat().st_size
        if expected != actual:
            return (
                f"{previous.name} is {actual} bytes, but was {expected} when its writer moved on to {f.name} "
                "(bytes added to or cut from its end)"
            ), rec["sequence"]
    return None


def verify_records(
    records: Iterable[Mapping[str, Any] | AuditRecord],
    key: bytes | str | None,
    *,
    allow_truncated_head: bool = False,
    allow_unsealed: bool = False,
) -> VerifyResult:
    """Verify in-memory records (dicts or :class:`AuditRecord`) in order; ``first_bad_line`` is the 1-based index."""
    chain = _Chain(require_key(key), allow_truncated_head, None)
    result = VerifyResult(ok=True)
    for i, rec in enumerate(records, 1):
        d = {n: getattr(rec, n) for n in RECORD_FIELDS} if isinstance(rec, AuditRecord) else rec
        bad = chain.check(d)
        if bad is not None:
            result.ok = result.intact = False
            result.records, result.first_bad_line, result.first_bad_sequence = chain.records, i, bad[1]
            result.reason, result.truncated_head = bad[0], chain.truncated_head
            return result
        result.last_location = f"record {i}"
    return _finish(chain, result, False, allow_unsealed, "the expected head")


def iter_records(path: str | Path, *, skip_invalid: bool = False) -> Iterator[dict[str, Any]]:
    """Parsed records of a log file or directory, oldest first, without verifying them.

    A torn last line is skipped; another unparseable line raises ``ValueError`` unless ``skip_invalid``.
    """
    for f in log_files(path):
        for line_no, raw, complete in _lines(f):
            try:
                rec = parse_line(raw)
            except ValueError as e:
                if skip_invalid or not complete:
                    continue
                raise ValueError(f"{f} line {line_no}: not valid JSON: {e}") from None
            if isinstance(rec, dict):
                yield rec
            elif not skip_invalid:
                raise ValueError(f"{f} line {line_no}: not a JSON object")


def write_anchor(path: Path, log_name: str, sequence: int, signature: str, sealed: bool, key: bytes) -> None:
    """Replace the anchor file at ``path`` atomically (a temporary file, flushed, then renamed over it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a leftover, or a link planted there: removed, never followed
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(anchor_text(log_name, sequence, signature, sealed, key))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def dumps_record(rec: Mapping[str, Any]) -> str:
    """A parsed record as one JSON line in :data:`RECORD_FIELDS` order (for exports)."""
    record = {k: rec[k] for k in RECORD_FIELDS if k in rec}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)  # JSON has no Infinity
