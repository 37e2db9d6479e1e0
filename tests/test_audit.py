"""Audit log: signed, hash-chained JSON Lines; verification names the first tampered line and
vouches for the log's end only when it is sealed (the tamper cases of the end are in
test_audit_end.py)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rrm_gym.safety.audit import (
    CHAIN_BROKEN,
    GENESIS_SIGNATURE,
    KEY_ENV_VAR,
    LOG_SEALED,
    RECORD_FIELDS,
    SIGNATURE_MISMATCH,
    AuditConfigError,
    AuditLog,
    canonical_json,
    compute_signature,
    iter_records,
    pseudonymise,
    resolve_key,
    rotation_index,
    verify,
    verify_records,
)
from rrm_gym.safety.audit_cli import main

KEY = b"test-key-0123456789abcdef"
OTHER_KEY = b"another-key-fedcba9876543210"
SAFE = ("sinr_db", "load")  # the details append_some writes carry no client identifier


def append_some(log: AuditLog, n: int, start_s: float = 0.0) -> None:
    """``n`` varied records, one per simulated second."""
    statuses = ("SUCCESS", "MODIFIED", "REJECTED", "ROLLED_BACK")
    for i in range(n):
        log.append(
            sim_time_s=start_s + i,
            network=i % 2,
            ap_id=i % 4,
            event_type="CHANGE_REQUEST" if i % 3 else "DFS_RADAR",
            action_type="CHANNEL_CHANGE",
            configuration_changes=[{"param": "channel", "old_value": 36, "new_value": 40 + 4 * (i % 3)}],
            source="agent",
            rollback_token=f"tok-{i}",
            execution_status=statuses[i % len(statuses)],
            reason=f"step {i}",
            details={"sinr_db": 12.5 + i, "load": [0.1, 0.2]},
        )


def write_log(path: Path, n: int = 20, **kw) -> Path:
    """A sealed log of ``n`` records and the seal."""
    with AuditLog(KEY, path=path, seed=0, safe_fields=SAFE, **kw) as log:
        append_some(log, n)
    return path


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def resign(d: dict, key: bytes) -> dict:
    return {**d, "signature": compute_signature(d, key)}


# ------------------------------------------------------------------------------ intact logs


def test_file_log_of_20_records_verifies_and_every_line_has_exactly_the_record_fields(tmp_path):
    path = write_log(tmp_path / "audit" / "audit.jsonl")
    result = verify(path, KEY)
    assert (result.ok, result.records, result.torn_tail, result.truncated_head) == (True, 21, False, False)
    assert result.sealed and result.vouched_sequence == 20
    records = [json.loads(line) for line in lines_of(path)]
    assert [r["sequence"] for r in records] == list(range(21))
    assert all(sorted(r) == sorted(RECORD_FIELDS) and list(r)[-1] == "signature" for r in records)
    assert records[-1]["event_type"] == LOG_SEALED and records[-1]["details"] == {"records": 21, "anchor": True}
    assert records[0]["prev_signature"] == GENESIS_SIGNATURE
    assert all(b["prev_signature"] == a["signature"] for a, b in zip(records[:-1], records[1:], strict=True))


def test_in_memory_log_verifies_with_verify_records_and_counts_statuses():
    log = AuditLog(KEY)
    append_some(log, 20)
    assert verify_records(log.records, KEY, allow_unsealed=True).ok and log.verify().ok
    assert not verify_records(log.records, KEY).ok  # an open log is not sealed
    assert verify_records([r.to_dict() for r in log.records], KEY).records == 20
    assert log.counts_by_status == {"SUCCESS": 5, "MODIFIED": 5, "REJECTED": 5, "ROLLED_BACK": 5}
    assert log.total == 20 and log.last_signature == log.records[-1].signature
    assert not verify_records(log.records, OTHER_KEY).ok


def test_seeded_logs_have_reproducible_audit_ids_and_signatures():
    a, b, c = AuditLog(KEY, seed=7), AuditLog(KEY, seed=7), AuditLog(KEY)
    for log in (a, b, c):
        append_some(log, 3)
    assert [r.to_dict() for r in a.records] == [r.to_dict() for r in b.records]
    assert len({r.audit_id for r in a.records}) == 3
    assert all(len(r.audit_id) == 32 for r in c.records)
    assert [r.audit_id for r in c.records] != [r.audit_id for r in a.records]


def test_memory_stays_bounded_while_counters_cover_every_record():
    log = AuditLog(KEY, memory_limit=5)
    append_some(log, 12)
    assert [r.sequence for r in log.records] == list(range(7, 12))
    assert log.total == 12 and sum(log.counts_by_status.values()) == 12
    assert not verify_records(log.records, KEY, allow_unsealed=True).ok  # starts mid-chain ...
    assert log.verify().ok and log.verify().truncated_head  # ... which the log's own check allows


def test_numpy_values_are_stored_as_plain_json():
    log = AuditLog(KEY, safe_fields=("kpis", "flag", "bad"))
    rec = log.append(
        sim_time_s=np.float32(1.5),
        network=np.int64(1),
        ap_id=np.int32(2),
        event_type="DEGRADATION",
        source="rule",
        execution_status="SUCCESS",
        configuration_changes=[("power_dbm", np.float64(17.0), np.float64(14.0))],
        details={"kpis": np.array([1.0, 2.0]), "flag": np.bool_(True), "bad": float("nan")},
    )
    d = rec.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["details"] == {"kpis": [1.0, 2.0], "flag": True, "bad": "nan"}
    assert (d["sim_time_s"], d["network"], d["ap_id"]) == (1.5, 1, 2)
    assert d["configuration_changes"] == [{"param": "power_dbm", "old_value": 17.0, "new_value": 14.0}]


def test_invalid_status_and_source_are_refused_without_consuming_a_sequence():
    log = AuditLog(KEY)
    with pytest.raises(ValueError, match="execution_status 'DONE'"):
        log.append(sim_time_s=0, event_type="X", source="agent", execution_status="DONE")
    with pytest.raises(ValueError, match="source 'robot'"):
        log.append(sim_time_s=0, event_type="X", source="robot", execution_status="SUCCESS")
    assert log.append(sim_time_s=0, event_type="X", source="agent", execution_status="SUCCESS").sequence == 0


def test_signature_does_not_depend_on_dict_key_order():
    log = AuditLog(KEY, safe_fields=("a", "b", "x", "y"))
    d = log.append(
        sim_time_s=0,
        event_type="X",
        source="agent",
        execution_status="SUCCESS",
        details={"a": 1, "b": {"y": 2, "x": 3}},
    ).to_dict()
    reordered = {k: d[k] for k in reversed(list(d))}
    reordered["details"] = {"b": {"x": 3, "y": 2}, "a": 1}
    assert compute_signature(reordered, KEY) == d["signature"]
    assert verify_records([reordered], KEY, allow_unsealed=True).ok


# ------------------------------------------------------------------------------ tampering


def test_edited_record_is_reported_as_signature_mismatch_at_its_line(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    lines = lines_of(path)
    rec = json.loads(lines[6])
    rec["execution_status"] = "SUCCESS" if rec["execution_status"] != "SUCCESS" else "REJECTED"
    lines[6] = json.dumps(rec) + "\n"
    path.write_text("".join(lines))
    r = verify(path, KEY)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence, r.records, r.file) == (False, 7, 6, 6, str(path))
    assert r.reason == SIGNATURE_MISMATCH


def test_deleted_record_is_reported_as_sequence_gap_at_the_next_line(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    lines = lines_of(path)
    del lines[5]
    path.write_text("".join(lines))
    r = verify(path, KEY)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence) == (False, 6, 6)
    assert r.reason.startswith("sequence gap: expected 5, found 6")


def test_deleted_first_record_is_not_mistaken_for_retention(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    path.write_text("".join(lines_of(path)[1:]))
    r = verify(path, KEY)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence) == (False, 1, 1)
    assert "expected 0" in r.reason


def test_inserted_copy_of_a_record_is_reported_as_out_of_order(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    lines = lines_of(path)
    lines.insert(10, lines[3])
    path.write_text("".join(lines))
    r = verify(path, KEY)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence) == (False, 11, 3)
    assert r.reason.startswith("sequence out of order: expected 10, found 3")


def test_inserted_forgery_signed_with_another_key_is_a_signature_mismatch(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    lines = lines_of(path)
    prev = json.loads(lines[9])
    forged = {**json.loads(lines[10]), "reason": "forged", "prev_signature": prev["signature"]}
    lines.insert(10, json.dumps(resign(forged, OTHER_KEY)) + "\n")
    path.write_text("".join(lines))
    r = verify(path, KEY)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence, r.reason) == (False, 11, 10, SIGNATURE_MISMATCH)


def test_swapped_records_are_reported_at_the_first_of_the_pair(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    lines = lines_of(path)
    lines[12], lines[13] = lines[13], lines[12]
    path.write_text("".join(lines))
    r = verify(path, KEY)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence) == (False, 13, 13)
    assert r.reason.startswith("sequence gap: expected 12, found 13")


def test_record_spliced_from_another_log_with_the_same_key_breaks_the_chain(tmp_path):
    a, b = write_log(tmp_path / "a.jsonl"), tmp_path / "b.jsonl"
    with AuditLog(KEY, path=b, seed=1) as log:  # same key, different content
        append_some(log, 20, start_s=100.0)
    lines = lines_of(a)
    lines[8] = lines_of(b)[8]
    a.write_text("".join(lines))
    r = verify(a, KEY)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence, r.reason) == (False, 9, 8, CHAIN_BROKEN)


def test_log_signed_with_another_key_fails_at_line_1(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    r = verify(path, OTHER_KEY, anchor=False)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence, r.reason) == (False, 1, 0, SIGNATURE_MISMATCH)
    with pytest.raises(AuditConfigError, match="anchor .* signature mismatch"):
        verify(path, OTHER_KEY)  # the anchor beside it is checked first


def test_unparseable_and_incomplete_lines_are_named(tmp_path):
    path = write_log(tmp_path / "audit.jsonl", n=5)
    lines = lines_of(path)
    lines[2] = "{not json\n"
    path.write_text("".join(lines))
    r = verify(path, KEY)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence) == (False, 3, None)
    assert r.reason.startswith("not valid JSON")
    rec = json.loads(lines_of(write_log(tmp_path / "b.jsonl", n=1))[0])
    del rec["signature"]
    assert verify_records([rec], KEY).reason == "missing field 'signature'"


def test_duplicate_json_keys_are_rejected(tmp_path):
    # {"reason":"fake", ..., "reason":"real"} would show "fake" to some readers while verifying.
    path = write_log(tmp_path / "audit.jsonl", n=2)
    lines = lines_of(path)
    lines[1] = '{"reason":"fake",' + lines[1][1:]
    path.write_text("".join(lines))
    r = verify(path, KEY)
    assert (r.ok, r.first_bad_line) == (False, 2) and "duplicate key 'reason'" in r.reason


def test_tail_truncation_is_caught_by_the_seal_even_without_the_anchor(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    path.write_text("".join(lines_of(path)[:15]))
    r = verify(path, KEY, anchor=False)
    assert (r.ok, r.intact, r.records, r.sealed, r.last_sequence) == (False, True, 15, False, 14)
    assert r.reason.startswith(f"not sealed: every record up to sequence 14 ({path} line 15) verifies")
    assert verify(path, KEY, anchor=False, allow_unsealed=True).ok  # accepted on purpose, for forensics


def test_torn_last_line_is_reported_and_everything_before_it_verifies(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    half = lines_of(path)[5][:80]  # half a record, no newline: a crash mid-write
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(half)
    r = verify(path, KEY)
    assert (r.ok, r.intact, r.records, r.torn_tail, r.sealed) == (False, True, 21, True, False)
    assert "torn tail" in " ".join(r.notes)
    assert verify(path, KEY, allow_unsealed=True).ok


# ------------------------------------------------------------------------------ rotation


def test_rotation_splits_the_chain_across_files_and_the_directory_verifies(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=30, max_bytes=2000)
    files = sorted(p.name for p in d.iterdir())
    assert len(files) >= 4 and "audit.jsonl" in files and "audit.jsonl.1" in files
    assert all(p.stat().st_size <= 2000 for p in d.glob("audit.jsonl*"))
    r = verify(d, KEY)
    rotated = len(list(d.glob("audit.jsonl.[0-9]*")))
    assert (r.ok, r.records, r.truncated_head) == (True, 31 + rotated, False)  # a marker opens each new file
    second = json.loads(lines_of(d / "audit.jsonl.1")[0])
    last_of_first = json.loads(lines_of(d / "audit.jsonl")[-1])
    assert second["prev_signature"] == last_of_first["signature"]
    assert second["sequence"] == last_of_first["sequence"] + 1
    assert second["event_type"] == "LOG_ROTATED"
    assert second["details"] == {
        "file_index": 1,
        "previous_file_bytes": (d / "audit.jsonl").stat().st_size,
        "anchor": True,
    }


def test_directory_files_are_ordered_by_rotation_index_not_by_name(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=60, max_bytes=1000)  # > 10 files: ".10" sorts before ".2" as text
    assert (d / "audit.jsonl.10").exists()
    total = 61 + len(list(d.glob("audit.jsonl.[0-9]*")))
    assert verify(d, KEY).ok and verify(d, KEY).records == total
    assert [r["sequence"] for r in iter_records(d)] == list(range(total))


def test_truncated_rotated_file_is_detected_at_the_start_of_the_next_file(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=30, max_bytes=2000)
    first = d / "audit.jsonl.1"
    lines = lines_of(first)
    first.write_text("".join(lines[:-2]))  # last 2 records of a middle file removed
    r = verify(d, KEY)
    expected_seq = json.loads(lines[-2])["sequence"]
    assert (r.ok, r.file, r.first_bad_line, r.first_bad_sequence) == (
        False,
        str(d / "audit.jsonl.2"),
        1,
        expected_seq + 2,
    )
    assert r.reason.startswith(f"sequence gap: expected {expected_seq}")
    assert "audit.jsonl.1" in r.reason


def test_deleted_middle_file_is_detected(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=30, max_bytes=2000)
    (d / "audit.jsonl.2").unlink()
    r = verify(d, KEY)
    assert (r.ok, r.file, r.first_bad_line) == (False, str(d / "audit.jsonl.3"), 1)


def test_retention_keeps_the_newest_files_and_the_directory_verifies_with_truncated_head(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=40, max_bytes=1500, retention_files=3)
    names = sorted((p.name for p in d.glob("audit.jsonl.[0-9]*")), key=lambda n: int(n.rsplit(".", 1)[1]))
    assert len(names) == 3 and not (d / "audit.jsonl").exists()
    r = verify(d, KEY)
    assert (r.ok, r.truncated_head) == (True, True)
    assert r.records == sum(len(lines_of(d / n)) for n in names)
    assert [rec["event_type"] for rec in iter_records(d)][-1] == LOG_SEALED


def test_head_deletion_inside_the_base_file_is_not_accepted_as_retention(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=30, max_bytes=2000)
    base = d / "audit.jsonl"
    base.write_text("".join(lines_of(base)[2:]))
    r = verify(d, KEY)
    assert (r.ok, r.first_bad_line, r.file) == (False, 1, str(base))


def test_directory_with_two_logs_or_none_is_refused(tmp_path):
    write_log(tmp_path / "a.jsonl", n=2)
    write_log(tmp_path / "b.jsonl", n=2)
    with pytest.raises(AuditConfigError, match="several logs"):
        verify(tmp_path, KEY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AuditConfigError, match="no audit log files"):
        verify(tmp_path / "empty", KEY)


# ------------------------------------------------------------------------------ resume


def test_reopening_an_existing_file_continues_sequence_and_chain(tmp_path):
    path = write_log(tmp_path / "audit.jsonl", n=10)
    with AuditLog(KEY, path=path, seed=0) as log:
        assert log.next_sequence == 12  # after the seal and the record of the resume
        rec = log.append(sim_time_s=99, event_type="X", source="manual", execution_status="SUCCESS")
    lines = [json.loads(line) for line in lines_of(path)]
    assert [x["event_type"] for x in lines[10:]] == [LOG_SEALED, "LOG_RESUMED", "X", LOG_SEALED]
    assert lines[11]["details"] == {"after": "sealed", "last_sequence": 10, "torn_tail": False, "anchor": True}
    assert rec.sequence == 12 and rec.prev_signature == lines[11]["signature"]
    assert len({x["audit_id"] for x in lines}) == 14
    r = verify(path, KEY)
    assert (r.ok, r.records, r.sealed, r.unsealed_resumes) == (True, 14, True, [])


def test_reopening_after_a_torn_write_keeps_the_fragment_and_continues_in_the_next_file(tmp_path):
    d = tmp_path / "audit"
    path = write_log(d / "audit.jsonl", n=10)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"audit_id":"dead')
    size = path.stat().st_size
    with AuditLog(KEY, path=path, safe_fields=SAFE) as log:
        append_some(log, 3)
        assert log.current_file == d / "audit.jsonl.1"
    assert path.stat().st_size == size  # written bytes are never modified
    r = verify(d, KEY)
    # a torn line after the seal: something was written after it, so the resume says "unsealed"
    # (10 records, the seal, the new file's marker, the resume, 3 records, the seal)
    assert (r.ok, r.intact, r.records, r.unsealed_resumes) == (False, True, 17, [12])
    assert "resumed after an unsealed end at sequence 12" in r.reason
    assert verify(d, KEY, allow_unsealed=True).ok


def test_reopening_with_another_key_is_refused(tmp_path):
    path = write_log(tmp_path / "audit.jsonl", n=3)
    with pytest.raises(AuditConfigError, match="cannot resume .*signature mismatch"):
        AuditLog(OTHER_KEY, path=path, anchor_path=False)


def test_reopening_a_rotated_directory_continues_in_the_newest_file(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=20, max_bytes=2000)
    newest = max(d.glob("audit.jsonl*"), key=lambda p: int(p.name.rsplit(".", 1)[1]) if p.name[-1].isdigit() else 0)
    before = verify(d, KEY)
    with AuditLog(KEY, path=d / "audit.jsonl", max_bytes=2000) as log:
        # after the seal come the record of the resume, and a marker first if it opened a new file
        assert log.next_sequence in (before.last_sequence + 2, before.last_sequence + 3)
        assert rotation_index(log.current_file) in (rotation_index(newest), rotation_index(newest) + 1)
        append_some(log, 10)
    after = verify(d, KEY)
    assert after.ok and after.sealed and after.last_sequence >= before.last_sequence + 12


# ------------------------------------------------------------------------------ keys


def test_file_log_without_a_key_is_refused_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    with pytest.raises(AuditConfigError, match=KEY_ENV_VAR):
        AuditLog(path=tmp_path / "audit.jsonl")
    assert not (tmp_path / "audit.jsonl").exists()


def test_in_memory_log_without_a_key_uses_an_ephemeral_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    log = AuditLog()
    append_some(log, 3)
    assert log.ephemeral_key and log.verify().ok
    assert not AuditLog(KEY).ephemeral_key


def test_key_comes_from_argument_then_key_file_then_environment(tmp_path, monkeypatch):
    key_file = tmp_path / "audit.key"
    key_file.write_text("file-key-0123456789\n")
    monkeypatch.setenv(KEY_ENV_VAR, "env-key-0123456789")
    assert resolve_key("arg-key-0123456789", key_file) == b"arg-key-0123456789"
    assert resolve_key(None, key_file) == b"file-key-0123456789"
    assert resolve_key() == b"env-key-0123456789"
    monkeypatch.delenv(KEY_ENV_VAR)
    assert resolve_key() is None
    with pytest.raises(AuditConfigError, match="cannot read audit key file"):
        resolve_key(key_file=tmp_path / "missing.key")


def test_file_log_signs_with_the_environment_or_key_file_key(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV_VAR, "env-key-0123456789")
    with AuditLog(path=tmp_path / "env.jsonl") as log:
        append_some(log, 2)
    assert verify(tmp_path / "env.jsonl", b"env-key-0123456789").ok
    monkeypatch.delenv(KEY_ENV_VAR)
    (tmp_path / "k").write_text("file-key-0123456789\n")
    with AuditLog(key_file=tmp_path / "k", path=tmp_path / "file.jsonl") as log:
        append_some(log, 2)
    assert verify(tmp_path / "file.jsonl", b"file-key-0123456789").ok
    assert not verify(tmp_path / "file.jsonl", b"env-key-0123456789", anchor=False).ok


# ------------------------------------------------------------------------------ privacy


def test_no_raw_client_identifier_reaches_the_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    with AuditLog(KEY, path=path) as log:
        log.append(
            sim_time_s=1,
            event_type="DEGRADATION",
            source="rule",
            execution_status="SUCCESS",
            configuration_changes=[{"param": "client_id", "old_value": "aa:bb:cc:dd:ee:ff", "new_value": None}],
            reason="steered AA-BB-CC-DD-EE-FF away",
            details={
                "client_id": "aa:bb:cc:dd:ee:ff",
                "clients": ["phone-of-alice", 17],
                "nested": [{"mac": "11:22:33:44:55:66", "rssi_dbm": -60}],
                "client": {"phone-of-bob": {"snr_db": 20}},
                "loop": "fast",
            },
        )
        expected = log.pseudonymise("aa:bb:cc:dd:ee:ff")
    text = path.read_text()
    for raw in ("aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "phone-of-alice", "phone-of-bob", "11:22:33:44:55:66"):
        assert raw not in text
    rec = json.loads(text.splitlines()[0])
    assert rec["details"]["client_id"] == expected == pseudonymise("AA-BB-CC-DD-EE-FF", KEY)
    assert rec["details"]["clients"] == [pseudonymise("phone-of-alice", KEY), pseudonymise(17, KEY)]
    # a field not known to be safe: every value under it is pseudonymised, numbers too
    assert rec["details"]["nested"] == [{pseudonymise("mac", KEY): pseudonymise("11:22:33:44:55:66", KEY),
                                         pseudonymise("rssi_dbm", KEY): pseudonymise(-60, KEY)}]  # fmt: skip
    assert rec["details"]["loop"] == "fast"  # a known field, as it is
    assert rec["configuration_changes"][0]["old_value"] == expected
    assert expected in rec["reason"]
    assert verify(path, KEY).ok


@pytest.mark.parametrize(
    "spelling",
    [
        "aa:bb:cc:dd:ee:ff",
        "AA-BB-CC-DD-EE-FF",
        "aabb.ccdd.eeff",
        "aabbccddeeff",
        "aa bb cc dd ee ff",
        "\uff41\uff41:\uff42\uff42:\uff43\uff43:\uff44\uff44:\uff45\uff45:\uff46\uff46",  # full-width
        "AABB-CCDD-EEFF",  # HP / H3C
        "aabbcc-ddeeff",  # ProCurve
        "0xaabbccddeeff",
        "aa_bb_cc_dd_ee_ff",
        "aa:bb-cc:dd-ee:ff",
        "aa\u2010bb\u2010cc\u2010dd\u2010ee\u2010ff",  # Unicode hyphens
    ],
)
def test_every_spelling_of_a_mac_address_in_free_text_gets_the_same_pseudonym(spelling):
    log = AuditLog(KEY)
    rec = log.append(sim_time_s=0, event_type="X", source="rule", execution_status="SUCCESS", reason=f"saw {spelling}")
    assert rec.reason == f"saw {pseudonymise('aa:bb:cc:dd:ee:ff', KEY)}"


@pytest.mark.parametrize(
    "field, value",
    [
        ("sta_mac", "aa:bb:cc:dd:ee:ff"),
        ("bssid", "00:11:22:33:44:55"),
        ("station", "laptop-of-carol"),
        ("station", 17),
        ("ipv6", "fe80::a8bb:ccff:fedd:eeff"),
        ("user", "carol@example.com"),
        ("deadbeefcafe", 1),
    ],
)
def test_values_under_fields_not_known_to_be_safe_never_reach_the_log_raw(tmp_path, field, value):
    path = tmp_path / "audit.jsonl"
    with AuditLog(KEY, path=path) as log:
        log.append(sim_time_s=0, event_type="X", source="rule", execution_status="SUCCESS", details={field: value})
    text = path.read_text()
    rec = json.loads(text.splitlines()[0])
    name = field if field != "deadbeefcafe" else pseudonymise(field, KEY)  # a key that may be an identifier
    assert rec["details"] == {name: pseudonymise(value, KEY)}
    assert not isinstance(value, str) or value not in text


@pytest.mark.parametrize(
    "text",
    [
        "roamed from fe80::a8bb:ccff:fedd:eeff",
        "dhcp gave 10.0.0.17",
        "blocked 192.168.1.20.",
        "mapped ::ffff:192.168.1.20",
        "client-17 left",
        "client #17 left",
        "sta 3 joined",
        "sta3",
        "rssi_client_17",
        "ap aabb.ccdd.eeff",
    ],
)
def test_identifiers_in_reasons_are_pseudonymised(text):
    rec = AuditLog(KEY).append(sim_time_s=0, event_type="X", source="rule", execution_status="SUCCESS", reason=text)
    assert rec.reason != text and "c-" in rec.reason
    kept = AuditLog(KEY).append(
        sim_time_s=0, event_type="X", source="rule", execution_status="SUCCESS", reason="at 12:30:45, power 17 dBm"
    )
    assert kept.reason == "at 12:30:45, power 17 dBm"  # times and plain numbers are not identifiers


def test_pseudonym_is_stable_for_a_key_and_differs_between_keys():
    p = pseudonymise("phone-of-alice", KEY)
    digest = hmac.new(KEY, b"client:phone-of-alice", hashlib.sha256).hexdigest()
    assert p == "c-" + digest[:16] == pseudonymise("phone-of-alice", KEY)
    assert p != pseudonymise("phone-of-alice", OTHER_KEY)
    assert AuditLog(KEY).pseudonymise("phone-of-alice") == p


def test_already_pseudonymised_values_are_not_hashed_twice():
    log = AuditLog(KEY)
    p = log.pseudonymise("phone-of-alice")
    rec = log.append(sim_time_s=0, event_type="X", source="rule", execution_status="SUCCESS", details={"client": p})
    assert rec.details["client"] == p


# ------------------------------------------------------------------------------ export


def test_export_writes_in_memory_records_that_verify(tmp_path):
    log = AuditLog(KEY)
    append_some(log, 5)
    log.close()
    assert log.export(tmp_path / "out.jsonl") == 6
    r = verify(tmp_path / "out.jsonl", KEY)
    assert (r.ok, r.records, r.sealed) == (True, 6, True)


# ------------------------------------------------------------------------------ property


FIELD_EDITS = {
    "sim_time_s": lambda v: v + 0.5,
    "network": lambda v: v + 1,
    "ap_id": lambda v: (v or 0) + 1,
    "event_type": lambda v: v + "_X",
    "action_type": lambda v: "ROLLBACK" if v != "ROLLBACK" else "NONE",
    "configuration_changes": lambda v: [*v, {"param": "power_dbm", "old_value": 20, "new_value": 3}],
    "source": lambda v: "manual" if v != "manual" else "agent",
    "rollback_token": lambda v: None if v else "tok",
    "execution_status": lambda v: "SUCCESS" if v != "SUCCESS" else "FAILED",
    "reason": lambda v: v + "!",
    "details": lambda v: {**v, "edited_by_test": 1},  # keys drawn below are <= 5 chars
    "audit_id": lambda v: v[::-1],
}

record_st = st.fixed_dictionaries(
    {
        "sim_time_s": st.floats(0, 1e6, allow_nan=False),
        "network": st.integers(0, 7),
        "ap_id": st.none() | st.integers(0, 63),
        "event_type": st.sampled_from(["DFS_RADAR", "DEGRADATION", "CHANGE_REQUEST"]),
        "action_type": st.sampled_from(["CHANNEL_CHANGE", "POWER_CHANGE", "NONE"]),
        "source": st.sampled_from(["detected", "agent", "rule"]),
        "execution_status": st.sampled_from(["SUCCESS", "REJECTED", "DEFERRED"]),
        "reason": st.text(max_size=20),
        "details": st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(record_st, min_size=1, max_size=12), data=st.data())
def test_any_single_field_edit_is_caught_at_that_record(records, data):
    log = AuditLog(KEY, seed=0)
    for fields in records:
        log.append(**fields)
    dicts = [r.to_dict() for r in log.records]
    assert verify_records(dicts, KEY, allow_unsealed=True).ok
    i = data.draw(st.integers(0, len(dicts) - 1), label="record")
    name = data.draw(st.sampled_from(sorted(FIELD_EDITS)), label="field")
    dicts[i][name] = FIELD_EDITS[name](dicts[i][name])
    r = verify_records(dicts, KEY, allow_unsealed=True)
    assert (r.ok, r.first_bad_line, r.first_bad_sequence, r.records) == (False, i + 1, i, i)
    assert r.reason == SIGNATURE_MISMATCH


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)  # unicode, quotes, backslashes and control characters included
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
change_value = st.none() | st.integers(-1000, 1000) | st.floats(-100, 100, allow_nan=False) | json_value


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    fields=record_st,
    details=st.dictionaries(st.text(max_size=8), json_value, max_size=4),
    changes=st.lists(
        st.fixed_dictionaries(
            {
                "param": st.sampled_from(["channel", "power_dbm", "tx_enabled", "a-long-parameter-name"]),
                "old_value": change_value,
                "new_value": change_value,
            }
        ),
        max_size=3,
    ),
    token=st.none() | st.text(max_size=10),
)
def test_signed_text_is_the_reference_canonical_json_and_file_lines_hold_the_same_records(
    tmp_path, fields, details, changes, token
):
    # a line is the canonical JSON of the unsigned record with the signature added last
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "audit.jsonl"  # tmp_path is shared by all examples
    with AuditLog(KEY, path=path) as log:
        rec = log.append(**{**fields, "details": details}, configuration_changes=changes, rollback_token=token)
        held = log._memory[-1]
    as_dict = rec.to_dict()
    unsigned = {k: v for k, v in as_dict.items() if k != "signature"}
    assert held == canonical_json(unsigned)[:-1] + f',"signature":"{rec.signature}"}}'
    assert rec.signature == compute_signature(as_dict, KEY)
    line, seal = path.read_bytes().decode("utf-8").split("\n")[:-1]
    assert line == held and json.loads(line) == as_dict and set(json.loads(line)) == set(RECORD_FIELDS)
    assert json.loads(seal)["event_type"] == LOG_SEALED
    assert verify(path, KEY).ok


# ------------------------------------------------------------------------------ CLI


def test_cli_verify_intact_log_exits_0(tmp_path, capsys, env_key):
    path = write_log(tmp_path / "audit.jsonl")
    assert main(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"OK: 21 records verified in {path}, sealed; head 20:" in out


def test_cli_verify_reports_torn_tail_and_truncated_head(tmp_path, capsys, env_key):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=40, max_bytes=1500, retention_files=3)
    newest = max(d.glob("audit.jsonl.*[0-9]"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
    with open(newest, "a") as fh:
        fh.write('{"seq')
    assert main(["verify", str(d)]) == 1  # something was being written after the seal
    out = capsys.readouterr().out
    assert "NOT VOUCHED FOR:" in out and "not sealed" in out
    assert main(["verify", str(d), "--allow-unsealed"]) == 0
    out = capsys.readouterr().out
    assert "OK:" in out and "NOT sealed" in out and "warning: accepted with --allow-unsealed" in out
    assert "older files removed" in out and "torn tail" in out


def test_cli_verify_with_another_key_hints_at_the_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(KEY_ENV_VAR, KEY.decode())
    path = write_log(tmp_path / "audit.jsonl", n=3)
    monkeypatch.setenv(KEY_ENV_VAR, "another key of enough length!!")
    assert main(["verify", str(path), "--no-anchor"]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED" in out and "check that this is the key the log was written with" in out
    lines = lines_of(path)  # one edited record after good ones is tampering, not a key question
    lines[2] = lines[2].replace('"reason":"step 2"', '"reason":"step 22"')
    path.write_text("".join(lines))
    monkeypatch.setenv(KEY_ENV_VAR, KEY.decode())
    assert main(["verify", str(path), "--no-anchor"]) == 1
    assert "check that this is the key" not in capsys.readouterr().out


def test_cli_verify_tampered_log_exits_1_and_names_the_line(tmp_path, capsys, env_key):
    path = write_log(tmp_path / "audit.jsonl")
    lines = lines_of(path)
    lines[3] = lines[3].replace('"reason":"step 3"', '"reason":"step 33"')
    path.write_text("".join(lines))
    assert main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"TAMPERED: {path} line 4 (sequence 3): signature mismatch" in out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_cli_verify_refuses_an_anchor_that_is_a_pipe_instead_of_waiting_on_it(tmp_path, capsys, env_key):
    path = write_log(tmp_path / "audit.jsonl", n=2)
    fifo = tmp_path / "anchor.fifo"
    os.mkfifo(fifo)
    done: list[int] = []
    worker = threading.Thread(
        target=lambda: done.append(main(["verify", str(path), "--anchor", str(fifo)])), daemon=True
    )
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # it waits on the pipe: let it go, so the test fails instead of hanging
        with open(fifo, "wb"):
            pass
        worker.join(timeout=20)
        pytest.fail("verify waited on a pipe given as the anchor")
    assert done == [2] and "is not a regular file" in capsys.readouterr().err


def test_cli_verify_missing_path_or_missing_key_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(KEY_ENV_VAR, KEY.decode())
    assert main(["verify", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read audit log" in capsys.readouterr().err
    path = write_log(tmp_path / "audit.jsonl", n=2)
    monkeypatch.delenv(KEY_ENV_VAR)
    assert main(["verify", str(path)]) == 2
    assert KEY_ENV_VAR in capsys.readouterr().err
    assert main(["verify", str(path), "--key-file", str(tmp_path / "no.key")]) == 2
    assert main([]) == 2  # bad usage: argparse's message, no traceback


def test_cli_verify_reads_the_key_file(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    path = write_log(tmp_path / "audit.jsonl", n=3)
    (tmp_path / "key").write_bytes(KEY + b"\n")
    assert main(["verify", str(path), "--key-file", str(tmp_path / "key")]) == 0


def test_cli_export_writes_jsonl_and_csv(tmp_path, capsys, env_key):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=12, max_bytes=2000)
    assert main(["export", str(d), "--out", str(tmp_path / "all.jsonl")]) == 0
    # an export is a copy without the log's anchor: it verifies on its seal
    assert not verify(tmp_path / "all.jsonl", KEY).ok  # (the records say an anchor is kept)
    assert verify(tmp_path / "all.jsonl", KEY, anchor=False).records == verify(d, KEY).records
    assert main(["export", str(d), "--out", str(tmp_path / "all.csv")]) == 0
    with open(tmp_path / "all.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    total = verify(d, KEY).records
    assert [int(r["sequence"]) for r in rows] == list(range(total))
    assert list(rows[0])[-1] == "configuration_changes" and list(rows[0])[0] == "sequence"
    assert json.loads(rows[1]["configuration_changes"]) == [{"param": "channel", "old_value": 36, "new_value": 44}]
    assert rows[0]["ap_id"] == "0" and rows[0]["rollback_token"] == "tok-0"
    assert f"exported {total} records" in capsys.readouterr().out


def test_cli_export_refuses_a_tampered_log_unless_forced(tmp_path, capsys, env_key):
    path = write_log(tmp_path / "audit.jsonl", n=5)
    lines = lines_of(path)
    del lines[2]
    path.write_text("".join(lines))
    out = tmp_path / "out.jsonl"
    assert main(["export", str(path), "--out", str(out)]) == 1
    assert not out.exists() and "TAMPERED" in capsys.readouterr().out
    assert main(["export", str(path), "--out", str(out), "--force", "--format", "jsonl"]) == 0
    assert len(lines_of(out)) == 5


def test_cli_export_missing_input_exits_2(tmp_path, capsys, env_key):
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "x.csv")]) == 2


def test_cli_export_that_fails_leaves_an_earlier_export_as_it_was_and_names_the_target(
    tmp_path, capsys, env_key, monkeypatch
):
    from rrm_gym.safety import audit_cli

    path = write_log(tmp_path / "audit.jsonl", n=5)
    out = tmp_path / "out.jsonl"
    out.write_text("an earlier export\n")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    working = audit_cli.dumps_record
    monkeypatch.setattr(audit_cli, "dumps_record", broken)
    assert main(["export", str(path), "--out", str(out)]) == 2
    assert f"error: export to {str(out)!r} failed: No space left on device" in capsys.readouterr().err
    assert out.read_text() == "an earlier export\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "audit.jsonl",
        "audit.jsonl.anchor",
        "out.jsonl",
    ]
    monkeypatch.setattr(audit_cli, "dumps_record", working)
    (tmp_path / "dir.jsonl").mkdir()
    assert main(["export", str(path), "--out", str(tmp_path / "dir.jsonl")]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["export", str(path), "--out", str(out)]) == 0  # an export is replaced by a new one
    assert len(lines_of(out)) == 6


def test_cli_export_through_a_link_writes_its_target_and_keeps_its_permissions(tmp_path, capsys, env_key):
    path = write_log(tmp_path / "audit.jsonl", n=3)
    real = tmp_path / "exports" / "real.jsonl"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o600)
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    assert main(["export", str(path), "--out", str(link)]) == 0
    assert link.is_symlink() and len(lines_of(real)) == 4
    assert real.stat().st_mode & 0o777 == 0o600
    (tmp_path / "to_log.jsonl").symlink_to(path)  # a link to the log itself is still refused
    assert main(["export", str(path), "--out", str(tmp_path / "to_log.jsonl")]) == 2
    assert "is one of the log's own files" in capsys.readouterr().err


def test_add_audit_parser_wires_into_a_parent_parser(tmp_path, capsys, env_key):
    import argparse

    from rrm_gym.safety.audit_cli import add_audit_parser

    parser = argparse.ArgumentParser(prog="rrm-gym")
    add_audit_parser(parser.add_subparsers(dest="command", required=True))
    path = write_log(tmp_path / "audit.jsonl", n=2)
    args = parser.parse_args(["audit", "verify", str(path)])
    assert args.func(args) == 0


@pytest.mark.parametrize("length", [16, 32, 63, 64, 65, 200])
def test_records_are_signed_with_standard_hmac_sha256_for_keys_of_any_length(length):
    key = bytes(range(1, 256))[:length] if length < 256 else b"k" * length
    log = AuditLog(key)
    rec = log.append(sim_time_s=1.0, event_type="X", source="agent", execution_status="SUCCESS", details={"a": 1})
    body = {k: v for k, v in rec.to_dict().items() if k != "signature"}
    assert rec.signature == hmac.new(key, canonical_json(body).encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("key", [7, 64, None.__class__, b"short", "0123456789abcde", bytes(15), 3.5])
def test_keys_that_are_not_16_bytes_of_str_or_bytes_are_refused(key, tmp_path):
    with pytest.raises(AuditConfigError, match="audit key from the key argument"):
        AuditLog(key)
    (tmp_path / "k").write_bytes(b"\0")
    with pytest.raises(AuditConfigError, match="key file .* is 1 bytes"):
        resolve_key(key_file=tmp_path / "k")


def test_csv_export_neutralises_cells_a_spreadsheet_would_run(tmp_path, capsys, env_key):
    path = tmp_path / "audit.jsonl"
    with AuditLog(KEY, path=path) as log:
        for reason in ('=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "plain"):
            log.append(sim_time_s=0, event_type="X", source="rule", execution_status="SUCCESS", reason=reason)
    assert main(["export", str(path), "--out", str(tmp_path / "out.csv")]) == 0
    with open(tmp_path / "out.csv", newline="") as fh:
        reasons = [r["reason"] for r in csv.DictReader(fh)]
    assert reasons[:5] == ['\'=HYPERLINK("http://x")', "'+1", "'-cmd", "'@SUM(A1)", "plain"]


def test_labels_tokens_and_the_values_of_known_parameters_carry_no_identifier(tmp_path):
    path = tmp_path / "audit.jsonl"
    mac = "aa:bb:cc:dd:ee:ff"
    with AuditLog(KEY, path=path) as log:
        log.append(
            sim_time_s=0,
            event_type=f"ROAM {mac}",
            action_type="KICK client-17",
            source="rule",
            execution_status="SUCCESS",
            rollback_token="10.0.0.7/x",
            configuration_changes=[{"param": "channel", "old_value": mac, "new_value": {"sta_mac": "10.0.0.7"}}],
            details={"sta3": 1, "macaabbccddeeff": 2, "aa_bb_cc_dd_ee_ff": 3},
        )
        kept = log.append(
            sim_time_s=1, event_type="X", source="rule", execution_status="SUCCESS", rollback_token="rb-n0-ap3-000012"
        )
    text = path.read_text()
    for raw in (mac, "client-17", "10.0.0.7", "sta3", "aabbccddeeff", "aa_bb_cc"):
        assert raw not in text, raw
    assert kept.rollback_token == "rb-n0-ap3-000012"  # the event loop's tokens are kept as they are
    assert verify(path, KEY).ok
