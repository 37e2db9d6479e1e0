"""Tamper-evident audit log: append-only JSON Lines, each record HMAC-SHA256-signed and hash-chained.

Every record carries ``sequence`` (0, 1, 2, ... per log), ``prev_signature`` (the previous record's
``signature``; ``"0" * 64`` for the first record) and ``signature`` = hex HMAC-SHA256 over the
canonical JSON of all other fields (:func:`canonical_json`). Editing, inserting, deleting or
reordering records therefore breaks a signature, the sequence or the chain, and :func:`verify`
names the first bad line.

Keys (:func:`resolve_key`): an explicit key, else a key file, else ``$RRM_GYM_AUDIT_KEY``. There is
no default key in code. A file-backed log without a key is refused; an in-memory log without one
signs with a random per-process key (``AuditLog.ephemeral_key``), useful only within the process.

Files and rotation: a log at ``audit/audit.jsonl`` continues in ``audit.jsonl.1``, ``audit.jsonl.2``,
... (higher index = newer; files are never renamed) whenever the next record would push the current
file past ``max_bytes``. The chain runs on across files. ``retention_files`` keeps the newest N files
and deletes the oldest, so a directory may start mid-chain; :func:`verify` accepts that only at the
head of the oldest surviving file, and only if that file is a rotated one (index >= 1), and reports
it as ``truncated_head``.

What verification cannot see: records removed from the *end* of the newest file (or whole newest
files) leave a valid, shorter chain; a chain alone cannot tell that from a log that simply stopped
there. Likewise records removed from the head of the oldest surviving rotated file look like
retention. Keep a copy of ``last_signature`` / ``total`` elsewhere (or ship the log off-host) when
that matters. A torn last line (a crash mid-write) is reported as ``torn_tail`` and ignored, which
is the same as tail truncation.

One writer per log: two processes appending to the same file would interleave two chains.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import enum
import hashlib
import hmac
import io
import json
import math
import operator
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

KEY_ENV_VAR = "RRM_GYM_AUDIT_KEY"
GENESIS_SIGNATURE = "0" * 64
EXECUTION_STATUSES = ("SUCCESS", "MODIFIED", "REJECTED", "DEFERRED", "ROLLED_BACK", "PENDING", "FAILED")
SOURCES = ("detected", "injected", "agent", "manual", "rule")
# Common values; event_type and action_type are not restricted to these.
EVENT_TYPES = ("DFS_RADAR", "NON_WIFI_INTERFERENCE", "SPECTRUM_SATURATION", "DEGRADATION", "CHANGE_REQUEST")
ACTION_TYPES = ("CHANNEL_CHANGE", "POWER_CHANGE", "WIDTH_CHANGE", "ROLLBACK", "NONE")
# Values under these keys (anywhere in details / configuration_changes) are client identifiers.
CLIENT_KEYS = frozenset({"client_id", "client", "clients", "client_ids", "mac"})
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

SIGNATURE_MISMATCH = "signature mismatch: record edited or signed with another key"
CHAIN_BROKEN = "chain broken: prev_signature does not match previous record (record deleted, inserted or reordered)"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAC = re.compile(r"(?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:-])")
_PSEUDONYM = re.compile(r"c-[0-9a-f]{16}")
_LOG_NAME = re.compile(r"(?P<base>.+\.jsonl)(?:\.(?P<index>[1-9][0-9]*))?")
_TAIL_CHUNK_BYTES = 64 * 1024


class AuditConfigError(ValueError):
    """The audit log cannot be set up as asked (no key, unreadable key file, bad option)."""


# ----------------------------------------------------------------------------------------- keys


def resolve_key(key: bytes | str | None = None, key_file: str | Path | None = None) -> bytes | None:
    """The HMAC key: ``key``, else the stripped contents of ``key_file``, else ``$RRM_GYM_AUDIT_KEY``.

    A ``str`` key is used as its UTF-8 bytes (a hex string is not decoded). Returns ``None`` when no
    source is set; an empty key or an unreadable key file raises :class:`AuditConfigError`.
    """
    if key is not None:
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        origin = "the key argument"
    elif key_file is not None:
        try:
            raw = Path(key_file).read_bytes().strip()
        except OSError as e:
            raise AuditConfigError(f"cannot read audit key file {str(key_file)!r}: {e.strerror or e}") from None
        origin = f"key file {str(key_file)!r}"
    elif os.environ.get(KEY_ENV_VAR) is not None:
        raw = os.environ[KEY_ENV_VAR].strip().encode("utf-8")
        origin = f"${KEY_ENV_VAR}"
    else:
        return None
    if not raw:
        raise AuditConfigError(f"audit key from {origin} is empty")
    return raw


def _require_key(key: bytes | str | None) -> bytes:
    raw = resolve_key(key)  # None falls back to $RRM_GYM_AUDIT_KEY
    if raw is None:
        raise AuditConfigError(f"no audit key: pass one or set ${KEY_ENV_VAR}")
    return raw


# ----------------------------------------------------------------------------- JSON and signing


def _enum_text(value: enum.Enum) -> Any:
    # str enums (Source.AGENT) log their value, others (IntEnum EventType.DFS_RADAR) their name.
    return value.value if isinstance(value.value, str) else value.name


def to_jsonable(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON types: numpy scalars/arrays, tuples, sets, enums, paths and dataclasses converted.

    Non-finite floats become the strings ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has no NaN). Dict
    keys become strings; sets are sorted so the signature does not depend on hash order. Anything
    else raises ``TypeError`` naming where it was found.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return to_jsonable(_enum_text(value), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(float(value))
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), where)
    if isinstance(value, np.generic):
        return to_jsonable(value.item(), where)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if isinstance(k, enum.Enum):
                k = _enum_text(k)
            if isinstance(k, np.generic):
                k = k.item()
            if not isinstance(k, (str, int, float, bool)) or k is None:
                raise TypeError(f"{where}: dict key {k!r} of type {type(k).__name__} is not JSON-safe")
            out[str(k)] = to_jsonable(v, f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v, f"{where}{{}}") for v in value]
        return sorted(items, key=canonical_json)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), where)
    raise TypeError(f"{where}: {type(value).__name__} is not JSON-safe")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """The signed encoding: sorted keys, no spaces, UTF-8 text, no NaN."""
    return _CANONICAL.encode(value)


_STR = json.encoder.encode_basestring  # how the canonical encoder writes a str (ensure_ascii=False)
_PLAIN_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _reusable(encoder: json.JSONEncoder) -> Any:
    """``encoder.encode`` without building a new C encoder on every call (what ``encode`` does).

    Only for cleaned values (acyclic, plain types). Falls back to ``encoder.encode`` where the C
    encoder is missing or does not write exactly what ``encode`` writes."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    try:
        c = make(
            None, encoder.default, _STR, None, encoder.key_separator, encoder.item_separator,
            encoder.sort_keys, encoder.skipkeys, encoder.allow_nan,
        )  # fmt: skip

        def encode(value: Any) -> str:
            return "".join(c(value, 0))

        sample = {"b": [1, 2.5, None, True, "é\n"], "a": {"y": -0.0, "x": "s"}}
        if encode(sample) != encoder.encode(sample):
            return encoder.encode
    except Exception:  # a C encoder with another signature
        return encoder.encode
    return encode


_canonical_encode = _reusable(_CANONICAL)
_plain_encode = _reusable(_PLAIN_ENCODER)


def _leaf(value: Any, encode: Any = _canonical_encode) -> str:
    """JSON of one cleaned value as ``encode`` writes it; the commonest leaves without the encoder."""
    t = type(value)
    if t is float:
        return float.__repr__(value)
    if t is int:
        return int.__repr__(value)
    if t is str:
        return _STR(value)
    if value is None:
        return "null"
    return encode(value)


_PARAM_JSON = {p: _STR(p) for p in ("channel", "width_mhz", "power_dbm")}


def _changes_json(changes: list[dict[str, Any]], encode: Any = _canonical_encode) -> str:
    # canonical: keys sorted (new_value, old_value, param); file lines: param first, as appended
    items = []
    for c in changes:
        old, new, param = c["old_value"], c["new_value"], c["param"]
        old = float.__repr__(old) if type(old) is float else _leaf(old, encode)
        new = float.__repr__(new) if type(new) is float else _leaf(new, encode)
        param = _PARAM_JSON.get(param) or _STR(param)
        if encode is _canonical_encode:
            items.append(f'{{"new_value":{new},"old_value":{old},"param":{param}}}')
        else:
            items.append(f'{{"param":{param},"old_value":{old},"new_value":{new}}}')
    return "[" + ",".join(items) + "]"


def _may_hold_mac(text: str) -> bool:
    """Whether JSON ``text`` may hold a MAC address (:data:`_MAC`): two cheap counts rule most
    text out, since a MAC needs five ``-`` or a ``:`` after a hex digit, and a JSON key's
    colon follows its closing quote."""
    return (text.count("-") >= 5 or text.count(":") != text.count('":')) and _MAC.search(text) is not None


class _LabelJson(dict):
    """JSON of the record's labels (event, action, status, source), each written once: they
    come from a small set. Bounded, in case a caller makes up a new event type per record."""

    def __missing__(self, label: str) -> str:
        text = _STR(label)
        if len(self) < 1024:
            self[label] = text
        return text


_LABEL_JSON = _LabelJson()
_POWER_CHANGE_JSON, _CHANGE_REQUEST_JSON = _LABEL_JSON["POWER_CHANGE"], _LABEL_JSON["CHANGE_REQUEST"]


def _record_json(row: tuple, audit_id: str, sequence: int, prev_signature: str) -> tuple[str, str]:
    """Canonical JSON of a cleaned record (a :meth:`AuditLog._seal` row, numbered and chained),
    split where ``"signature"`` sorts in (after ``"sequence"``): ``head + tail`` is
    :func:`canonical_json` of the unsigned record, and ``head + ',"signature":"..."' + tail`` that
    of the signed one (see :func:`_record_text`)."""
    t, event_type, source, status, action, network, ap, _, token, reason, _, changes_json, details_json = row
    return _record_text(
        _LABEL_JSON[action], ap, audit_id, changes_json, details_json, _LABEL_JSON[event_type],
        _LABEL_JSON[status], network, prev_signature, reason, token, sequence, t, _LABEL_JSON[source],
    )  # fmt: skip


def _record_text(
    action_json: str,
    ap: int | None,
    audit_id: str,
    changes_json: str,
    details_json: str,
    event_json: str,
    status_json: str,
    network: int,
    prev_signature: str,
    reason: str,
    token: str | None,
    sequence: int,
    t: float,
    source_json: str,
) -> tuple[str, str]:
    """:func:`_record_json` from the record's fields in key order, its labels, changes and details
    as JSON already. Much cheaper than the general encoder because the fields and their order
    are fixed."""
    head = (
        f'{{"action_type":{action_json},"ap_id":{"null" if ap is None else int.__repr__(ap)},'
        f'"audit_id":"{audit_id}","configuration_changes":{changes_json},'
        f'"details":{details_json},"event_type":{event_json},'
        f'"execution_status":{status_json},"network":{int.__repr__(network)},'
        f'"prev_signature":"{prev_signature}","reason":{_STR(reason)},'
        f'"rollback_token":{"null" if token is None else _STR(token)},"sequence":{int.__repr__(sequence)}'
    )
    return head, f',"sim_time_s":{float.__repr__(t)},"source":{source_json}}}'


def _cut(text: str, markers: tuple[str, ...]) -> list[str]:
    """``text`` split at each of ``markers``, which occur once each, in that order."""
    pieces = []
    for m in markers:
        before, found, text = text.partition(m)
        if not found or m in text:
            raise AssertionError(f"record template: marker {m!r} not found once")
        pieces.append(before)
    return pieces + [text]


def _power_record_pieces() -> tuple[list[str], list[str]]:
    """The fixed text of a ``CHANGE_REQUEST`` record of one ``POWER_CHANGE``, between its fields,
    cut from :func:`_record_text` (the one template) written with marker values: ``head`` pieces
    around ap, audit id, the changes' two powers, details, status, network, previous signature,
    reason, token and sequence; ``tail`` pieces around sim time and source."""
    ap, network, seq, old, new, t = 7100001, 7100005, 7100009, 7.100002e300, 7.100003e300, 7.100004e300
    changes = _changes_json([{"param": "power_dbm", "old_value": old, "new_value": new}])
    head, tail = _record_text(
        _POWER_CHANGE_JSON, ap, "\ue001", changes, "\ue003", _CHANGE_REQUEST_JSON, "\ue004", network, "\ue006",
        "\ue007", "\ue008", seq, t, "\ue00a",
    )  # fmt: skip
    markers = (str(ap), "\ue001", repr(new), repr(old), "\ue003", "\ue004", str(network), "\ue006")
    head_pieces = _cut(head, (*markers, _STR("\ue007"), _STR("\ue008"), str(seq)))
    if head_pieces.pop() != "":
        raise AssertionError("record template: the head no longer ends with the sequence")
    return head_pieces, _cut(tail, (repr(t), "\ue00a"))


_POWER_HEAD, _POWER_TAIL = _power_record_pieces()


def _keep(cache: dict, key: Any, text: str) -> str:
    """``cache[key] = text``, the cache started afresh past 4,096 entries; ``text``."""
    if len(cache) >= 4096:
        cache.clear()
    cache[key] = text
    return text


def _hmac_hex(pads: tuple[Any, Any], head: str, tail: str) -> str:
    """Hex HMAC-SHA256 of ``head + tail`` from the padded-key states :func:`_hmac_sha256_pads`
    made (what :func:`compute_signature` gives for the record they write)."""
    inner, outer = pads[0].copy(), pads[1].copy()
    inner.update((head + tail).encode("utf-8"))
    outer.update(inner.digest())
    return outer.hexdigest()


def _file_line(body: Mapping[str, Any]) -> str:
    """A signed record as one JSON line in :data:`RECORD_FIELDS` order (what :func:`_line` writes)."""
    ap, token = body["ap_id"], body["rollback_token"]
    return (
        f'{{"audit_id":{_STR(body["audit_id"])},"sequence":{int.__repr__(body["sequence"])},'
        f'"sim_time_s":{float.__repr__(body["sim_time_s"])},"network":{int.__repr__(body["network"])},'
        f'"ap_id":{"null" if ap is None else int.__repr__(ap)},"event_type":{_STR(body["event_type"])},'
        f'"action_type":{_STR(body["action_type"])},'
        f'"configuration_changes":{_changes_json(body["configuration_changes"], _plain_encode)},'
        f'"source":{_STR(body["source"])},"rollback_token":{"null" if token is None else _STR(token)},'
        f'"execution_status":{_STR(body["execution_status"])},"reason":{_STR(body["reason"])},'
        f'"details":{_plain_encode(body["details"])},"prev_signature":{_STR(body["prev_signature"])},'
        f'"signature":{_STR(body["signature"])}}}'
    )


def _hmac_sha256_pads(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states after the inner and outer padded keys of HMAC (RFC 2104): a signature is
    then two copies and two updates, cheaper than ``hmac`` building them again per message."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))


def compute_signature(record: Mapping[str, Any], key: bytes) -> str:
    """Hex HMAC-SHA256 of :func:`canonical_json` of ``record`` without its ``signature`` field."""
    body = record if "signature" not in record else {k: v for k, v in record.items() if k != "signature"}
    return hmac.digest(key, canonical_json(body).encode("utf-8"), "sha256").hex()


def _line(record: Mapping[str, Any]) -> str:
    # Written in field order for readability; verification re-canonicalises, so order is not signed.
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# --------------------------------------------------------------------------- pseudonymisation


def pseudonymise(identifier: str | int | bytes, key: bytes) -> str:
    """``"c-"`` + first 16 hex chars of HMAC-SHA256(key, ``b"client:"`` + identifier).

    ``17`` and ``"17"`` map alike. MAC addresses are normalised first (lower case, ``:``), so
    ``AA-BB-CC-DD-EE-FF`` and ``aa:bb:cc:dd:ee:ff`` get the same pseudonym.
    """
    if isinstance(identifier, bytes):
        raw = identifier
    else:
        text = str(identifier)
        if _MAC.fullmatch(text):
            text = text.lower().replace("-", ":")
        raw = text.encode("utf-8")
    return "c-" + hmac.new(key, b"client:" + raw, hashlib.sha256).hexdigest()[:16]


def _pseudo_all(value: Any, key: bytes) -> Any:
    # Everything under a client key is treated as identifying: dict keys and scalar leaves alike.
    if value is None:
        return None
    if isinstance(value, list):
        return [_pseudo_all(v, key) for v in value]
    if isinstance(value, dict):
        return {_pseudo_all(k, key): _pseudo_all(v, key) for k, v in value.items()}
    if isinstance(value, str) and _PSEUDONYM.fullmatch(value):
        return value  # already pseudonymised by the caller
    return pseudonymise(value, key)


def _scrub(value: Any, key: bytes) -> Any:
    """Pseudonymise client identifiers in JSON-safe ``value``: values under client keys, and MAC-like text."""
    if isinstance(value, dict):
        out = {
            _scrub_text(k, key): (_pseudo_all(v, key) if k in CLIENT_KEYS else _scrub(v, key)) for k, v in value.items()
        }
        # A change of a client-valued parameter: {"param": "client_id", "old_value": ..., "new_value": ...}
        if isinstance(out.get("param"), str) and out["param"] in CLIENT_KEYS:
            for k in ("old_value", "new_value"):
                if k in out:
                    out[k] = _pseudo_all(value[k], key)
        return out
    if isinstance(value, list):
        return [_scrub(v, key) for v in value]
    if isinstance(value, str):
        return _scrub_text(value, key)
    return value


class _NotPlain(Exception):
    """Raised by :func:`_clean_plain` when a value needs the general conversion path."""


def _clean_plain(value: Any, key: bytes) -> Any:
    """Fast path of ``_scrub(to_jsonable(value))`` for plain dicts, lists, strings and numbers
    without client keys (the common case); anything else raises :class:`_NotPlain`."""
    t = type(value)
    if t is str:
        return value if len(value) < 17 else _scrub_text(value, key)
    if t is float:
        return value if math.isfinite(value) else str(value)
    if t is int or t is bool or value is None:
        return value
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str or k in CLIENT_KEYS:
                raise _NotPlain
            if len(k) >= 17:  # shorter than any MAC address: nothing to replace
                k = _scrub_text(k, key)
            tv = type(v)
            # inline the commonest leaves
            if tv is int or (tv is float and math.isfinite(v)):
                out[k] = v
            elif tv is str and len(v) < 17:
                out[k] = v
            else:
                out[k] = _clean_plain(v, key)
        param = out.get("param")
        if type(param) is str and param in CLIENT_KEYS:
            raise _NotPlain  # a change of a client-valued parameter: its values are identifiers
        return out
    if t is list or t is tuple:
        return [_clean_plain(v, key) for v in value]
    raise _NotPlain


def _clean(value: Any, key: bytes, where: str) -> Any:
    try:
        return _clean_plain(value, key)
    except _NotPlain:
        return _scrub(to_jsonable(value, where), key)


def _scrub_text(text: str, key: bytes) -> str:
    if len(text) < 17 or (text.count(":") < 5 and text.count("-") < 5):
        return text  # shorter than any MAC address, or without five of one separator (see _MAC)
    return _MAC.sub(lambda m: pseudonymise(m.group(0), key), text) if _MAC.search(text) else text


_CHANGE_KEYS = frozenset({"param", "old_value", "new_value"})


def _plain_changes(changes: Any) -> list[dict[str, Any]] | None:
    """A private copy of ``changes`` when it is already clean and well formed (the event loop's:
    a list of ``{"param", "old_value", "new_value"}`` with a short parameter name and numbers or
    ``None`` as values); ``None`` when it needs :func:`_changes` and :func:`_clean`."""
    if type(changes) is not list:
        return None
    out = []
    for c in changes:
        if type(c) is not dict or c.keys() != _CHANGE_KEYS:
            return None
        param, old, new = c["param"], c["old_value"], c["new_value"]
        if type(param) is not str or not param or len(param) >= 17 or param in CLIENT_KEYS:
            return None
        for v in (old, new):
            t = type(v)
            if not (t is int or v is None or (t is float and math.isfinite(v))):
                return None
        out.append({"param": param, "old_value": old, "new_value": new})
    return out


# ------------------------------------------------------------------------------------ records


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
    def _from_body(cls, body: dict[str, Any]) -> AuditRecord:
        # a body the log built and owns: shared, not copied
        return cls(**{**body, "configuration_changes": tuple(body["configuration_changes"])})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditRecord:
        """A record from a parsed log line (not verified; see :func:`verify_records`)."""
        missing = [name for name in RECORD_FIELDS if name not in d]
        if missing:
            raise ValueError(f"missing field {missing[0]!r}")
        kw = {name: d[name] for name in RECORD_FIELDS}
        kw["configuration_changes"] = tuple(copy.deepcopy(list(d["configuration_changes"])))
        kw["details"] = copy.deepcopy(dict(d["details"]))
        return cls(**kw)


def _label(value: Any, name: str, allowed: tuple[str, ...] | None = None) -> str:
    if isinstance(value, enum.Enum):
        value = _enum_text(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if allowed is not None and value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value


def _changes(changes: Iterable[Any]) -> list[dict[str, Any]]:
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
                param, old, new = c
            except (TypeError, ValueError):
                raise ValueError(
                    f"configuration_changes[{i}] must be a mapping or a (param, old, new) tuple, got {c!r}"
                ) from None
        out.append({"param": _label(param, f"configuration_changes[{i}].param"), "old_value": old, "new_value": new})
    return out


# ------------------------------------------------------------------------------- verification


@dataclass
class VerifyResult:
    """Outcome of :func:`verify` / :func:`verify_records`.

    ``first_bad_line`` is 1-based within ``file`` (within the list for :func:`verify_records`);
    ``first_bad_sequence`` is the sequence number written in that record (``None`` if unreadable).
    """

    ok: bool
    records: int = 0  # valid records checked (before the first bad one)
    first_bad_line: int | None = None
    first_bad_sequence: int | None = None
    file: str | None = None
    reason: str = "intact"
    torn_tail: bool = False  # an incomplete last line (crash mid-write) was ignored
    truncated_head: bool = False  # the chain starts mid-log (oldest files removed by retention)


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
        expected_sig = compute_signature(rec, key)
    except (TypeError, ValueError):
        return "record is not JSON-safe", seq
    if not hmac.compare_digest(expected_sig, sig):
        return SIGNATURE_MISMATCH, seq
    # Only the key holder can get here, but a hand-made record could still carry odd types.
    if seq is None or seq < 0 or not isinstance(rec["prev_signature"], str):
        return "malformed sequence or prev_signature", seq
    return None


class _Chain:
    """Checks records one by one: fields, signature, sequence, link to the previous record."""

    def __init__(self, key: bytes, allow_truncated_head: bool) -> None:
        self.key = key
        self.allow_truncated_head = allow_truncated_head
        self.expected_seq: int | None = None  # None until the first valid record
        self.prev_sig = GENESIS_SIGNATURE
        self.records = 0
        self.truncated_head = False

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
        self.expected_seq = seq + 1
        self.prev_sig = sig
        self.records += 1
        return None


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


def _parse_line(raw: bytes) -> Any:
    """Parse one log line; ``ValueError`` with a short reason if it is not valid JSON."""
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


def rotation_index(path: str | Path) -> int:
    """0 for ``audit.jsonl``, n for ``audit.jsonl.n``."""
    m = _LOG_NAME.fullmatch(Path(path).name)
    return int(m["index"]) if m and m["index"] else 0


def log_files(path: str | Path) -> list[Path]:
    """The files of a log, oldest first: ``[path]`` for a file; for a directory its ``*.jsonl[.n]`` files.

    Raises ``FileNotFoundError`` for a missing path and :class:`AuditConfigError` for a directory
    holding no log or several (differently named) logs.
    """
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.exists():
        raise FileNotFoundError(f"no such file or directory: {str(p)!r}")
    if not p.is_dir():
        raise AuditConfigError(f"{str(p)!r} is neither a file nor a directory")
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


def _boundary_note(files: list[Path], i: int) -> str:
    return f" (at the start of {files[i].name}: records at the end of {files[i - 1].name} or a whole file removed)"


def verify(path: str | Path, key: bytes | str | None, *, allow_truncated_head: bool | None = None) -> VerifyResult:
    """Verify a log file, or a directory of rotated files in rotation order, against ``key``.

    ``allow_truncated_head`` defaults to: only when the oldest file is a rotated one (``.n``, n >= 1),
    i.e. the base file was removed by retention. Streams the files; memory stays small.
    """
    key_bytes = _require_key(key)
    files = log_files(path)
    if allow_truncated_head is None:
        allow_truncated_head = rotation_index(files[0]) > 0
    chain = _Chain(key_bytes, allow_truncated_head)
    torn: list[str] = []
    for i, f in enumerate(files):
        with open(f, "rb") as fh:
            for line_no, raw in enumerate(fh, 1):
                try:
                    rec = _parse_line(raw)
                except ValueError as e:
                    if not raw.endswith(b"\n"):
                        # Only the last line of a file can lack the newline: an interrupted write.
                        # Ignoring it is safe: a later file must still link to the last full record.
                        torn.append(f.name)
                        break
                    bad: tuple[str, int | None] | None = (f"not valid JSON: {e}", None)
                else:
                    bad = chain.check(rec)
                if bad is not None:
                    reason, seq = bad
                    if line_no == 1 and i > 0 and reason.startswith(("sequence gap", "chain broken")):
                        reason += _boundary_note(files, i)
                    return VerifyResult(
                        ok=False,
                        records=chain.records,
                        first_bad_line=line_no,
                        first_bad_sequence=seq,
                        file=str(f),
                        reason=reason,
                        torn_tail=bool(torn),
                        truncated_head=chain.truncated_head,
                    )
    notes = ["intact"]
    if chain.truncated_head:
        notes.append(f"chain starts at sequence {chain.expected_seq - chain.records} (older files removed)")
    if torn:
        notes.append(f"incomplete last line ignored in {', '.join(torn)} (interrupted write)")
    return VerifyResult(
        True, chain.records, reason="; ".join(notes), torn_tail=bool(torn), truncated_head=chain.truncated_head
    )


def verify_records(
    records: Iterable[Mapping[str, Any] | AuditRecord], key: bytes | str | None, *, allow_truncated_head: bool = False
) -> VerifyResult:
    """Verify in-memory records (dicts or :class:`AuditRecord`) in order; ``first_bad_line`` is the 1-based index."""
    chain = _Chain(_require_key(key), allow_truncated_head)
    for i, rec in enumerate(records, 1):
        # Read-only use, so skip to_dict()'s deep copy.
        d = {n: getattr(rec, n) for n in RECORD_FIELDS} if isinstance(rec, AuditRecord) else rec
        bad = chain.check(d)
        if bad is not None:
            return VerifyResult(False, chain.records, i, bad[1], None, bad[0], truncated_head=chain.truncated_head)
    return VerifyResult(True, chain.records, truncated_head=chain.truncated_head)


def iter_records(path: str | Path, *, skip_invalid: bool = False) -> Iterator[dict[str, Any]]:
    """Parsed records of a log file or directory, oldest first, without verifying them.

    A torn last line is skipped; another unparseable line raises ``ValueError`` unless ``skip_invalid``.
    """
    for f in log_files(path):
        with open(f, "rb") as fh:
            for line_no, raw in enumerate(fh, 1):
                try:
                    rec = _parse_line(raw)
                except ValueError as e:
                    if skip_invalid or not raw.endswith(b"\n"):
                        continue
                    raise ValueError(f"{f} line {line_no}: not valid JSON: {e}") from None
                if isinstance(rec, dict):
                    yield rec
                elif not skip_invalid:
                    raise ValueError(f"{f} line {line_no}: not a JSON object")


def _last_line(path: Path) -> tuple[bytes | None, bool]:
    """``(last complete line, file ends with a newline)``; reads backwards in chunks, not the whole file.

    A trailing fragment without newline counts as the last line if it parses (the newline alone was
    lost), otherwise it is torn and the line before it is returned.
    """
    size = path.stat().st_size
    if size == 0:
        return None, True
    chunk = _TAIL_CHUNK_BYTES
    with open(path, "rb") as fh:
        while True:
            start = max(0, size - chunk)
            fh.seek(start)
            data = fh.read(size - start)
            ends_clean = data.endswith(b"\n")
            pieces = data.split(b"\n")
            tail = pieces[-1]  # b"" after a final newline, else a fragment
            # Pieces that were followed by a newline; a chunk starting mid-file cuts its first piece.
            complete = pieces[(0 if start == 0 else 1) : -1]
            if not ends_clean and (start == 0 or len(pieces) > 1):
                try:
                    _parse_line(tail)
                except ValueError:
                    pass  # torn: fall back to the last complete line
                else:
                    return tail, False
            if complete:
                return complete[-1], ends_clean
            if start == 0:
                return None, ends_clean
            chunk *= 4


# ------------------------------------------------------------------------------------ the log


class PreparedDetails:
    """A record's ``details`` cleaned and encoded by :meth:`AuditLog.prepare_details`, for records
    of that log that repeat them (read-only by convention)."""

    __slots__ = ("log", "value", "text")

    def __init__(self, log: AuditLog, value: Any, text: str) -> None:
        self.log, self.value, self.text = log, value, text


class AuditLog:
    """Append-only, signed, hash-chained audit log, in memory and optionally in JSON Lines files.

    ``path`` (e.g. ``audit/audit.jsonl``) enables the file sink; an existing log there is resumed
    (sequence and chain continue; nothing written is touched). ``max_bytes`` rotates to
    ``audit.jsonl.1``, ``.2``, ...; ``retention_files`` keeps only the newest N files. ``fsync``
    forces each record to disk (slow, crash-safe). ``seed`` makes ``audit_id`` reproducible.
    Memory keeps the newest ``memory_limit`` records; ``total`` and ``counts_by_status`` count all
    records appended by this object.
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
    ) -> None:
        resolved = resolve_key(key, key_file)
        self.ephemeral_key = resolved is None
        if resolved is None:
            if path is not None:
                raise AuditConfigError(
                    f"an audit log file needs a signing key: set ${KEY_ENV_VAR}, or pass key= or key_file= "
                    "(e.g. 32 random bytes: python -c 'import secrets; print(secrets.token_hex(32))')"
                )
            resolved = secrets.token_bytes(32)  # in-memory only: signatures are checkable in this process
        self._key = resolved
        if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes < 1):
            raise AuditConfigError(f"max_bytes must be a positive integer, got {max_bytes!r}")
        if retention_files is not None:
            if not isinstance(retention_files, int) or retention_files < 1:
                raise AuditConfigError(f"retention_files must be a positive integer, got {retention_files!r}")
            if max_bytes is None:
                raise AuditConfigError("retention_files needs max_bytes (without rotation there is one file)")
        if memory_limit < 0:
            raise AuditConfigError(f"memory_limit must be >= 0, got {memory_limit}")
        if (max_bytes is not None or fsync) and path is None:
            raise AuditConfigError("max_bytes, retention_files and fsync need path=")
        self._fsync = fsync
        self._max_bytes = max_bytes
        self._retention = retention_files
        if seed is None:
            self._id_prefix = secrets.token_hex(8)
        else:
            self._id_prefix = hashlib.sha256(f"rrm-gym-audit:{seed}".encode()).hexdigest()[:16]
        self._memory: collections.deque[str] = collections.deque(maxlen=memory_limit)  # signed canonical JSON
        # the parts of a power change's record that repeat (see record_power_change), joined once
        self._power_openings: dict[int, str] = {}
        self._power_middles: dict[tuple[str, int], str] = {}
        self._power_reasons: dict[str, str] = {}
        self._power_ends: dict[str, str] = {}
        self._pads = _hmac_sha256_pads(self._key)
        self._lock = threading.Lock()
        self._next_seq = 0
        self._last_sig = GENESIS_SIGNATURE
        self.total = 0
        self._counts: dict[str, int] = {}
        self._closed = False
        self._fh: IO[bytes] | None = None
        self._base: Path | None = None
        self._index = 0
        self._size = 0
        if path is not None:
            self._base = Path(path)
            self._base.parent.mkdir(parents=True, exist_ok=True)
            self._resume()
            self._open_current()

    # ------------------------------------------------------------------------------ files

    def _file(self, index: int) -> Path:
        assert self._base is not None
        return self._base if index == 0 else self._base.with_name(f"{self._base.name}.{index}")

    def _indices(self) -> list[int]:
        assert self._base is not None
        pattern = re.compile(re.escape(self._base.name) + r"(?:\.([1-9][0-9]*))?")
        found = []
        for child in self._base.parent.iterdir():
            m = pattern.fullmatch(child.name)
            if m and child.is_file():
                found.append(int(m[1] or 0))
        return sorted(found)

    def _resume(self) -> None:
        """Continue the chain of an existing log: last record of the newest file that has one."""
        indices = self._indices()
        if not indices:
            return
        self._index = indices[-1]
        newest_clean = True
        for n, idx in enumerate(reversed(indices)):
            f = self._file(idx)
            raw, ends_clean = _last_line(f)
            if n == 0:
                newest_clean = ends_clean
            if raw is None:
                continue
            try:
                rec = _parse_line(raw)
            except ValueError as e:
                problem: tuple[str, int | None] | None = (f"not valid JSON: {e}", None)
            else:
                problem = _record_problem(rec, self._key)
            if problem is not None:
                raise AuditConfigError(
                    f"cannot resume audit log {str(f)!r}: its last record does not verify ({problem[0]}); "
                    "check it with 'rrm-gym audit verify', or use another path"
                )
            self._next_seq = rec["sequence"] + 1
            self._last_sig = rec["signature"]
            break
        if not newest_clean:
            # Never modify written bytes: after an interrupted write, continue in the next file.
            self._index += 1

    def _open_current(self) -> None:
        f = self._file(self._index)
        self._fh = open(f, "ab")  # noqa: SIM115 - held open for the log's lifetime
        self._size = self._fh.tell()
        self._enforce_retention()

    def _enforce_retention(self) -> None:
        if self._retention is None:
            return
        indices = self._indices()
        for idx in indices[: max(0, len(indices) - self._retention)]:
            if idx != self._index:
                self._file(idx).unlink(missing_ok=True)

    def _rotate(self) -> None:
        assert self._fh is not None
        self._fh.close()
        self._index += 1
        self._open_current()
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

    # ------------------------------------------------------------------------------ API

    @property
    def current_file(self) -> Path | None:
        """The file being written, or ``None`` for an in-memory log."""
        return None if self._base is None else self._file(self._index)

    @property
    def records(self) -> list[AuditRecord]:
        """The records held in memory (the newest ``memory_limit``), oldest first."""
        with self._lock:
            texts = list(self._memory)
        return [AuditRecord._from_body(json.loads(t)) for t in texts]

    @property
    def last_signature(self) -> str:
        """Signature of the newest record (``"0" * 64`` before the first)."""
        return self._last_sig

    @property
    def next_sequence(self) -> int:
        """Sequence number the next record will get (continues a resumed log)."""
        return self._next_seq

    @property
    def counts_by_status(self) -> dict[str, int]:
        """Records appended by this object, per ``execution_status``."""
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
        identifiers in ``details`` / ``configuration_changes`` are pseudonymised before signing.
        """
        return AuditRecord._from_body(
            self._append(
                sim_time_s,
                event_type,
                source,
                execution_status,
                action_type,
                network,
                ap_id,
                configuration_changes,
                rollback_token,
                reason,
                details,
            )
        )

    def _append(
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
        t = float(sim_time_s)
        if not math.isfinite(t):
            raise ValueError(f"sim_time_s must be finite, got {sim_time_s!r}")
        if isinstance(network, bool) or isinstance(ap_id, bool):
            raise ValueError("network and ap_id must be integers, not bool")
        if rollback_token is not None and type(rollback_token) is not str:
            raise ValueError(f"rollback_token must be a string or None, got {rollback_token!r}")
        if type(reason) is not str:
            if not isinstance(reason, str):
                raise ValueError(f"reason must be a string, got {reason!r}")
            reason = str.__str__(reason)
        if details is not None and not isinstance(details, Mapping):
            raise ValueError(f"details must be a mapping, got {type(details).__name__}")
        # exact, known labels (the event loop's) skip the general check
        if not (type(source) is str and source in SOURCES):
            source = _label(source, "source", SOURCES)
        if not (type(execution_status) is str and execution_status in EXECUTION_STATUSES):
            execution_status = _label(execution_status, "execution_status", EXECUTION_STATUSES)
        if not (type(event_type) is str and event_type):
            event_type = _label(event_type, "event_type")
        if not (type(action_type) is str and action_type):
            action_type = _label(action_type, "action_type")
        changes = _plain_changes(configuration_changes)
        if changes is None:
            changes = _clean(_changes(configuration_changes), self._key, "configuration_changes")
        details = _clean(details if type(details) is dict else dict(details or {}), self._key, "details")
        row = (
            t, event_type, source, execution_status, action_type, operator.index(network),
            None if ap_id is None else operator.index(ap_id), changes, rollback_token, _scrub_text(reason, self._key),
            details, _changes_json(changes), _canonical_encode(details),
        )  # fmt: skip
        (sealed,) = self._seal([row])
        return self._body(row, *sealed)

    def record_change(
        self,
        sim_time_s: float,
        event_type: str,
        source: str,
        execution_status: str,
        action_type: str,
        network: int,
        ap_id: int | None,
        configuration_changes: list[dict[str, Any]],
        rollback_token: str | None,
        reason: str,
        details: dict[str, Any] | PreparedDetails,
    ) -> str:
        """:meth:`append`, returning only the new record's ``audit_id``, for a caller that built the
        record's frame itself (the event loop):
        ``sim_time_s`` a finite float, ``network`` / ``ap_id`` ints, the labels valid, and
        ``configuration_changes`` ``{"param", "old_value", "new_value"}`` dicts of short parameter
        names and Python numbers; these are not checked again. ``reason`` and ``details`` are
        cleaned as :meth:`append` cleans them, except that ``details`` the JSON encoder takes as
        they are (plain types without client keys, MAC addresses or escaped characters) are
        written as it writes them: subclasses of int, float and str as those types. ``details`` may
        be a :class:`PreparedDetails` of this log."""
        if type(details) is not PreparedDetails or self._fh is not None or self._closed:
            row = (
                sim_time_s, event_type, source, execution_status, action_type, network, ap_id,
                configuration_changes, rollback_token, reason, details,
            )  # fmt: skip
            return self.record_changes([row])[0]
        # in memory, with details prepared (the loop's change requests): _seal's steps for one record
        if details.log is not self:
            raise ValueError("details prepared by another audit log (its key pseudonymises differently)")
        if len(reason) >= 17:
            reason = _scrub_text(reason, self._key)
        changes_json = _changes_json(configuration_changes)
        with self._lock:
            if self._closed:
                raise ValueError("audit log is closed")
            seq = self._next_seq
            audit_id = f"{self._id_prefix}{seq:016x}"
            head, tail = _record_text(
                _LABEL_JSON[action_type], ap_id, audit_id, changes_json, details.text, _LABEL_JSON[event_type],
                _LABEL_JSON[execution_status], network, self._last_sig, reason, rollback_token, seq, sim_time_s,
                _LABEL_JSON[source],
            )  # fmt: skip
            self._keep_signed(head, tail, seq, execution_status)
        return audit_id

    def _keep_signed(self, head: str, tail: str, seq: int, status: str, sig: str | None = None) -> None:
        """Keep a record written as ``head`` and ``tail`` (see :func:`_record_text`) with sequence
        number ``seq``, signed (``sig``, or signed here), in memory, and count it (under the lock)."""
        if sig is None:
            sig = _hmac_hex(self._pads, head, tail)
        self._memory.append(f'{head},"signature":"{sig}"{tail}')
        self._next_seq, self._last_sig = seq + 1, sig
        self.total += 1
        counts = self._counts
        counts[status] = counts.get(status, 0) + 1

    def record_power_change(
        self,
        sim_time_s: float,
        source: str,
        execution_status: str,
        network: int,
        ap_id: int,
        old_dbm: float,
        new_dbm: float,
        rollback_token: str | None,
        reason: str,
        details: PreparedDetails,
    ) -> str:
        """:meth:`record_change` of a ``CHANGE_REQUEST`` record of one ``POWER_CHANGE`` from
        ``old_dbm`` to ``new_dbm`` (Python floats), with details prepared by this log: the event
        loop's commonest record, its changes' JSON written without the general path."""
        if details.log is not self:
            raise ValueError("details prepared by another audit log (its key pseudonymises differently)")
        plain = type(old_dbm) is float and type(new_dbm) is float and type(sim_time_s) is float
        if self._fh is not None or self._closed or not (plain and type(ap_id) is int and type(network) is int):
            # a file sink's line, the refusal, or numbers of other types: the general path
            if len(reason) >= 17:
                reason = _scrub_text(reason, self._key)
            changes = [{"param": "power_dbm", "old_value": old_dbm, "new_value": new_dbm}]
            row = (
                sim_time_s, "CHANGE_REQUEST", source, execution_status, "POWER_CHANGE", network, ap_id, changes,
                rollback_token, reason, details.value, _changes_json(changes), details.text,
            )  # fmt: skip
            return self._seal([row])[0][0]
        # in memory: _seal's steps for one record, its text written from the template's pieces
        # (see _power_record_pieces) with what repeats joined once (exact ints and floats, so each
        # is written as its repr)
        h = _POWER_HEAD
        opening = self._power_openings.get(ap_id)
        if opening is None:
            opening = _keep(self._power_openings, ap_id, f"{h[0]}{ap_id}{h[1]}")
        middle = self._power_middles.get((execution_status, network))
        if middle is None:
            text = f"{h[5]}{_LABEL_JSON[execution_status]}{h[6]}{network}{h[7]}"
            middle = _keep(self._power_middles, (execution_status, network), text)
        why = self._power_reasons.get(reason)
        if why is None:
            why = _keep(self._power_reasons, reason, f"{h[8]}{_STR(_scrub_text(reason, self._key))}{h[9]}")
        end = self._power_ends.get(source)
        if end is None:
            end = _keep(self._power_ends, source, f"{_POWER_TAIL[1]}{_LABEL_JSON[source]}{_POWER_TAIL[2]}")
        token = "null" if rollback_token is None else _STR(rollback_token)
        with self._lock:
            if self._closed:
                raise ValueError("audit log is closed")
            seq, prev = self._next_seq, self._last_sig
            audit_id = f"{self._id_prefix}{seq:016x}"
            head = (
                f"{opening}{audit_id}{h[2]}{new_dbm!r}{h[3]}{old_dbm!r}{h[4]}{details.text}{middle}{prev}{why}"
                f"{token}{h[10]}{seq}"
            )
            tail = f"{_POWER_TAIL[0]}{sim_time_s!r}{end}"
            self._keep_signed(head, tail, seq, execution_status)
        return audit_id

    def prepare_details(self, details: dict[str, Any]) -> PreparedDetails:
        """``details`` cleaned and encoded once, for records of this log that repeat them: a row of
        :meth:`record_changes` may carry the result instead of the mapping (the event loop keeps
        one per distinct request)."""
        return PreparedDetails(self, *self._details_json(details))

    def _details_json(self, details: Any) -> tuple[Any, str]:
        """``details`` as :meth:`record_change` cleans them, and their canonical JSON."""
        try:
            text: str | None = _canonical_encode(details)
        except (TypeError, ValueError):  # numpy values, NaN, ...: the general conversion
            text = None
        if text is None or "\\" in text or '"client' in text or '"mac"' in text or _may_hold_mac(text):
            details = _clean(details, self._key, "details")
            text = _canonical_encode(details)
        return details, text

    def record_changes(self, rows: Iterable[tuple]) -> list[str]:
        """:meth:`record_change` for each row of its arguments, in order, under one lock; the
        new records' ids. A row's details may be a :class:`PreparedDetails` of this log."""
        key = self._key
        cleaned: list[tuple] = []
        # rows may share one details object (the loop's batches do): it is cleaned and encoded
        # once; the entry holds the object, so its id cannot be reused while the call runs
        done: dict[int, tuple[Any, Any, str]] = {}
        for t, event_type, source, status, action, network, ap_id, changes, token, reason, details in rows:
            if type(details) is PreparedDetails:
                if details.log is not self:
                    raise ValueError("details prepared by another audit log (its key pseudonymises differently)")
                details, text = details.value, details.text
            else:
                hit = done.get(id(details))
                if hit is not None:
                    _, details, text = hit
                else:
                    given = details
                    details, text = self._details_json(details)
                    done[id(given)] = (given, details, text)
            if len(reason) >= 17:
                reason = _scrub_text(reason, key)
            cleaned.append((t, event_type, source, status, action, network, ap_id, changes, token, reason, details,
                            _changes_json(changes), text))  # fmt: skip
        return [audit_id for audit_id, _, _, _ in self._seal(cleaned)]

    @staticmethod
    def _body(row: tuple, audit_id: str, sequence: int, prev_signature: str, signature: str) -> dict[str, Any]:
        """A sealed :meth:`_seal` row as a record body (what :meth:`_append` returns and file lines write)."""
        t, event_type, source, status, action, network, ap_id, changes, token, reason, details, _, _ = row
        return {
            "audit_id": audit_id,
            "sequence": sequence,
            "sim_time_s": t,
            "network": network,
            "ap_id": ap_id,
            "event_type": event_type,
            "action_type": action,
            "configuration_changes": changes,
            "source": source,
            "rollback_token": token,
            "execution_status": status,
            "reason": reason,
            "details": details,
            "prev_signature": prev_signature,
            "signature": signature,
        }

    def _seal(self, rows: list[tuple]) -> list[tuple[str, int, str, str]]:
        """Number, chain, sign, store and write cleaned records, in order; each row holds the
        fields ``(sim_time_s, event_type, source, execution_status, action_type, network, ap_id,
        configuration_changes, rollback_token, reason, details)`` and the canonical JSON of its
        changes and of its details. Returns each record's ``(audit_id, sequence, prev_signature,
        signature)``."""
        sealed = []
        with self._lock:
            if self._closed:
                raise ValueError("audit log is closed")
            pads, prefix, fh = self._pads, self._id_prefix, self._fh
            seq, sig = self._next_seq, self._last_sig
            for row in rows:
                # a per-log prefix and the sequence number: unique within a log, far cheaper than a
                # hash or uuid4() per record; a seeded log's prefix comes from the seed (equal
                # seeds, equal ids), and a resumed log's sequence continues, so its ids stay unique
                audit_id, prev = f"{prefix}{seq:016x}", sig
                head, tail = _record_json(row, audit_id, seq, prev)
                sig = _hmac_hex(pads, head, tail)
                if fh is not None:
                    data = (_file_line(self._body(row, audit_id, seq, prev, sig)) + "\n").encode("utf-8")
                    if self._max_bytes is not None and self._size > 0 and self._size + len(data) > self._max_bytes:
                        self._rotate()
                        fh = self._fh
                    fh.write(data)
                    fh.flush()
                    if self._fsync:
                        os.fsync(fh.fileno())
                    self._size += len(data)
                # memory keeps the signed text (canonical JSON of the signed record, one string per
                # record: compact, and nothing for the garbage collector to traverse); records are
                # parsed from it on demand. After each record: a failed write keeps the chain
                self._keep_signed(head, tail, seq, row[3], sig)
                sealed.append((audit_id, seq, prev, sig))
                seq += 1
        return sealed

    def verify(self) -> VerifyResult:
        """Verify the records held in memory (they may start mid-chain after eviction or resume)."""
        return verify_records(self.records, self._key, allow_truncated_head=True)

    def export(self, target: str | Path | IO[str] | IO[bytes]) -> int:
        """Write the in-memory records as JSON Lines to a path or an open text/binary file; returns the count."""
        records = self.records
        if isinstance(target, (str, os.PathLike)):
            with open(target, "w", encoding="utf-8", newline="\n") as fh:
                return self.export(fh)
        binary = isinstance(target, (io.RawIOBase, io.BufferedIOBase)) or "b" in getattr(target, "mode", "")
        for rec in records:
            text = _line(rec.to_dict()) + "\n"
            target.write(text.encode("utf-8") if binary else text)  # type: ignore[arg-type]
        return len(records)

    def close(self) -> None:
        """Close the file sink; further appends raise. Idempotent."""
        with self._lock:
            self._closed = True
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __getstate__(self) -> dict[str, Any]:
        # An in-memory log travels with a pickled environment; a file sink cannot (its writer
        # owns the file), so the copy would silently fork the chain.
        if self._fh is not None:
            raise TypeError("a file-backed AuditLog cannot be pickled; create it in the process that writes it")
        state = self.__dict__.copy()
        del state["_lock"], state["_pads"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._pads = _hmac_sha256_pads(self._key)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
