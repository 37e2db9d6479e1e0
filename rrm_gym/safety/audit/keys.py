"""Where the audit log's HMAC key comes from, and what a key must be.

A key is ``str`` (used as its UTF-8 bytes; a hex string is not decoded) or ``bytes`` of at least
:data:`MIN_KEY_BYTES` bytes. Anything else (an ``int``, ``None`` where a key is needed, a short
password) is refused with :class:`AuditConfigError`: ``bytes(7)`` would be seven NUL bytes, and a
short key can be guessed offline from one signed record.
"""

from __future__ import annotations

import os
from pathlib import Path

KEY_ENV_VAR = "RRM_GYM_AUDIT_KEY"
MIN_KEY_BYTES = 16
MAX_KEY_FILE_BYTES = 4096
KEY_HINT = "e.g. 32 random bytes as hex: python -c 'import secrets; print(secrets.token_hex(32))'"


class AuditConfigError(ValueError):
    """The audit log cannot be set up or read as asked (no key, a bad key, an unreadable file, a cut log)."""


def check_key(key: object, origin: str = "the key argument") -> bytes:
    """``key`` as bytes, or :class:`AuditConfigError` naming ``origin`` and what is wrong with it."""
    if isinstance(key, str):
        raw = key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray, memoryview)):
        raw = bytes(key)
    else:
        raise AuditConfigError(f"audit key from {origin} must be str or bytes, got {type(key).__name__}")
    if len(raw) < MIN_KEY_BYTES:
        raise AuditConfigError(
            f"audit key from {origin} is {len(raw)} bytes; at least {MIN_KEY_BYTES} are needed ({KEY_HINT})"
        )
    return raw


def read_key_file(key_file: str | Path) -> bytes:
    """The stripped contents of ``key_file``, read without following it past :data:`MAX_KEY_FILE_BYTES`."""
    origin = f"key file {str(key_file)!r}"
    try:
        with open(key_file, "rb") as fh:
            raw = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as e:
        raise AuditConfigError(f"cannot read audit {origin}: {e.strerror or e}") from None
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise AuditConfigError(f"audit {origin} is longer than {MAX_KEY_FILE_BYTES} bytes: not a key file")
    return check_key(raw.strip(), origin)


def resolve_key(key: object = None, key_file: str | Path | None = None) -> bytes | None:
    """The HMAC key: ``key``, else the stripped contents of ``key_file``, else ``$RRM_GYM_AUDIT_KEY``.

    Returns ``None`` when no source is set; a key that is not ``str``/``bytes`` of at least
    :data:`MIN_KEY_BYTES` bytes, or an unreadable key file, raises :class:`AuditConfigError`.
    """
    if key is not None:
        return check_key(key)
    if key_file is not None:
        return read_key_file(key_file)
    # as bytes: a key that is not valid UTF-8 is still a key (os.environb where the OS has it)
    environ = getattr(os, "environb", None)
    env = environ.get(KEY_ENV_VAR.encode()) if environ is not None else None
    if env is None and os.environ.get(KEY_ENV_VAR) is not None:
        env = os.fsencode(os.environ[KEY_ENV_VAR])
    if env is not None:
        return check_key(env.strip(), f"${KEY_ENV_VAR}")
    return None


def require_key(key: object) -> bytes:
    """:func:`resolve_key` of ``key`` (falling back to ``$RRM_GYM_AUDIT_KEY``), which must give one."""
    raw = resolve_key(key)
    if raw is None:
        raise AuditConfigError(f"no audit key: pass one or set ${KEY_ENV_VAR}")
    return raw
