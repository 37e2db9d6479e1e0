"""The record format: its fields, its canonical JSON, its signature, and parsing a line back.

A record is a JSON object with exactly :data:`RECORD_FIELDS`. Its ``signature`` is the hex
HMAC-SHA256 (:mod:`hmac`, as documented) of the canonical JSON (:func:`canonical_json`: sorted keys,
no spaces, UTF-8, no NaN) of every other field. A log line is that canonical JSON with the
signature added as the last member; a reader re-canonicalises, so member order is not signed.

Records the writer adds about the log itself have these ``event_type`` values:
:data:`LOG_SEALED` (the log was closed: nothing follows but a resume) and :data:`LOG_RESUMED` (a
writer opened the log again; ``details["after"]`` says whether it found it ``"sealed"`` or
``"unsealed"``, the latter after a crash or a cut) and :data:`LOG_ROTATED` (the first record of
every file after the first: ``details["file_index"]`` names the file, ``"previous_file_bytes"``
how long the writer left the file before). Each of the three says whether the writer keeps an
anchor file (``details["anchor"]``).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import hashlib
import hmac
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

GENESIS_SIGNATURE = "0" * 64
EXECUTION_STATUSES = ("SUCCESS", "MODIFIED", "REJECTED", "DEFERRED", "ROLLED_BACK", "PENDING", "FAILED")
SOURCES = ("detected", "injected", "agent", "manual", "rule")
# Common values; event_type and action_type are not restricted to these.
EVENT_TYPES = ("DFS_RADAR", "NON_WIFI_INTERFERENCE", "SPECTRUM_SATURATION", "DEGRADATION", "CHANGE_REQUEST")
ACTION_TYPES = ("CHANNEL_CHANGE", "POWER_CHANGE", "WIDTH_CHANGE", "ROLLBACK", "NONE")
LOG_SEALED = "LOG_SEALED"
LOG_RESUMED = "LOG_RESUMED"
LOG_ROTATED = "LOG_ROTATED"
RECORD_FIELDS = (
    "audit_id",
    "sequence",
    "sim_time_s",
    "network",
    "ap_id",
    "event_type",
    "action_type",
    "configuration_changes",
    "source",
    "rollback_token",
    "execution_status",
    "reason",
    "details",
    "prev_signature",
    "signature",
)
MAX_LINE_BYTES = 256 * 1024  # a record's line; the event loop's are under 1 KiB
MAX_DEPTH = 16  # nesting of details and configuration changes

SIGNATURE_MISMATCH = "signature mismatch: record edited or signed with another key"
CHAIN_BROKEN = "chain broken: prev_signature does not match previous record (record deleted, inserted or reordered)"


def _enum_text(value: enum.Enum) -> Any:
    # str enums (Source.AGENT) log their value, others (IntEnum EventType.DFS_RADAR) their name.
    return value.value if isinstance(value.value, str) else value.name


_INT_LIMIT = 10**4000  # longer integers are refused (Python will not write one of over 4,300 digits)


def to_jsonable(value: Any, where: str = "value", depth: int = 0) -> Any:
    """``value`` as plain JSON types: numpy scalars/arrays, tuples, sets, enums, paths and dataclasses converted.

    Non-finite floats become the strings ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has no NaN). Dict
    keys become strings; sets are sorted so the signature does not depend on hash order. Anything
    else, or nesting deeper than :data:`MAX_DEPTH`, raises ``TypeError`` naming where it was found.
    """
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if t is int:
        if -_INT_LIMIT < value < _INT_LIMIT:
            return value
        raise TypeError(f"{where}: an integer of over 4,000 digits")
    if t is float:
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        raise TypeError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                return _convert(value, where, depth)
            out[k] = to_jsonable(v, f"{where}.{k}", depth + 1)
        return out
    if t is list or t is tuple:
        return [to_jsonable(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    return _convert(value, where, depth)


def _convert(value: Any, where: str, depth: int) -> Any:
    """:func:`to_jsonable` of anything but exact plain types."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(_enum_text(value), where, depth)
    if isinstance(value, int):
        return to_jsonable(int(value), where, depth)
    if isinstance(value, float):
        return to_jsonable(float(value), where, depth)
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), where, depth)
    if isinstance(value, np.generic):
        return to_jsonable(value.item(), where, depth)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            k = _enum_text(k) if isinstance(k, enum.Enum) else k.item() if isinstance(k, np.generic) else k
            if not isinstance(k, (str, int, float, bool)) or k is None:
                raise TypeError(f"{where}: dict key {k!r} of type {type(k).__name__} is not JSON-safe")
            if str(k) in out:
                raise TypeError(f"{where}: two keys read {str(k)!r} in JSON")
            out[str(k)] = to_jsonable(v, f"{where}.{k}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return sorted((to_jsonable(v, f"{where}{{}}", depth + 1) for v in value), key=canonical_json)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), where, depth)
    raise TypeError(f"{where}: {type(value).__name__} is not JSON-safe")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """The signed encoding: sorted keys, no spaces, UTF-8 text, no NaN."""
    return _CANONICAL.encode(value)


def sign(text: str, key: bytes) -> str:
    """Hex HMAC-SHA256 of ``text`` (UTF-8) under ``key``."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def compute_signature(record: Mapping[str, Any], key: bytes) -> str:
    """The signature of ``record``: :func:`sign` of the canonical JSON of its fields but ``signature``."""
    return sign(canonical_json({k: v for k, v in record.items() if k != "signature"}), key)


def signed_line(body: Mapping[str, Any], key: bytes) -> tuple[str, str]:
    """``(line, signature)`` for an unsigned record ``body`` (every field but ``signature``):
    the canonical JSON of ``body``, signed, with ``"signature"`` added as its last member."""
    text = canonical_json(body)
    signature = sign(text, key)
    return f'{text[:-1]},"signature":"{signature}"}}', signature


@dataclass(frozen=True)
class AuditRecord:
    """One signed audit record; treat as read-only (``to_dict`` returns a deep copy)."""

    audit_id: str
    sequence: int
    sim_time_s: float  # simulated seconds since the run started
    network: int
    ap_id: int | None
    event_type: str
    action_type: str
    configuration_changes: tuple[dict[str, Any], ...]  # each {"param", "old_value", "new_value"}
    source: str
    rollback_token: str | None
    execution_status: str
    reason: str
    details: dict[str, Any]
    prev_signature: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-safe dict with exactly :data:`RECORD_FIELDS`."""
        d = {name: getattr(self, name) for name in RECORD_FIELDS}
        d["configuration_changes"] = copy.deepcopy(list(self.configuration_changes))
        d["details"] = copy.deepcopy(self.details)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditRecord:
        """A record from a parsed log line (not verified; see :func:`~rrm_gym.safety.audit.verify_records`)."""
        missing = [name for name in RECORD_FIELDS if name not in d]
        if missing:
            raise ValueError(f"missing field {missing[0]!r}")
        kw = {name: copy.deepcopy(d[name]) for name in RECORD_FIELDS}
        kw["configuration_changes"] = tuple(kw["configuration_changes"])
        return cls(**kw)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A duplicated key would let a line show one value to some readers and sign another.
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard constant {name}")


def parse_line(raw: bytes) -> Any:
    """One log line (without its newline) parsed; ``ValueError`` with a short reason if it is not
    a JSON value within :data:`MAX_LINE_BYTES` and :data:`MAX_DEPTH` levels of nesting."""
    if len(raw) > MAX_LINE_BYTES:
        raise ValueError(f"line longer than {MAX_LINE_BYTES} bytes")
    if raw.count(b"[") + raw.count(b"{") > 4 * MAX_DEPTH and _depth(raw) > MAX_DEPTH + 2:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("invalid UTF-8") from None
    if not text.strip():
        raise ValueError("blank line")
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise ValueError(e.msg) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _depth(raw: bytes) -> int:
    """Greatest bracket nesting of ``raw``, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest
