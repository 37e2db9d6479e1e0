"""The audit log's end: a log cut, emptied, garbled or left unsealed by a crash never verifies as
whole, the last record that can be vouched for is named, and a writer that resumes never hides it."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rrm_gym.safety.audit import (
    LOG_RESUMED,
    LOG_SEALED,
    MAX_LINE_BYTES,
    AuditConfigError,
    AuditLog,
    AuditWriteError,
    anchor_path_of,
    read_anchor,
    verify,
)
from rrm_gym.safety.audit_cli import main

KEY = b"test-key-0123456789abcdef"


def write_log(path: Path, n: int = 20, **kw) -> Path:
    with AuditLog(KEY, path=path, seed=0, **kw) as log:
        for i in range(n):
            log.append(sim_time_s=i, event_type="CHANGE_REQUEST", source="agent", execution_status="SUCCESS")
    return path


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


# ----------------------------------------------------------------------------- cut at the end


@pytest.mark.parametrize("cut", [1, 10, 20, 21])
def test_records_removed_from_the_end_are_caught_with_and_without_the_anchor(tmp_path, cut):
    path = write_log(tmp_path / "audit.jsonl")  # 20 records and the seal
    path.write_text("".join(lines_of(path)[:-cut]))
    with_anchor = verify(path, KEY)
    assert not with_anchor.ok
    assert with_anchor.reason.startswith(
        "empty log" if cut == 21 else f"cut: the log ends at sequence {20 - cut}, but the anchor audit.jsonl.anchor"
    )
    without = verify(path, KEY, anchor=False)
    assert not without.ok
    if cut < 21:
        assert without.intact and without.last_sequence == 20 - cut
        assert f"every record up to sequence {20 - cut} ({path} line {21 - cut}) verifies" in without.reason


def test_an_emptied_log_and_a_file_of_garbage_are_errors_not_ok(tmp_path, env_key, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert (verify(empty, KEY).ok, verify(empty, KEY).reason) == (False, "empty log: no records")
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(os.urandom(3000).replace(b"\n", b" "))
    r = verify(garbage, KEY)
    assert (r.ok, r.intact, r.reason) == (False, False, "not an audit log: no complete record")
    for p in (empty, garbage):
        assert main(["verify", str(p)]) == 1
    out = capsys.readouterr().out
    assert "NOT VOUCHED FOR: empty log" in out and "TAMPERED" in out


def test_deep_nesting_and_huge_lines_are_clear_errors(tmp_path):
    path = write_log(tmp_path / "audit.jsonl", n=3)
    lines = lines_of(path)
    deep = tmp_path / "deep.jsonl"
    deep.write_text(lines[0] + "[" * 100_000 + "]" * 100_000 + "\n" + "".join(lines[1:]))
    r = verify(deep, KEY, anchor=False)
    assert (r.ok, r.first_bad_line, r.reason) == (False, 2, "not valid JSON: nested deeper than 16 levels")
    huge = tmp_path / "huge.jsonl"
    huge.write_text(lines[0] + '{"x":"' + "a" * (2 * MAX_LINE_BYTES) + '"}\n' + "".join(lines[1:]))
    r = verify(huge, KEY, anchor=False)
    assert (r.ok, r.first_bad_line) == (False, 2) and "longer than" in r.reason


def test_the_newest_rotated_file_removed_or_emptied_is_caught(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=40, max_bytes=1500)
    files = sorted(d.glob("audit.jsonl.*[0-9]"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
    newest = files[-1]
    newest.write_bytes(b"")
    r = verify(d, KEY, anchor=False)
    assert not r.ok and r.intact and r.reason.startswith("not sealed")
    newest.unlink()
    assert not verify(d, KEY, anchor=False).ok
    assert verify(d, KEY).reason.startswith("cut: the log ends at sequence")


def test_an_expected_head_kept_elsewhere_vouches_for_an_open_log_and_catches_a_rewrite(tmp_path, env_key, capsys):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(KEY, path=path, anchor_path=False)
    for i in range(5):
        log.append(sim_time_s=i, event_type="X", source="agent", execution_status="SUCCESS")
    head = log.head
    assert verify(path, KEY, expect_head=head).ok  # open, not sealed, but it ends exactly at the head kept
    assert main(["verify", str(path), "--expect-head", head]) == 0
    log.append(sim_time_s=9, event_type="X", source="agent", execution_status="SUCCESS")
    r = verify(path, KEY, expect_head=head)
    assert not r.ok and r.vouched_sequence == 4 and "complete up to sequence 4" in r.reason
    log.close()
    assert verify(path, KEY, expect_head=head).ok  # sealed since
    path.write_text("".join(lines_of(path)[:3]))
    assert verify(path, KEY, expect_head=head).reason.startswith("cut: the log ends at sequence 2")
    assert main(["verify", str(path), "--expect-head", "4:nothex"]) == 2
    assert "--expect-head" in capsys.readouterr().err


def test_an_anchor_from_another_key_or_edited_is_refused(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    anchor = anchor_path_of(path)
    assert read_anchor(anchor, KEY)["sequence"] == 20 and read_anchor(anchor, KEY)["sealed"] is True
    d = json.loads(anchor.read_text())
    anchor.write_text(json.dumps({**d, "sequence": 5}))
    with pytest.raises(AuditConfigError, match="signature mismatch"):
        verify(path, KEY)


# ----------------------------------------------------------------------------- resume


def test_a_writer_refuses_to_resume_a_log_cut_short_of_its_anchor(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    path.write_text("".join(lines_of(path)[:-5]))
    with pytest.raises(AuditConfigError, match="cannot resume .* cut: the log ends at sequence 15"):
        AuditLog(KEY, path=path)
    path.unlink()
    with pytest.raises(AuditConfigError, match="its files are gone but its anchor"):
        AuditLog(KEY, path=path)


def test_a_writer_that_resumes_a_cut_log_without_anchor_says_so_for_ever(tmp_path, env_key, capsys):
    path = write_log(tmp_path / "audit.jsonl", anchor_path=False)
    path.write_text("".join(lines_of(path)[:-3]))  # the seal and two records removed
    with AuditLog(KEY, path=path, anchor_path=False) as log:
        log.append(sim_time_s=30, event_type="X", source="agent", execution_status="SUCCESS")
    records = [json.loads(line) for line in lines_of(path)]
    resumed = records[18]
    assert (resumed["event_type"], resumed["details"]) == (
        LOG_RESUMED,
        {"after": "unsealed", "last_sequence": 17, "torn_tail": False, "anchor": False},
    )
    assert records[-1]["event_type"] == LOG_SEALED
    r = verify(path, KEY)
    assert (r.ok, r.intact, r.sealed, r.unsealed_resumes) == (False, True, True, [18])
    assert main(["verify", str(path)]) == 1
    assert "resumed after an unsealed end at sequence 18" in capsys.readouterr().out


def test_a_writer_refuses_to_resume_a_tampered_log(tmp_path):
    path = write_log(tmp_path / "audit.jsonl")
    lines = lines_of(path)
    lines[4] = lines[4].replace('"sim_time_s":4.0', '"sim_time_s":4.5')
    path.write_text("".join(lines))
    with pytest.raises(AuditConfigError, match=r"cannot resume .*signature mismatch.*line 5"):
        AuditLog(KEY, path=path)
    garbage = tmp_path / "g.jsonl"
    garbage.write_bytes(b"\x00\xff garbage")
    with pytest.raises(AuditConfigError, match="not an audit log"):
        AuditLog(KEY, path=garbage)


# ----------------------------------------------------------------------------- crashes


class _DiskFullOnce:
    """``os.write`` that writes half of one record, then fails as a full disk would."""

    def __init__(self) -> None:
        self.armed = True
        self.real = os.write

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if self.armed:
            self.armed = False
            self.real(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real(fd, data)


def test_a_failed_partial_write_leaves_a_log_that_verifies(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(KEY, path=path)
    for i in range(5):
        log.append(sim_time_s=i, event_type="X", source="agent", execution_status="SUCCESS")
    monkeypatch.setattr(os, "write", _DiskFullOnce())
    with pytest.raises(AuditWriteError, match="audit record 5 not written .*No space left"):
        log.append(sim_time_s=5, event_type="X", source="agent", execution_status="SUCCESS")
    assert log.next_sequence == 5 and log.total == 5  # nothing of the failed record was kept
    for i in range(5, 8):
        log.append(sim_time_s=i, event_type="X", source="agent", execution_status="SUCCESS")
    log.close()
    r = verify(path, KEY)
    assert (r.ok, r.records, r.sealed) == (True, 9, True)
    assert [json.loads(line)["sequence"] for line in lines_of(path)] == list(range(9))


def test_when_the_cut_back_fails_too_the_next_record_starts_a_new_file(tmp_path, monkeypatch):
    d = tmp_path / "audit"
    log = AuditLog(KEY, path=d / "audit.jsonl")
    log.append(sim_time_s=0, event_type="X", source="agent", execution_status="SUCCESS")
    monkeypatch.setattr(os, "write", _DiskFullOnce())
    monkeypatch.setattr(os, "ftruncate", lambda fd, size: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(AuditWriteError):
        log.append(sim_time_s=1, event_type="X", source="agent", execution_status="SUCCESS")
    log.append(sim_time_s=2, event_type="X", source="agent", execution_status="SUCCESS")
    log.close()
    assert log.current_file == d / "audit.jsonl.1"
    r = verify(d, KEY)
    # two records, the new file's marker and the seal; the torn line is vouched for by the marker
    assert (r.ok, r.records) == (True, 4) and any("torn line at the end of audit.jsonl" in n for n in r.notes)


_WRITER = """
import sys, time
from rrm_gym.safety.audit import AuditLog
log = AuditLog(sys.argv[1].encode(), path=sys.argv[2], max_bytes=20_000, checkpoint_records=50)
i = 0
print("ready", flush=True)
while True:
    log.append(sim_time_s=float(i), event_type="CHANGE_REQUEST", source="agent", execution_status="SUCCESS",
               reason="step " + str(i), details={"loop": "fast", "requested": {"power_dbm": 10.0 + i % 7}})
    i += 1
"""


@pytest.mark.parametrize("delay_s", [0.05, 0.2, 0.45])
def test_kill_9_of_the_writer_leaves_a_log_whose_every_record_verifies_and_whose_cut_is_reported(tmp_path, delay_s):
    d = tmp_path / "audit"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, KEY.decode(), str(d / "audit.jsonl")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    r = verify(d, KEY)
    # intact up to where it stopped, reaching its last checkpoint, but not sealed: reported, not OK
    assert r.intact and r.records > 0 and not r.sealed and not r.ok, r.reason
    assert r.reason.startswith("not sealed") and f"complete up to sequence {r.vouched_sequence}" in r.reason
    assert verify(d, KEY, allow_unsealed=True).ok
    # the next writer verifies it, resumes and says in the log that it found it unsealed
    with AuditLog(KEY, path=d / "audit.jsonl", max_bytes=20_000) as log:
        log.append(sim_time_s=0.0, event_type="X", source="rule", execution_status="SUCCESS")
    after = verify(d, KEY)
    # (after a torn tail the next writer starts a new file: its marker, then the record of the resume)
    assert after.intact and after.sealed and after.unsealed_resumes in ([r.last_sequence + 1], [r.last_sequence + 2])
    assert not after.ok and verify(d, KEY, allow_unsealed=True).ok


# ----------------------------------------------------------------------------- the envs' file sink


def test_an_envs_file_log_spans_its_episodes_rotates_keeps_its_newest_files_and_is_sealed_at_close(
    tmp_path, monkeypatch
):
    import rrm_gym.envs.core as core
    from rrm_gym.envs import FastLoopEnv

    monkeypatch.setattr(core, "SINK_MAX_BYTES", 6000)
    monkeypatch.setattr(core, "SINK_RETENTION_FILES", 3)
    d = tmp_path / "audit"
    env = FastLoopEnv("office", episode_steps=3, audit_key=KEY, audit_path=d / "audit.jsonl")
    assert not d.exists()  # nothing is written before the first episode
    for episode in range(3):
        env.reset(seed=episode)
        env.action_space.seed(episode)
        for _ in range(3):
            env.step(env.action_space.sample())
    writer = env.event_loop.audit
    env.close()
    files = sorted(d.glob("audit.jsonl*[0-9]")) + ([d / "audit.jsonl"] if (d / "audit.jsonl").exists() else [])
    assert len(files) == 3 and all(f.stat().st_size <= 6000 for f in files)  # rotated, the oldest removed
    r = verify(d, KEY)
    assert (r.ok, r.sealed, r.truncated_head, r.unsealed_resumes) == (True, True, True, [])
    assert r.last_sequence == writer.total - 1  # one writer for all three episodes, no resume in between
    assert read_anchor(anchor_path_of(d / "audit.jsonl"), KEY)["sealed"] is True
    env.close()  # idempotent


# ----------------------------------------------------------------------------- an attacker without the key


def two_sessions(d: Path) -> Path:
    p = d / "audit.jsonl"
    with AuditLog(KEY, path=p) as log:
        log.append(sim_time_s=0, event_type="X", source="rule", execution_status="SUCCESS")
    with AuditLog(KEY, path=p) as log:
        log.append(sim_time_s=1, event_type="CHANNEL_CHANGE", source="agent", execution_status="SUCCESS")
    return p


def test_renaming_the_first_file_does_not_switch_off_the_anchor_or_allow_a_cut(tmp_path):
    p = two_sessions(tmp_path)
    p.write_bytes(b"".join(p.read_bytes().splitlines(keepends=True)[:2]))  # back to the first seal
    assert verify(tmp_path, KEY).reason.startswith("cut:")
    os.rename(p, tmp_path / "audit.jsonl.1")  # as if it were a rotated file whose head retention removed
    r = verify(tmp_path, KEY)
    assert not r.ok and "does not start with its rotation marker" in r.reason
    assert not verify(tmp_path, KEY, anchor=False).ok


def test_records_removed_from_the_head_of_the_oldest_rotated_file_are_caught(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=40, max_bytes=1500, retention_files=3)
    oldest = min(d.glob("audit.jsonl.[0-9]*"), key=lambda f: int(f.name.rsplit(".", 1)[1]))
    assert verify(d, KEY).ok  # retention alone: the chain starts at the oldest file's marker
    oldest.write_text("".join(lines_of(oldest)[2:]))
    r = verify(d, KEY)
    assert not r.ok and "does not start with its rotation marker" in r.reason


def test_a_deleted_anchor_fails_verification_and_blocks_a_resume(tmp_path):
    p = two_sessions(tmp_path)
    p.write_bytes(b"".join(p.read_bytes().splitlines(keepends=True)[:2]))
    anchor_path_of(p).unlink()
    r = verify(tmp_path, KEY)
    assert not r.ok and "says its writer keeps an anchor (audit.jsonl.anchor), but it is missing" in r.reason
    with pytest.raises(AuditConfigError, match="anchor .* missing"):
        AuditLog(KEY, path=p)
    assert verify(tmp_path, KEY, anchor=False).ok  # a person may verify without it, on purpose


def test_text_added_to_a_middle_file_or_after_the_seal_is_caught(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=30, max_bytes=2000)
    middle = d / "audit.jsonl.1"
    with open(middle, "ab") as fh:
        fh.write(b'{"sequence":1,"event_type":"CHANNEL_CHANGE","reason":"alice forced ch 165"')
    r = verify(d, KEY)
    assert not r.ok and "audit.jsonl.1 is" in r.reason and "bytes added to or cut from its end" in r.reason
    single = tmp_path / "single" / "audit.jsonl"
    write_log(single, n=3)
    with open(single, "ab") as fh:
        fh.write(b'{"sequence":4,"reason":"forged"')
    (single.parent / "audit.jsonl.1").touch()
    r = verify(single.parent, KEY)
    assert not r.ok and r.torn_tail and "not sealed" in r.reason


def test_an_anchor_of_another_log_is_refused(tmp_path):
    a = write_log(tmp_path / "a" / "audit.jsonl")
    b = write_log(tmp_path / "b" / "other.jsonl")
    with pytest.raises(AuditConfigError, match="belongs to log 'other.jsonl'"):
        verify(a, KEY, anchor=anchor_path_of(b))


def test_an_anchor_that_cannot_be_written_is_a_clear_error_after_the_seal(tmp_path):
    p = tmp_path / "audit.jsonl"
    anchor_path_of(p).mkdir()  # a directory where the anchor goes
    log = AuditLog(KEY, path=p)
    log.append(sim_time_s=0, event_type="X", source="rule", execution_status="SUCCESS")
    with pytest.raises(AuditWriteError, match="was written, but the anchor .* could not be updated"):
        log.close()
    assert verify(p, KEY, anchor=False).sealed  # the seal itself is in the file


def test_a_forced_export_of_a_record_json_cannot_hold_is_a_clear_error(tmp_path, env_key, capsys):
    path = write_log(tmp_path / "audit.jsonl", n=2)
    lines = lines_of(path)
    lines[0] = lines[0].replace('"sim_time_s":0.0', '"sim_time_s":1e999')
    path.write_text("".join(lines))
    assert main(["export", str(path), "--out", str(tmp_path / "x.jsonl"), "--force"]) == 2
    assert "Out of range float values are not JSON compliant" in capsys.readouterr().err


def test_labels_given_as_enums_are_logged_as_their_names_or_values():
    from rrm_gym.safety import EventType, Source

    rec = AuditLog(KEY).append(
        sim_time_s=0, event_type=EventType.DFS_RADAR, source=Source.AGENT, execution_status="SUCCESS"
    )
    assert (rec.event_type, rec.source) == ("DFS_RADAR", "agent")


def test_a_writer_resuming_into_an_empty_new_file_marks_it_with_the_size_of_the_file_before(tmp_path):
    d = tmp_path / "audit"
    write_log(d / "audit.jsonl", n=30, max_bytes=2000)
    newest = max(int(f.name.rsplit(".", 1)[1]) for f in d.glob("audit.jsonl.[0-9]*"))
    (d / f"audit.jsonl.{newest + 1}").touch()  # a crash right after a rotation, before its marker
    with AuditLog(KEY, path=d / "audit.jsonl", max_bytes=2000) as log:
        log.append(sim_time_s=99, event_type="X", source="rule", execution_status="SUCCESS")
    r = verify(d, KEY)
    assert (r.ok, r.sealed) == (True, True), r.reason
