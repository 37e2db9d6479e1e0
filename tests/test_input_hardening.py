"""Input that cannot hang, exhaust or fool the package: scenario files, command-line arguments,
env keyword arguments, stepping an ended episode, and the bounded module caches."""

from __future__ import annotations

import importlib.resources
import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents import cli as agents_cli
from rrm_gym.config import ScenarioError, load_scenario, scenario_from_dict
from rrm_gym.config.loader import MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, parse_yaml
from rrm_gym.config.schema import MAX_SCENARIO_MEMORY_BYTES, estimated_memory_bytes
from rrm_gym.envs import FastLoopEnv, JointEnv, SlowLoopEnv
from rrm_gym.envs.vector import FastLoopVectorEnv
from rrm_gym.sim import WirelessSimulation, geometry

RRM_GYM = Path(sys.executable).with_name("rrm-gym")
OFFICE_TEXT = Path(str(importlib.resources.files("rrm_gym.scenarios") / "office.yaml")).read_text(encoding="utf-8")


def office_dict() -> dict:
    return yaml.safe_load(OFFICE_TEXT)


def problems_of(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="t.yaml")
    return info.value.problems


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    """Exit status and stderr + stdout of ``rrm-gym ARGV`` run in this process."""
    try:
        code = agents_cli.main(argv)
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    out = capsys.readouterr()
    return code, out.err + out.out


# ----------------------------------------------------------------------------- YAML: size, aliases, keys


def laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" document: each level an anchored list of ``width`` aliases of the last."""
    lines = ["name: x", "l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\nbomb: *l{levels}\n"


def test_billion_laughs_is_refused_at_once_with_bounded_memory(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(9))  # 9^10 (3.5 billion) strings once expanded
    tracemalloc.start()
    t = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 20 * 2**20
    message = str(info.value)
    assert f"more than {MAX_YAML_NODES} nodes (aliases expanded)" in message
    assert message.startswith(f"{path}: invalid YAML:")
    assert "lol" not in message and len(message) < 300


def test_validate_refuses_the_billion_laughs_with_exit_2(tmp_path, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(12))
    t = time.perf_counter()
    code, text = run_cli(["validate", str(path)], capsys)
    assert code == 2 and time.perf_counter() - t < 1.0
    assert "aliases expanded" in text and "Traceback" not in text and len(text) < 600


def test_an_error_message_never_formats_the_expanded_input():
    # small enough to pass the node limit (9^4 strings), in a field that wants a number: the
    # message quotes the value, cut to a few dozen characters
    data = office_dict()
    data["aps"][0]["channel"] = yaml.safe_load(laughs(3) + "\n")["bomb"]
    problems = problems_of(data)
    [(path, reason)] = [p for p in problems if p[0] == "aps[0].channel"]
    assert "valid integer, got a list" in reason
    assert len(reason) < 200


def test_aliases_count_as_the_nodes_they_stand_for():
    text = "a: &a [" + ", ".join(["1"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 300) + "]\n"
    with pytest.raises(ValueError, match="aliases expanded"):
        parse_yaml(text)
    assert len(parse_yaml(text, max_nodes=400_000)["b"]) == 300  # the same text under a larger bound


def test_duplicate_keys_are_an_error_naming_key_and_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(OFFICE_TEXT + "regulatory_domain: ETSI\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    line = OFFICE_TEXT.count("\n") + 1
    first = OFFICE_TEXT.splitlines().index("regulatory_domain: FCC") + 1
    assert f"duplicate key 'regulatory_domain' at line {line}, column 1 (first given at line {first})" in str(
        info.value
    )
    nested = tmp_path / "nested.yaml"
    nested.write_text(OFFICE_TEXT.replace("area: {width_m: 50, height_m: 30}", "area: {width_m: 50, width_m: 5}"))
    with pytest.raises(ScenarioError, match="duplicate key 'width_m' at line"):
        load_scenario(nested)


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: " + "[" * (MAX_YAML_DEPTH + 5) + "]" * (MAX_YAML_DEPTH + 5), f"nested more than {MAX_YAML_DEPTH} deep"),
        ("name: " + "[" * 100_000 + "]" * 100_000, "nest"),
        ("a: &a [1, *a]\n", "alias *'a' at line 1, column 11 refers to a node that contains it"),
        ("a: *nothing\n", "alias *'nothing' at line 1, column 4 is not defined"),
        ("name: x\n---\nname: y\n", "a second document at line 2"),
        ("name: x\nclients: {count: " + "9" * 5000 + "}\n", "a value cannot be read"),
        ("name: !!python/object:os.system x\n", "could not determine a constructor"),
    ],
    ids=["deep", "very-deep", "recursive-alias", "undefined-alias", "two-documents", "5000-digit-int", "python-tag"],
)
def test_malformed_yaml_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert message in str(info.value)
    assert len(str(info.value)) < 400


def test_non_regular_files_are_refused_without_reading(tmp_path):
    for target, kind in (("/dev/zero", "not a regular file"), (str(tmp_path), "a directory")):
        with pytest.raises(ScenarioError, match=f"cannot read file: {kind}"):
            load_scenario(target)
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    # in a subprocess: reading a FIFO nobody writes to would block for ever
    run = subprocess.run([str(RRM_GYM), "validate", str(fifo)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "not a regular file (a device, pipe or socket)" in run.stderr and "Traceback" not in run.stderr


def test_the_file_size_is_capped(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(OFFICE_TEXT + "#" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ScenarioError, match=f"over the limit of {MAX_FILE_BYTES} bytes"):
        load_scenario(path)


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ScenarioError, match=r"not UTF-8 text \(byte 128\)"):
        load_scenario(path)


# ----------------------------------------------------------------------------- schema: numbers and sizes


def _at(data: dict, where: tuple, value: object) -> dict:
    node = data
    for key in where[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    node[where[-1]] = value
    return data


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize(
    "where, path",
    [
        (("area", "width_m"), "area.width_m"),
        (("start_hour",), "start_hour"),
        (("aps", 0, "position", 0), "aps[0].position[0]"),
        (("walls", 0, 2), "walls[0][2]"),
        (("neighbors", 0, "position", 1), "neighbors[0].position[1]"),
        (("clients", "traffic", "mix", "web"), "clients.traffic.mix.web"),
        (("clients", "mobility", "mean_dwell_s"), "clients.mobility.mean_dwell_s"),
        (("interferers", 0, "schedule", "mean_session_s"), "interferers[0].schedule.mean_session_s"),
    ],
)
def test_non_finite_numbers_are_refused_everywhere(where, path, bad):
    problems = problems_of(_at(office_dict(), where, bad))
    assert any(p == path and "finite number" in r for p, r in problems), problems


def test_non_finite_numbers_in_a_file_are_refused(tmp_path):
    path = tmp_path / "inf.yaml"
    path.write_text(OFFICE_TEXT.replace("start_hour: 9.0", "start_hour: .nan").replace("[5, 6]", "[.inf, 6]"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    fields = {p for p, _ in info.value.problems}
    assert {"start_hour", "aps[0].position[0]"} <= fields


@pytest.mark.parametrize(
    "where, path, value",
    [
        (("aps", 0, "channel"), "aps[0].channel", True),  # would read as channel 1
        (("loops", "fast_period_s"), "loops.fast_period_s", True),  # would read as a 1 s period
        (("clients", "count"), "clients.count", True),
        (("wlan", "basic_rate_24_mbps"), "wlan.basic_rate_24_mbps", True),  # would read as 1 Mb/s
        (("ap_defaults", "width_mhz"), "ap_defaults.width_mhz", False),
        (("aps", 0, "power_dbm"), "aps[0].power_dbm", True),
        (("area", "height_m"), "area.height_m", True),
        (("aps", 0, "channel"), "aps[0].channel", "36"),  # a quoted number is a string
    ],
)
def test_booleans_and_strings_are_not_numbers(where, path, value):
    problems = problems_of(_at(office_dict(), where, value))
    kind = "a boolean" if isinstance(value, bool) else "a string"
    assert any(p == path and f"got {kind}" in r for p, r in problems), problems


def test_true_is_not_channel_1_in_a_file(tmp_path):
    path = tmp_path / "true.yaml"
    path.write_text(OFFICE_TEXT.replace("channel: 36}", "channel: true}", 1))
    with pytest.raises(ScenarioError, match=r"aps\[0\]\.channel: Input should be a valid integer, got a boolean"):
        load_scenario(path)


def test_numbers_are_not_switches():
    data = office_dict()
    data["interferers"][0]["schedule"]["always"] = 1
    assert any(p == "interferers[0].schedule.always" and "true or false" in r for p, r in problems_of(data))


@pytest.mark.parametrize("spacing", [1e-6, 0.01, 0.5, math.inf, 1e9])
def test_wall_grid_spacing_is_range_checked(spacing):
    data = office_dict()
    data["wall_grid"] = {"spacing_x_m": spacing}
    problems = problems_of(data)
    assert any(p == "wall_grid.spacing_x_m" for p, _ in problems), problems


@pytest.mark.parametrize(
    "where, path",
    [
        (("clients", "placement"), "clients.placement.hotspots[0].radius_m"),
        (("radars",), "radars[0].range_m"),
    ],
)
def test_sizes_are_range_checked(where, path):
    data = office_dict()
    if where[-1] == "placement":
        data["clients"]["placement"] = {"kind": "hotspots", "hotspots": [{"center": [5, 5], "radius_m": 1e12}]}
    else:
        data["regulatory_domain"] = "FCC"
        data["radars"] = [{"channel": 52, "position": [1, 1], "range_m": 1e12}]
    assert any(p == path and "less than or equal" in r for p, r in problems_of(data))


def test_the_schema_maximum_is_refused_by_its_memory_estimate():
    data = office_dict()
    data["area"] = {"width_m": 2000, "height_m": 2000}
    data["aps"] = [{"position": [i % 2000, i // 2000], "channel": 36} for i in range(2000)]
    data["clients"]["count"] = 20000
    problems = problems_of(data)
    [(path, reason)] = [p for p in problems if "too large to simulate" in p[1]]
    assert "2000 APs" in reason and "20000 clients" in reason
    assert "over the limit of 2 GiB" in reason and "clients.count x aps" in reason


def test_a_dense_wall_grid_is_refused_by_its_memory_estimate():
    data = office_dict()
    data["area"] = {"width_m": 1000, "height_m": 1000}
    data["wall_grid"] = {"spacing_x_m": 1.0, "spacing_y_m": 1.0}
    data["clients"]["count"] = 5000
    [(_, reason)] = [p for p in problems_of(data) if "too large to simulate" in p[1]]
    assert "2012 walls" in reason  # 14 of the office's own and 2 x 999 of the grid and "walls, wall_grid" in reason


def test_the_memory_estimate_is_an_upper_estimate_of_what_a_simulation_allocates():
    for name in ("office", "enterprise"):
        sc = load_scenario(name)
        estimate = estimated_memory_bytes(sc)
        assert estimate < MAX_SCENARIO_MEMORY_BYTES / 10
        WirelessSimulation(sc, seed=0).run(60)  # the kernels compiled, so that only the simulation is measured
        geometry._RASTERS.clear()  # built afresh, as in a new process
        geometry._LOSS_RASTERS.clear()
        tracemalloc.start()
        WirelessSimulation(sc, seed=0).run(60)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # an upper estimate, within 10x (its fixed part weighs most on a small site: 7x on office, 3x on enterprise)
        assert peak < estimate < 10 * peak, (name, peak, estimate)
    assert geometry.CLIENT_GRID_M == 0.5  # the estimate's grid pitch


def test_packaged_scenarios_stay_within_the_limit():
    from rrm_gym.config import packaged_scenarios

    for name in packaged_scenarios():
        assert estimated_memory_bytes(load_scenario(name)) < MAX_SCENARIO_MEMORY_BYTES / 4, name


@pytest.mark.parametrize("name", ["x" * 5000, "a/../../b", "bell\x07", ""])
def test_scenario_names_are_short_single_line_labels(name):
    data = office_dict()
    data["name"] = name
    problems = problems_of(data)
    assert any(p == "name" for p, _ in problems), problems
    assert all(len(r) < 300 for _, r in problems)


# ----------------------------------------------------------------------------- fuzzing scenario files

TOKENS = [
    "&a ", "*a", "[", "]", "{", "}", ": ", ", ", "- ", "\n", "  ", "#", "!!", "!!binary ", "? ", "|", ">",
    ".inf", "-.inf", ".nan", "true", "no", "null", "~", "1e9", "0x10", "99999999999999999999", "'", '"',
    "<<: *a", "---\n", "\t", "\x00", "é", "\\", "%", "@",
]  # fmt: skip


@st.composite
def mutated_office(draw: st.DrawFn) -> str:
    text = OFFICE_TEXT
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 12))
        insert = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)))
        text = text[:at] + insert + text[at + cut :]
    if draw(st.booleans()):
        text += "\n" + laughs(draw(st.integers(1, 12)))
    return text


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_office())
def test_fuzzed_scenario_files_load_or_fail_with_a_scenario_error(text):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        tracemalloc.start()
        try:
            load_scenario(path)
        except ScenarioError as e:
            assert len(str(e)) < 20_000
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < 64 * 2**20


# ----------------------------------------------------------------------------- command line

SMALL_OUT = ["--policies", "static/max", "--no-oracle", "--episodes", "1", "--hours", "0.1"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate", "--hours", "inf"], "argument --hours: must be a finite number, got inf"),
        (["simulate", "--hours", "nan"], "argument --hours: must be a finite number, got nan"),
        (["simulate", "--hours", "-1"], "argument --hours: must be > 0, got -1"),
        (["simulate", "--hours", "1e9"], "argument --hours: must be at most 8760 hours"),
        (["simulate", "--seed", "-1"], "argument --seed: must be an integer in [0, 4294967295], got -1"),
        (["simulate", "--seed", "1.5"], "argument --seed: '1.5' is not an integer"),
        (["simulate", "--seed", "1_0"], "argument --seed: '1_0' is not an integer"),
        (["simulate", "--hours", "1_0"], "argument --hours: '1_0' is not a number"),
        (["demo", "--seed", "-1"], "argument --seed: must be an integer in [0, 4294967295], got -1"),
        (["demo", "--periods", "0"], "argument --periods: must be an integer in [1, 1000000], got 0"),
        (["benchmark", "--hours", "inf"], "argument --hours: must be a finite number, got inf"),
        (["benchmark", "--seeds", "-1"], "argument --seeds: must be an integer in [0, 4294967295], got -1"),
        (["benchmark", "--episodes", "0"], "argument --episodes: must be an integer in [1, 10000], got 0"),
        (["evaluate", "--model", "m", "--hours", "nan"], "argument --hours: must be a finite number, got nan"),
        (["evaluate", "--model", "m", "--episodes", "0"], "argument --episodes: must be an integer in [1, 10000]"),
        (["train", "--config", "c", "--timesteps", "0"], "argument --timesteps: must be an integer in [1, 1"),
        (["train", "--config", "c", "--n-envs", "1000"], "argument --n-envs: must be an integer in [1, 256]"),
        (["train", "--config", "c", "--seed", "-1"], "argument --seed: must be an integer in [0, 4294967295]"),
    ],
)
def test_numeric_arguments_are_range_checked(argv, message, capsys):
    code, text = run_cli(argv, capsys)
    assert code == 2
    assert message in text
    assert "Traceback" not in text


def test_a_5000_character_scenario_name_is_a_clear_error(capsys):
    name = "x" * 5000
    for argv in (["validate", name], ["simulate", "--scenario", name], ["benchmark", "--scenario", name]):
        code, text = run_cli(argv, capsys)
        assert code == 2
        assert "not a usable file name (5000 characters)" in text and "Traceback" not in text
        assert len(text) < 1000
    run = subprocess.run([str(RRM_GYM), "simulate", "--scenario", name], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "not a usable file name" in run.stderr


def test_benchmark_out_naming_a_file_is_refused_before_any_work(tmp_path, capsys):
    existing = tmp_path / "results.csv"
    existing.write_text("keep me\n")
    for out in (existing, existing / "sub"):
        t = time.perf_counter()
        code, text = run_cli(["benchmark", *SMALL_OUT, "--out", str(out)], capsys)
        assert code == 2 and time.perf_counter() - t < 30
        assert f"--out {out} is not a directory" in text and "Traceback" not in text
    assert existing.read_text() == "keep me\n"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux's /proc, where nothing can be made")
def test_an_out_directory_that_cannot_be_made_is_refused_before_any_work(capsys):
    t = time.perf_counter()
    code, text = run_cli(["benchmark", *SMALL_OUT, "--out", "/proc/rrm_gym_no/out"], capsys)
    assert code == 2 and time.perf_counter() - t < 30
    assert "--out /proc/rrm_gym_no/out cannot be written to" in text and "Traceback" not in text


def test_an_out_directory_is_not_left_behind_by_a_refused_command(tmp_path, capsys):
    out = tmp_path / "new" / "run"
    config = Path(__file__).parents[1] / "configs" / "training" / "fast_office_ppo.yaml"
    code, text = run_cli(["train", "--config", str(config), "--out", str(out), "--resume"], capsys)
    assert code == 2 and "no checkpoint" in text
    assert not (tmp_path / "new").exists()
    too_long = tmp_path / "new" / ("x" * 300)  # its parent can be made, it cannot
    code, text = run_cli(["benchmark", *SMALL_OUT, "--out", str(too_long)], capsys)
    assert code == 2 and "cannot be written to" in text
    assert not (tmp_path / "new").exists()


def test_names_and_paths_with_brackets_print_as_they_are(tmp_path, capsys):
    out = tmp_path / "b[" / "]x [bold]"  # rich would read "[/]" and "[bold]" as markup
    code, text = run_cli(["benchmark", *SMALL_OUT, "--out", str(out)], capsys)
    assert code == 0 and "Traceback" not in text
    assert f"wrote {out}" in text and (out / "benchmark.csv").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seeds", "5", "7", "5"], "--seeds: 5 given more than once (each seed is one paired sample)"),
        (["--policies", "static/max", "dca/tpc", "static/max"], "--policies: static/max given more than once"),
        (["--model", "fast_office_ppo_lagrangian", "fast_office_ppo_lagrangian"], "given more than once"),
    ],
)
def test_a_seed_policy_or_model_given_twice_is_refused(argv, message, tmp_path, capsys):
    code, text = run_cli(["benchmark", "--no-oracle", "--hours", "0.1", *argv, "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and message in text and "Traceback" not in text
    assert not (tmp_path / "b").exists()


def test_a_disk_that_fills_during_the_demo_is_a_message_and_the_records_written_stay(tmp_path, capsys, monkeypatch):
    import errno
    import os
    import types

    from rrm_gym.safety.audit import verify
    from rrm_gym.safety.audit import writer as audit_writer

    real_write, calls = os.write, {"n": 0}

    def write(fd, data):
        calls["n"] += 1
        if calls["n"] > 40:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(audit_writer, "os", types.SimpleNamespace(**{**vars(os), "write": write}))
    monkeypatch.setenv("RRM_GYM_AUDIT_KEY", "0123456789abcdef0123456789abcdef")
    code, text = run_cli(["demo", "--periods", "60", "--audit-dir", str(tmp_path / "a")], capsys)
    assert code == 1 and "Traceback" not in text
    assert "No space left on device" in text and "--allow-unsealed" in text
    monkeypatch.undo()
    result = verify(tmp_path / "a", b"0123456789abcdef0123456789abcdef", allow_unsealed=True)
    assert result.ok and result.records >= 30


def test_train_out_naming_a_file_is_refused(tmp_path, capsys):
    existing = tmp_path / "run"
    existing.write_text("keep me\n")
    config = Path(__file__).parents[1] / "configs" / "training" / "fast_office_ppo.yaml"
    code, text = run_cli(["train", "--config", str(config), "--out", str(existing)], capsys)
    assert code == 2
    assert f"--out {existing} is not a directory" in text and "Traceback" not in text
    assert existing.read_text() == "keep me\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (bytes(range(256)) * 8, "not UTF-8 text (byte 128)"),
        (b"a: &a [" + b", ".join([b"*a"]) + b"]", "refers to a node that contains it"),
        (b"name: x\nname: y\n", "duplicate key 'name' at line 2"),
        (b"\x89PNG\r\n\x1a\n", "not UTF-8 text"),
    ],
    ids=["binary", "recursive", "duplicate", "png"],
)
def test_train_config_that_is_not_a_config_is_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    code, text = run_cli(["train", "--config", str(path)], capsys)
    assert code == 2
    assert message in text and "Traceback" not in text


def test_train_config_on_a_device_or_directory_is_refused(tmp_path, capsys):
    for target, message in (("/dev/zero", "not a regular file"), (str(tmp_path), "a directory")):
        code, text = run_cli(["train", "--config", target], capsys)
        assert code == 2 and message in text and "Traceback" not in text


# ----------------------------------------------------------------------------- env keyword arguments


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"cost_weights": {"rollbacks": math.nan}},
            ValueError,
            "cost_weights['rollbacks'] must be a finite number >= 0",
        ),
        ({"cost_weights": {"rollbacks": -1.0}}, ValueError, "cost_weights['rollbacks'] must be a finite number >= 0"),
        ({"cost_weights": {"rollbacks": math.inf}}, ValueError, "cost_weights['rollbacks'] must be a finite number"),
        ({"cost_weights": {"rollbacks": "1"}}, TypeError, "cost_weights['rollbacks'] must be a number, got str"),
        ({"cost_weights": {"rollbacks": True}}, TypeError, "cost_weights['rollbacks'] must be a number, got bool"),
        ({"cost_weights": [("rollbacks", 1.0)]}, TypeError, "cost_weights must be a mapping"),
        ({"fast_period_s": 0}, ValueError, "fast_period_s must be in [1, 86400], got 0"),
        ({"fast_period_s": 90.7}, TypeError, "fast_period_s must be an integer, got float 90.7"),
        ({"fast_period_s": -60}, ValueError, "fast_period_s must be in [1, 86400], got -60"),
        ({"slow_period_s": 0}, ValueError, "slow_period_s must be in [1, 86400], got 0"),
        ({"fast_period_s": 7}, ValueError, "slow_period_s 3600 must be a multiple of fast_period_s 7"),
        ({"episode_steps": 1.5}, TypeError, "episode_steps must be an integer, got float 1.5"),
        ({"episode_steps": "10"}, TypeError, "episode_steps must be an integer, got str '10'"),
        ({"episode_steps": True}, TypeError, "episode_steps must be an integer, got bool"),
        ({"episode_steps": 0}, ValueError, "episode_steps must be in [1, 10000000], got 0"),
        ({"allow_width": "no"}, TypeError, "allow_width must be True or False, got str 'no'"),
        ({"channel_onehot": 1}, TypeError, "channel_onehot must be True or False, got int 1"),
        ({"event_loop": "x"}, TypeError, "event_loop must be an EventLoopConfig or None, got str"),
        ({"reward": ["pf"]}, ValueError, "unknown reward ['pf']"),
        ({"render_mode": "human"}, ValueError, "render_mode must be one of"),
        ({"power_mode": ["level"]}, ValueError, "power_mode must be one of"),
        ({"slow_policy": 3}, TypeError, "slow_policy must be a callable"),
        ({"scenario": 3}, TypeError, "scenario must be a packaged name, a YAML path or a Scenario, got int"),
    ],
)
def test_fast_env_arguments_are_checked(kwargs, error, message):
    with pytest.raises(error) as info:
        FastLoopEnv(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "make, kwargs, error, message",
    [
        (SlowLoopEnv, {"fast_policy": "dca"}, TypeError, "fast_policy must be a callable"),
        (SlowLoopEnv, {"episode_steps": 2.0}, TypeError, "episode_steps must be an integer, got float 2.0"),
        (JointEnv, {"allow_width": None}, TypeError, "allow_width must be True or False"),
        (JointEnv, {"cost_weights": {"dfs_violations": math.nan}}, ValueError, "cost_weights['dfs_violations']"),
        (lambda **k: FastLoopVectorEnv(2, **k), {"fast_period_s": 0}, ValueError, "fast_period_s must be in"),
        (lambda **k: FastLoopVectorEnv(2, **k), {"slow_policy": 1}, TypeError, "slow_policy must be a callable"),
        (lambda **k: FastLoopVectorEnv(2, **k), {"max_episode_steps": 0.5}, TypeError, "episode_steps must be an int"),
    ],
)
def test_other_env_arguments_are_checked(make, kwargs, error, message):
    with pytest.raises(error) as info:
        make(**kwargs)
    assert message in str(info.value)


def test_env_arguments_that_are_fine_still_work():
    env = FastLoopEnv(episode_steps=np.int64(3), fast_period_s=120, cost_weights={"rollbacks": 0}, allow_width=False)
    assert env.episode_steps == 3 and env.fast_period_s == 120 and env.cost_weights["rollbacks"] == 0.0


@pytest.mark.parametrize("make", [FastLoopEnv, JointEnv, lambda **k: SlowLoopEnv(fast_period_s=600, **k)])
def test_stepping_an_ended_episode_raises(make):
    env = make(episode_steps=2)
    env.reset(seed=0)
    hold = env.action_space.sample() * 0
    for expected in (False, True):
        _, _, terminated, truncated, _ = env.step(hold)
        assert (terminated, truncated) == (False, expected)
    with pytest.raises(RuntimeError, match=r"the episode is over \(truncated after 2 steps\): call reset\(\)"):
        env.step(hold)
    env.reset(seed=1)  # a reset starts a new episode
    env.step(hold)


def test_the_multi_agent_env_says_the_same():
    from rrm_gym.envs.multi_agent import parallel_env

    env = parallel_env(episode_steps=1)
    env.reset(seed=0)
    env.step({a: 0 for a in env.agents})
    with pytest.raises(RuntimeError, match=r"the episode is over \(truncated after 1 steps\).*no agents left"):
        env.step({a: 0 for a in env.possible_agents})


def test_the_vector_env_still_autoresets():
    env = FastLoopVectorEnv(2, episode_steps=1)
    env.reset(seed=0)
    hold = env.current_power_action()
    _, _, _, truncated, _ = env.step(hold)
    assert truncated.all()
    _, rewards, _, truncated, _ = env.step(hold)  # next-step autoreset: no error, a fresh episode
    assert not truncated.any() and (rewards == 0).all()
    _, _, _, truncated, _ = env.step(env.current_power_action())
    assert truncated.all()


# ----------------------------------------------------------------------------- module caches


def test_module_caches_are_bounded_lru():
    cache = geometry.LRUCache(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # a is now the most recently used
    cache["c"] = 3
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") == 1


def test_many_floor_plans_keep_the_caches_at_their_bound():
    sizes = geometry.cache_sizes()
    base = {
        "name": "plan",
        "area": {"width_m": 20, "height_m": 10},
        "clients": {"count": 2, "placement": {"kind": "hotspots", "hotspots": [{"center": [5, 5], "radius_m": 3}]}},
        "interferers": [{"kind": "microwave", "position": [2, 2]}],
    }
    plans = max(size for _, size in sizes.values() if size <= 100) + 20
    for i in range(plans):
        data = {
            **base,
            "area": {"width_m": 20 + i * 0.5, "height_m": 10},
            "walls": [[10.0, 0.0, 10.0, 10.0 - i * 0.01]],
            "aps": [{"position": [1 + i * 0.01, 3], "channel": 36}],
        }
        WirelessSimulation(scenario_from_dict(data), seed=i)
    after = geometry.cache_sizes()
    for name in ("wall_rasters", "loss_rasters", "hotspots"):
        used, bound = after[name]
        assert used == bound, (name, after)  # filled to the bound, not past it
    assert after["grids"][0] <= after["grids"][1]
