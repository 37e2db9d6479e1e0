"""The writer: one path from a record's fields to a signed line, in memory and in rotated files.

Every record goes the same way (:meth:`AuditLog._write`): fields checked and cleaned
(:mod:`.privacy`), numbered and chained, :func:`~.record.signed_line` (canonical JSON, HMAC), then
written as one line with one ``write`` call and kept in memory. A write that fails part-way is cut
back to the last whole record, so the file still verifies; if even that fails, the next record
starts a new file. Checkpoints (every ``checkpoint_records`` records or ``checkpoint_s`` seconds)
rewrite the anchor file with the head; :meth:`AuditLog.close` appends the seal. A writer that opens
an existing log verifies all of it first, refuses a tampered log or one cut short of its anchor,
and records in a signed ``LOG_RESUMED`` record whether it found the log sealed.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from rrm_gym.checks import is_number

from .keys import KEY_ENV_VAR, KEY_HINT, AuditConfigError, resolve_key
from .privacy import SAFE_FIELDS, clean_changes, clean_details, pseudonymise, scrub_text
from .record import (
    ACTION_TYPES,
    EVENT_TYPES,
    EXECUTION_STATUSES,
    GENESIS_SIGNATURE,
    LOG_RESUMED,
    LOG_ROTATED,
    LOG_SEALED,
    MAX_LINE_BYTES,
    SOURCES,
    AuditRecord,
    _enum_text,
    parse_line,
    signed_line,
    to_jsonable,
)
from .verify import VerifyResult, anchor_path_of, verify_files, verify_records, write_anchor

DEFAULT_CHECKPOINT_RECORDS = 10_000
DEFAULT_CHECKPOINT_S = 60.0
# the file sink of the envs and the demo: rotate at 16 MiB, keep the newest 16 files (256 MiB)
SINK_MAX_BYTES = 16 * 2**20
SINK_RETENTION_FILES = 16


class AuditWriteError(OSError):
    """A record could not be written to the log's file (disk full, I/O error); nothing of it was kept."""


def _label(value: Any, name: str, allowed: tuple[str, ...] | None = None) -> str:
    if isinstance(value, enum.Enum):
        value = _enum_text(value)  # Source.AGENT its value, EventType.DFS_RADAR its name
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    value = str.__str__(value)  # a plain str: a subclass's own == cannot pass the check below
    if allowed is not None and value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value


def _changes(changes: Iterable[Any]) -> list[dict[str, Any]]:
    """``configuration_changes`` checked: ``{"param", "old_value", "new_value"}`` mappings or
    ``(param, old, new)`` tuples, as dicts of JSON types."""
    out = []
    for i, c in enumerate(changes):
        if isinstance(c, Mapping):
            if set(c) != {"param", "old_value", "new_value"}:
                raise ValueError(
                    f"configuration_changes[{i}] must have keys param, old_value, new_value; got {sorted(c)}"
                )
            param, old, new = c["param"], c["old_value"], c["new_value"]
        else:
            try:
                if not isinstance(c, (tuple, list)):  # a string of three letters is not a change
                    raise TypeError
                param, old, new = c
            except (TypeError, ValueError):
                raise ValueError(
                    f"configuration_changes[{i}] must be a mapping or a (param, old, new) tuple, got {c!r}"
                ) from None
        out.append(
            {
                "param": _label(param, f"configuration_changes[{i}].param"),
                "old_value": to_jsonable(old, f"configuration_changes[{i}].old_value", 1),
                "new_value": to_jsonable(new, f"configuration_changes[{i}].new_value", 1),
            }
        )
    return out


_LOOP_TOKEN = re.compile(r"[a-z]+-n[0-9]+-ap[0-9]+-[0-9]{6,}")  # the event loop's: rb-n0-ap3-000012


_KNOWN_LABELS = frozenset((*EVENT_TYPES, *ACTION_TYPES, LOG_SEALED, LOG_RESUMED, LOG_ROTATED, "RADIO_OFF"))


def _free_label(label: str, key: bytes) -> str:
    """An event or action type as it is when it is one of the package's, else scrubbed like free text."""
    return label if label in _KNOWN_LABELS else scrub_text(label, key)


def _token(token: str, key: bytes) -> str:
    """A rollback token as it is when it is the event loop's, else scrubbed like free text."""
    return token if _LOOP_TOKEN.fullmatch(token) else scrub_text(token, key)


def _index(value: Any, name: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value.__index__())


class AuditLog:
    """Append-only, signed, hash-chained audit log, in memory and optionally in JSON Lines files.

    ``path`` (e.g. ``audit/audit.jsonl``) enables the file sink; an existing log there is verified
    and resumed (sequence and chain continue; nothing written is touched). ``max_bytes`` rotates
    to ``audit.jsonl.1``, ``.2``, ...; ``retention_files`` keeps only the newest N files.
    ``fsync`` forces each record to disk (slow, crash-safe). The anchor file (``anchor_path``;
    ``<path>.anchor`` by default, ``False`` for none) is rewritten at every checkpoint and at the
    seal. ``seed`` makes ``audit_id`` reproducible. ``safe_fields`` adds ``details`` keys whose
    values carry no client identifier (see :mod:`.privacy`). Memory keeps the newest
    ``memory_limit`` records; ``total`` and ``counts_by_status`` count every record this object
    wrote. Files are created readable by their owner only.
    """

    def __init__(
        self,
        key: bytes | str | None = None,
        *,
        key_file: str | Path | None = None,
        path: str | Path | None = None,
        fsync: bool = False,
        max_bytes: int | None = None,
        retention_files: int | None = None,
        seed: int | str | None = None,
        memory_limit: int = 100_000,
        checkpoint_records: int = DEFAULT_CHECKPOINT_RECORDS,
        checkpoint_s: float = DEFAULT_CHECKPOINT_S,
        anchor_path: str | Path | bool | None = None,
        safe_fields: Iterable[str] = (),
    ) -> None:
        resolved = resolve_key(key, key_file)
        self.ephemeral_key = resolved is None
        if resolved is None:
            if path is not None:
                raise AuditConfigError(
                    f"an audit log file needs a signing key: set ${KEY_ENV_VAR}, or pass key= or key_file= ({KEY_HINT})"
                )
            resolved = secrets.token_bytes(32)  # in-memory only: signatures are checkable in this process
        self._key = resolved
        for name, value in (("max_bytes", max_bytes), ("retention_files", retention_files)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise AuditConfigError(f"{name} must be a positive integer, got {value!r}")
        if retention_files is not None and max_bytes is None:
            raise AuditConfigError("retention_files needs max_bytes (without rotation there is one file)")
        if not isinstance(memory_limit, int) or memory_limit < 0:
            raise AuditConfigError(f"memory_limit must be an integer >= 0, got {memory_limit!r}")
        if not isinstance(checkpoint_records, int) or checkpoint_records < 1:
            raise AuditConfigError(f"checkpoint_records must be a positive integer, got {checkpoint_records!r}")
        if not isinstance(checkpoint_s, (int, float)) or not checkpoint_s > 0 or not math.isfinite(checkpoint_s):
            raise AuditConfigError(f"checkpoint_s must be a positive finite number of seconds, got {checkpoint_s!r}")
        if (max_bytes is not None or fsync or anchor_path) and path is None:
            raise AuditConfigError("max_bytes, retention_files, fsync and anchor_path need path=")
        self._fsync = fsync
        self._max_bytes = max_bytes
        self._retention = retention_files
        self._checkpoint_records, self._checkpoint_s = checkpoint_records, float(checkpoint_s)
        self._safe = SAFE_FIELDS | frozenset(safe_fields)
        if seed is None:
            self._id_prefix = secrets.token_hex(8)
        else:
            self._id_prefix = hashlib.sha256(f"rrm-gym-audit:{seed}".encode()).hexdigest()[:16]
        self._memory: collections.deque[str] = collections.deque(maxlen=memory_limit)  # signed lines
        self._lock = threading.Lock()
        self._next_seq = 0
        self._last_sig = GENESIS_SIGNATURE
        self._last_time = 0.0
        self.total = 0
        self._counts: dict[str, int] = {}
        self._closed = False
        self._fd: int | None = None
        self._base: Path | None = None
        self._anchor: Path | None = None
        self._index = 0
        self._size = 0
        self._new_file_next = False
        self._needs_marker = False
        self._previous_file_bytes = 0
        self._since_checkpoint = 0
        self._checkpoint_at = time.monotonic()
        if path is not None and max_bytes is not None and not Path(path).name.endswith(".jsonl"):
            raise AuditConfigError(f"a rotating audit log's file name must end in .jsonl, got {Path(path).name!r}")
        if path is not None:
            self._base = Path(path)
            if anchor_path is not False:
                self._anchor = anchor_path_of(self._base) if anchor_path in (None, True) else Path(anchor_path)
            self._base.parent.mkdir(parents=True, exist_ok=True)
            resumed = self._resume()
            self._open_current()
            if resumed is not None:
                self._write_resumed(resumed)

    # ------------------------------------------------------------------------------ files

    def _file(self, index: int) -> Path:
        assert self._base is not None
        return self._base if index == 0 else self._base.with_name(f"{self._base.name}.{index}")

    def _indices(self) -> list[int]:
        assert self._base is not None
        pattern = re.compile(re.escape(self._base.name) + r"(?:\.([1-9][0-9]*))?")
        return sorted(
            int(m[1] or 0)
            for child in self._base.parent.iterdir()
            if (m := pattern.fullmatch(child.name)) and child.is_file()
        )

    def _resume(self) -> VerifyResult | None:
        """Verify an existing log and continue its chain; the verification, or ``None`` for a new log."""
        assert self._base is not None
        indices = self._indices()
        anchor = self._anchor if self._anchor is not None and self._anchor.is_file() else None
        if not indices:
            if anchor is not None:
                raise AuditConfigError(
                    f"cannot open audit log {str(self._base)!r}: its files are gone but its anchor "
                    f"{str(anchor)!r} is not (the log was removed); move the anchor away to start a new log"
                )
            return None
        files = [self._file(i) for i in indices]
        if all(f.stat().st_size == 0 for f in files) and anchor is None:
            self._index = indices[-1]
            return None  # created, never written
        result = verify_files(
            files, self._key, allow_truncated_head=indices[0] > 0, allow_unsealed=True, anchor=anchor,
            declared_anchor=self._anchor,
        )  # fmt: skip
        if not result.ok:
            where = f" ({result.file} line {result.first_bad_line})" if result.file else ""
            raise AuditConfigError(
                f"cannot resume audit log {str(self._base)!r}: {result.reason}{where}; "
                "check it with 'rrm-gym audit verify', or use another path"
            )
        assert result.last_sequence is not None and result.last_signature is not None
        self._next_seq, self._last_sig = result.last_sequence + 1, result.last_signature
        # the size a new file's marker reports for the file before it: the last one holding records
        self._previous_file_bytes = [f.stat().st_size for f in files if f.stat().st_size][-1]
        self._index = indices[-1] + (1 if result.torn_tail else 0)  # never modify written bytes
        return result

    def _write_resumed(self, found: VerifyResult) -> None:
        if found.sealed:
            after, reason = "sealed", "writer resumed the log"
        else:
            after = "unsealed"
            reason = (
                "writer resumed a log that was not sealed: its previous writer stopped without closing it, "
                "or records were removed from its end"
            )
        details = {
            "after": after,
            "last_sequence": found.last_sequence,
            "torn_tail": found.torn_tail,
            "anchor": self._anchor is not None,
        }
        self.record(0.0, LOG_RESUMED, "rule", "SUCCESS", "NONE", 0, None, [], None, reason, details)

    def _open_current(self) -> None:
        """Open the current file for appending (a symbolic link is refused, not followed); a
        new file of index > 0 gets its rotation marker before its first record."""
        f = self._file(self._index)
        fd = os.open(f, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        self._fd, self._size = fd, os.fstat(fd).st_size
        self._needs_marker = self._index > 0 and self._size == 0
        self._new_file_next = False
        self._enforce_retention()

    def _enforce_retention(self) -> None:
        if self._retention is None:
            return
        indices = self._indices()
        for idx in indices[: max(0, len(indices) - self._retention)]:
            if idx != self._index:
                self._file(idx).unlink(missing_ok=True)

    def _rotate(self) -> None:
        """Continue in the next file; if it cannot be opened, raise and stay with the current one."""
        assert self._fd is not None
        old_fd, old_size = self._fd, self._size
        self._index += 1
        try:
            self._open_current()
        except OSError as e:
            self._index -= 1
            self._fd, self._size = old_fd, old_size
            raise AuditWriteError(
                e.errno, f"cannot start audit file {self._file(self._index + 1)}: {e.strerror or e}"
            ) from e
        self._previous_file_bytes = os.fstat(old_fd).st_size  # a torn tail included, as it stays
        os.close(old_fd)
        if self._fsync:
            self._fsync_dir()

    def _fsync_dir(self) -> None:
        # Make the new file's directory entry durable too; not possible on every platform.
        assert self._base is not None
        try:
            fd = os.open(self._base.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _write_line(self, data: bytes, seq: int) -> None:
        """Append ``data`` (a line) to the current file in full, or leave the file as it was and raise."""
        assert self._fd is not None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if self._fsync:
                os.fsync(self._fd)
        except OSError as e:
            try:
                os.ftruncate(self._fd, self._size)  # cut back to the last whole record
            except OSError:
                self._new_file_next = True  # a torn tail stays: the next record starts a new file
            raise AuditWriteError(
                e.errno, f"audit record {seq} not written to {self._file(self._index)}: {e.strerror or e}"
            ) from e
        self._size += len(data)

    def checkpoint(self) -> None:
        """Write the anchor (and, with ``fsync``, make the file durable) now."""
        with self._lock:
            self._checkpoint(sealed=False)

    def _checkpoint(self, sealed: bool) -> None:
        self._since_checkpoint, self._checkpoint_at = 0, time.monotonic()
        if self._fd is not None and self._fsync:
            os.fsync(self._fd)
        if self._anchor is not None and self._base is not None and self._next_seq > 0:
            try:
                write_anchor(self._anchor, self._base.name, self._next_seq - 1, self._last_sig, sealed, self._key)
            except OSError as e:
                raise AuditWriteError(
                    e.errno,
                    f"record {self._next_seq - 1} was written, but the anchor {self._anchor} could not be updated: "
                    f"{e.strerror or e}",
                ) from e

    # ------------------------------------------------------------------------------ API

    @property
    def current_file(self) -> Path | None:
        """The file being written, or ``None`` for an in-memory log."""
        return None if self._base is None else self._file(self._index)

    @property
    def anchor_file(self) -> Path | None:
        """The anchor file the writer keeps, or ``None``."""
        return self._anchor

    @property
    def records(self) -> list[AuditRecord]:
        """The records held in memory (the newest ``memory_limit``), oldest first."""
        with self._lock:
            lines = list(self._memory)
        return [AuditRecord.from_dict(parse_line(line.encode("utf-8"))) for line in lines]

    @property
    def last_signature(self) -> str:
        """Signature of the newest record (``"0" * 64`` before the first)."""
        return self._last_sig

    @property
    def next_sequence(self) -> int:
        """Sequence number the next record will get (continues a resumed log)."""
        return self._next_seq

    @property
    def head(self) -> str | None:
        """``"SEQUENCE:SIGNATURE"`` of the newest record, to keep elsewhere and verify against."""
        return None if self._next_seq == 0 else f"{self._next_seq - 1}:{self._last_sig}"

    @property
    def counts_by_status(self) -> dict[str, int]:
        """Records written by this object, per ``execution_status``."""
        with self._lock:
            return dict(self._counts)

    def pseudonymise(self, identifier: str | int) -> str:
        """Pseudonym of a client identifier under this log's key (stable for the key)."""
        return pseudonymise(identifier, self._key)

    def append(
        self,
        *,
        sim_time_s: float,
        event_type: str,
        source: str,
        execution_status: str,
        action_type: str = "NONE",
        network: int = 0,
        ap_id: int | None = None,
        configuration_changes: Iterable[Any] = (),
        rollback_token: str | None = None,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Sign, chain, store and (with a path) write one record; returns it.

        ``sim_time_s`` in simulated seconds. Enum values are accepted for the labels. Client
        identifiers in ``details``, ``configuration_changes`` and ``reason`` are pseudonymised
        before signing (see :mod:`.privacy`).
        """
        body = self._write(
            sim_time_s, event_type, source, execution_status, action_type, network, ap_id,
            configuration_changes, rollback_token, reason, details,
        )  # fmt: skip
        return AuditRecord.from_dict(body)

    def record(
        self,
        sim_time_s: float,
        event_type: str,
        source: str,
        execution_status: str,
        action_type: str,
        network: int,
        ap_id: int | None,
        configuration_changes: Iterable[Any],
        rollback_token: str | None,
        reason: str,
        details: Mapping[str, Any] | None,
    ) -> str:
        """:meth:`append` with positional fields, returning only the new record's ``audit_id``."""
        body = self._write(
            sim_time_s, event_type, source, execution_status, action_type, network, ap_id,
            configuration_changes, rollback_token, reason, details,
        )  # fmt: skip
        return body["audit_id"]

    def _fields(
        self,
        sim_time_s: Any,
        event_type: Any,
        source: Any,
        execution_status: Any,
        action_type: Any,
        network: Any,
        ap_id: Any,
        configuration_changes: Iterable[Any],
        rollback_token: Any,
        reason: Any,
        details: Any,
    ) -> dict[str, Any]:
        """The record's fields, checked, converted to JSON types and cleaned of client identifiers."""
        if not is_number(sim_time_s):
            raise ValueError(f"sim_time_s must be a number of seconds, got {type(sim_time_s).__name__} {sim_time_s!r}")
        t = float(sim_time_s)
        if not (math.isfinite(t) and t >= 0.0):
            raise ValueError(f"sim_time_s must be a finite number of seconds >= 0, got {sim_time_s!r}")
        if rollback_token is not None and not isinstance(rollback_token, str):
            raise ValueError(f"rollback_token must be a string or None, got {rollback_token!r}")
        if not isinstance(reason, str):
            raise ValueError(f"reason must be a string, got {reason!r}")
        if details is not None and not isinstance(details, Mapping):
            raise ValueError(f"details must be a mapping, got {type(details).__name__}")
        key = self._key
        return {
            "sim_time_s": t,
            "network": _index(network, "network"),
            "ap_id": None if ap_id is None else _index(ap_id, "ap_id"),
            "event_type": _free_label(_label(event_type, "event_type"), key),
            "action_type": _free_label(_label(action_type, "action_type"), key),
            "configuration_changes": clean_changes(_changes(configuration_changes), key),
            "source": _label(source, "source", SOURCES),
            "rollback_token": None if rollback_token is None else _token(str.__str__(rollback_token), key),
            "execution_status": _label(execution_status, "execution_status", EXECUTION_STATUSES),
            "reason": scrub_text(str.__str__(reason), key),
            "details": clean_details(to_jsonable(details or {}, "details"), key, self._safe),
        }

    def _number(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
        """``fields`` numbered and chained as the next record: ``(body, line, signature)``."""
        seq = self._next_seq
        # a per-log prefix and the sequence number: unique within a log; a seeded log's prefix
        # comes from the seed (equal seeds, equal ids), and a resumed log's sequence continues
        body = {"audit_id": f"{self._id_prefix}{seq:016x}", "sequence": seq, **fields}
        body["prev_signature"] = self._last_sig
        line, signature = signed_line(body, self._key)
        if len(line) >= MAX_LINE_BYTES // 4 and len(line.encode("utf-8")) > MAX_LINE_BYTES:
            raise ValueError(f"audit record of {len(line.encode('utf-8'))} bytes exceeds {MAX_LINE_BYTES}")
        return body, line, signature

    def _write_marker(self) -> None:
        """The first record of a new file: which file it is, and how long the writer left the one
        before, so that bytes added to or cut from that file's end show."""
        fields = self._fields(
            self._last_time, LOG_ROTATED, "rule", "SUCCESS", "NONE", 0, None, [], None, "writer started a new file",
            {"file_index": self._index, "previous_file_bytes": self._previous_file_bytes,
             "anchor": self._anchor is not None},
        )  # fmt: skip
        body, line, signature = self._number(fields)
        self._write_line((line + "\n").encode("utf-8"), body["sequence"])
        self._needs_marker = False
        self._keep(body, line, signature)

    def _write(self, *fields: Any) -> dict[str, Any]:
        """The one record path: fields cleaned, numbered and chained, signed, written, kept."""
        cleaned = self._fields(*fields)
        with self._lock:
            if self._closed:
                raise ValueError("audit log is closed")
            body, line, signature = self._number(cleaned)
            if self._fd is not None:
                data = (line + "\n").encode("utf-8")
                full = self._max_bytes is not None and self._size and self._size + len(data) > self._max_bytes
                if full or self._new_file_next:
                    self._rotate()
                if self._needs_marker:
                    self._write_marker()
                    body, line, signature = self._number(cleaned)  # numbered after the marker
                    data = (line + "\n").encode("utf-8")
                self._write_line(data, body["sequence"])
            self._keep(body, line, signature)
        body["signature"] = signature
        return body

    def _keep(self, body: dict[str, Any], line: str, signature: str) -> None:
        """A written record held in memory, the chain advanced and counted (under the lock)."""
        seq = body["sequence"]
        self._memory.append(line)
        self._next_seq, self._last_sig, self._last_time = seq + 1, signature, body["sim_time_s"]
        self.total += 1
        status = body["execution_status"]
        self._counts[status] = self._counts.get(status, 0) + 1
        self._since_checkpoint += 1
        if self._anchor is not None and (
            self._since_checkpoint >= self._checkpoint_records
            or time.monotonic() - self._checkpoint_at >= self._checkpoint_s
        ):
            self._checkpoint(sealed=False)

    def verify(self) -> VerifyResult:
        """Verify the records held in memory (they may start mid-chain after eviction or resume)."""
        return verify_records(self.records, self._key, allow_truncated_head=True, allow_unsealed=not self._closed)

    def export(self, target: str | Path | IO[str] | IO[bytes]) -> int:
        """Write the in-memory records as JSON Lines to a path or an open text/binary file; returns the count."""
        if isinstance(target, (str, os.PathLike)):
            with open(target, "w", encoding="utf-8", newline="\n") as fh:
                return self.export(fh)
        with self._lock:
            lines = list(self._memory)
        binary = "b" in getattr(target, "mode", "") or not hasattr(target, "encoding")
        for line in lines:
            target.write((line + "\n").encode("utf-8") if binary else line + "\n")  # type: ignore[arg-type]
        return len(lines)

    def close(self) -> None:
        """Seal the log (a signed ``LOG_SEALED`` record, then the anchor) and close its file.
        Further appends raise. Idempotent."""
        if self._closed:
            return
        try:
            self.record(
                self._last_time, LOG_SEALED, "rule", "SUCCESS", "NONE", 0, None, [], None, "log closed",
                {"records": self.total + 1, "anchor": self._anchor is not None},
            )  # fmt: skip
            with self._lock:
                self._checkpoint(sealed=True)
        finally:
            with self._lock:
                self._closed = True
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None

    def __getstate__(self) -> dict[str, Any]:
        # An in-memory log travels with a pickled environment; a file sink cannot (its writer
        # owns the file), so the copy would silently fork the chain.
        if self._fd is not None:
            raise TypeError("a file-backed AuditLog cannot be pickled; create it in the process that writes it")
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
