"""Fixtures shared by the test modules. Plain helpers for the safety-layer tests are in
``safety_helpers.py``; this directory is on ``sys.path`` when pytest runs, so tests import them."""

from __future__ import annotations

import pytest

from rrm_gym.safety.audit import KEY_ENV_VAR

AUDIT_KEY = b"test-key-0123456789abcdef"


@pytest.fixture
def env_key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The audit key, set in ``$RRM_GYM_AUDIT_KEY`` as the CLI reads it."""
    monkeypatch.setenv(KEY_ENV_VAR, AUDIT_KEY.decode())
    return AUDIT_KEY
