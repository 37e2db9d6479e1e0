"""Tamper-evident audit log: append-only JSON Lines, each record HMAC-SHA256-signed and hash-chained.

Every record carries ``sequence`` (0, 1, 2, ... per log), ``prev_signature`` (the previous record's
``signature``; ``"0" * 64`` for the first) and ``signature``, the HMAC of the canonical JSON of all
other fields. Editing, inserting, deleting or reordering records breaks a signature, the sequence
or the chain, and :func:`verify` names the first bad line. A signed seal when the log is closed, an
anchor file rewritten at checkpoints and an expected head kept elsewhere vouch for its end
(:mod:`.verify`). What it guarantees and what it cannot is in ``docs/safety.md``.

Modules by concern: :mod:`.keys` (where the key comes from), :mod:`.record` (the format and its
signature), :mod:`.privacy` (pseudonymising client identifiers), :mod:`.writer` (the one record
path, files, rotation, checkpoints, seal, resume) and :mod:`.verify` (checking a log).

Files and rotation: a log at ``audit/audit.jsonl`` continues in ``audit.jsonl.1``, ``audit.jsonl.2``,
... (higher index = newer; files are never renamed) whenever the next record would push the current
file past ``max_bytes``. The chain runs on across files. ``retention_files`` keeps the newest N files
and deletes the oldest, so a directory may start mid-chain; :func:`verify` accepts that only at the
head of the oldest surviving file, and only if that file is a rotated one (index >= 1).

One writer per log: two processes appending to the same file would interleave two chains.
"""

from .keys import KEY_ENV_VAR, MIN_KEY_BYTES, AuditConfigError, check_key, resolve_key
from .privacy import SAFE_FIELDS, SAFE_PARAMS, pseudonymise, scrub_text
from .record import (
    ACTION_TYPES,
    CHAIN_BROKEN,
    EVENT_TYPES,
    EXECUTION_STATUSES,
    GENESIS_SIGNATURE,
    LOG_RESUMED,
    LOG_ROTATED,
    LOG_SEALED,
    MAX_LINE_BYTES,
    RECORD_FIELDS,
    SIGNATURE_MISMATCH,
    SOURCES,
    AuditRecord,
    canonical_json,
    compute_signature,
    parse_line,
    to_jsonable,
)
from .verify import (
    VerifyResult,
    anchor_path_of,
    iter_records,
    log_files,
    parse_head,
    read_anchor,
    rotation_index,
    verify,
    verify_files,
    verify_records,
)
from .writer import SINK_MAX_BYTES, SINK_RETENTION_FILES, AuditLog, AuditWriteError

__all__ = [
    "ACTION_TYPES",
    "CHAIN_BROKEN",
    "EVENT_TYPES",
    "EXECUTION_STATUSES",
    "GENESIS_SIGNATURE",
    "KEY_ENV_VAR",
    "LOG_RESUMED",
    "LOG_ROTATED",
    "LOG_SEALED",
    "MAX_LINE_BYTES",
    "MIN_KEY_BYTES",
    "RECORD_FIELDS",
    "SAFE_FIELDS",
    "SAFE_PARAMS",
    "SINK_MAX_BYTES",
    "SINK_RETENTION_FILES",
    "SIGNATURE_MISMATCH",
    "SOURCES",
    "AuditConfigError",
    "AuditLog",
    "AuditRecord",
    "AuditWriteError",
    "VerifyResult",
    "anchor_path_of",
    "canonical_json",
    "check_key",
    "compute_signature",
    "iter_records",
    "log_files",
    "parse_head",
    "parse_line",
    "pseudonymise",
    "read_anchor",
    "resolve_key",
    "rotation_index",
    "scrub_text",
    "to_jsonable",
    "verify",
    "verify_files",
    "verify_records",
]
