"""Pseudonymising client identifiers before a record is signed: an allow-list first, patterns second.

A value reaches the log as it is only under a field known to carry no identifier
(:data:`SAFE_FIELDS`, plus what a log adds with ``safe_fields=``): under any other key of
``details``, every value (strings and numbers alike, and the keys of nested mappings) is replaced
by its pseudonym (:func:`pseudonymise`), and a key that does not look like a plain field name is
replaced too. The old and new values of a configuration change are kept only for the parameters in
:data:`SAFE_PARAMS`. Free text (``reason``, string values under safe fields, parameter names) is
scrubbed by pattern (:func:`scrub_text`): MAC addresses in any common spelling (``aa:bb:..``,
``AA-BB-..``, ``aabb.ccdd.eeff``, bare hex, space-separated, full-width), IPv4 and IPv6 addresses
(which may embed a MAC), and names such as ``client-17`` or ``sta 3``.

Pseudonyms are ``"c-"`` + 16 hex digits of HMAC-SHA256 under the log's key: stable for a key, so
records about one client can be linked by whoever reads the log, but not reversed without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

# Fields written by the event loop, the detectors, DFS, rollback and the writer itself.
SAFE_FIELDS = frozenset(
    {
        "after",
        "anchor",
        "band_channels",
        "barred_s",
        "cca_busy_pct",
        "channel",
        "confidence",
        "detected_s",
        "duty_cycle",
        "file_index",
        "kind",
        "last_sequence",
        "last_signature",
        "loop",
        "power_dbm",
        "previous_file_bytes",
        "records",
        "requested",
        "retry_after",
        "retry_before",
        "satisfaction_after",
        "satisfaction_before",
        "slot",
        "token",
        "torn_tail",
        "tx_enabled",
        "width_mhz",
    }
)
SAFE_PARAMS = frozenset({"channel", "width_mhz", "power_dbm", "tx_enabled"})

_PSEUDONYM = re.compile(r"c-[0-9a-f]{16}")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_HEX = re.compile(r"[0-9a-f]+")
_SEP = "[:\\-._\u2010-\u2015]"  # what vendors put between a MAC address's digits (and Unicode dashes)
_IDENTIFIER = re.compile(
    # MAC addresses: 12 hex digits, bare, after 0x, or split into pairs, quads or halves by any
    # of the separators (aa:bb:.., AA-BB-.., aabb.ccdd.eeff, AABB-CCDD-EEFF, aabbcc-ddeeff, ...)
    rf"(?P<mac>(?<![0-9a-z])(?:0x)?[0-9a-f]{{2}}(?:{_SEP}?[0-9a-f]{{2}}){{5}}(?![0-9a-z]))"
    r"|(?P<spaced>(?<![0-9a-z])[0-9a-f]{2}(?: [0-9a-f]{2}){5}(?![0-9a-z]))"
    # IPv6 (with an IPv4 tail, as ::ffff:10.0.0.7 is written), then IPv4 (a full stop after it is
    # the sentence's)
    r"|(?P<ipv6>(?<![0-9a-f:])(?:[0-9a-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9a-f]{0,4})(?![0-9a-f:]))"
    r"|(?P<ipv4>(?<![0-9])(?<![0-9]\.)(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9])(?!\.[0-9]))"
    r"|(?P<named>(?<![a-z0-9])(?:client|sta|station|user|host|device)[-_ #:]{0,2}[0-9]+(?![0-9]))",
    re.IGNORECASE,
)
_HEX_RUN = re.compile(r"[0-9a-f]{12}", re.IGNORECASE)


def _canonical_identifier(text: str) -> str:
    """MAC spellings as ``aa:bb:cc:dd:ee:ff`` (so they share a pseudonym); other text as it is."""
    hex_digits = re.sub(rf"{_SEP}| ", "", text).lower().removeprefix("0x")
    if len(hex_digits) == 12 and _HEX.fullmatch(hex_digits):
        return ":".join(hex_digits[i : i + 2] for i in range(0, 12, 2))
    return text


def pseudonymise(identifier: str | int | bytes, key: bytes) -> str:
    """``"c-"`` + first 16 hex digits of HMAC-SHA256(key, ``b"client:"`` + identifier).

    ``17`` and ``"17"`` map alike, and so do the spellings of one MAC address
    (``AA-BB-CC-DD-EE-FF``, ``aabb.ccdd.eeff``, ``aa:bb:cc:dd:ee:ff``).
    """
    if isinstance(identifier, bytes):
        raw = identifier
    else:
        text = unicodedata.normalize("NFKC", str(identifier))
        raw = _canonical_identifier(text).encode("utf-8")
    return "c-" + hmac.new(key, b"client:" + raw, hashlib.sha256).hexdigest()[:16]


def _replace(match: re.Match, key: bytes) -> str:
    text = match.group(0)
    if match.lastgroup == "ipv6" and "::" not in text and text.count(":") < 5:
        return text  # a time of day such as 12:30:45, not an address
    return pseudonymise(text, key)


def scrub_text(text: str, key: bytes) -> str:
    """``text`` with every identifier-like substring (see the module notes) pseudonymised."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _IDENTIFIER.sub(lambda m: _replace(m, key), text)


def _pseudonymise_all(value: Any, key: bytes) -> Any:
    """Every key and leaf of a value under a field not known to be safe, pseudonymised."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [_pseudonymise_all(v, key) for v in value]
    if isinstance(value, dict):
        return {_pseudonymise_all(k, key): _pseudonymise_all(v, key) for k, v in value.items()}
    if isinstance(value, str) and _PSEUDONYM.fullmatch(value):
        return value  # pseudonymised already
    return pseudonymise(value, key)


def _safe_value(value: Any, key: bytes, safe: frozenset[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, key)
    if isinstance(value, dict):
        return clean_details(value, key, safe)
    if isinstance(value, list):
        return [_safe_value(v, key, safe) for v in value]
    return value


def clean_details(details: Mapping[str, Any], key: bytes, safe: frozenset[str] = SAFE_FIELDS) -> dict[str, Any]:
    """JSON-safe ``details`` with everything outside the allow-list ``safe`` pseudonymised."""
    out = {}
    for name, value in details.items():
        if name in safe:
            out[name] = _safe_value(value, key, safe)
        else:
            plain = _FIELD_NAME.fullmatch(name) and not _HEX_RUN.search(name) and scrub_text(name, key) == name
            out[name if plain else _pseudonymise_all(name, key)] = _pseudonymise_all(value, key)
    return out


_PLAIN = (int, float, type(None))  # bool is an int


def clean_changes(changes: Iterable[Mapping[str, Any]], key: bytes) -> list[dict[str, Any]]:
    """``{"param", "old_value", "new_value"}`` changes with the values of unknown parameters pseudonymised."""
    out = []
    for c in changes:
        param, old, new = c["param"], c["old_value"], c["new_value"]
        if param not in SAFE_PARAMS:
            param = scrub_text(param, key)
        # a known parameter's values are numbers (or true/false/none); anything else may identify
        if param not in SAFE_PARAMS or not isinstance(old, _PLAIN) or not isinstance(new, _PLAIN):
            old, new = _pseudonymise_all(old, key), _pseudonymise_all(new, key)
        out.append({"param": param, "old_value": old, "new_value": new})
    return out
