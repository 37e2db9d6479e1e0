"""The rrm-gym command: simulate prints KPIs; bad input exits 2 with a message, not a traceback."""

from __future__ import annotations

import re

import pytest
import yaml

from rrm_gym.cli import main
from rrm_gym.config import load_scenario
from rrm_gym.sim import WirelessSimulation


def test_simulate_office_prints_kpis_and_every_ap(capsys):
    assert main(["simulate", "--scenario", "office", "--hours", "0.05", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "office: 0.05 h from 9:00, seed 1" in out
    for kpi in ("client throughput, mean", "client throughput, 5th percentile", "CCA busy", "retry"):
        assert kpi in out
    for ap in load_scenario("office").aps:
        assert re.search(rf"\b{re.escape(ap.name)}\b", out), ap.name
    # KPI values are printed with units: Mb/s for throughput, percentages for CCA busy and retry
    assert re.search(r"client throughput, mean \(active clients\)\s*│\s*\d+\.\d\d Mb/s", out)
    assert re.search(r"CCA busy, mean over active APs\s*│\s*\d+\.\d%", out)
    assert re.search(r"latency, 95th percentile\s*│\s*\d+ ms", out)


def test_simulate_is_reproducible_for_a_seed(capsys):
    main(["simulate", "--scenario", "office", "--hours", "0.02", "--seed", "3"])
    first = capsys.readouterr().out
    main(["simulate", "--scenario", "office", "--hours", "0.02", "--seed", "3"])
    assert capsys.readouterr().out == first
    main(["simulate", "--scenario", "office", "--hours", "0.02", "--seed", "4"])
    assert capsys.readouterr().out.splitlines()[3:] != first.splitlines()[3:]


def test_simulate_reports_the_initial_channel_plan(capsys):
    assert main(["simulate", "--scenario", "legacy_24", "--hours", "0.01"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    # legacy_24.yaml: ap-04 on channel 3, ap-08 on channel 9, 2.4 GHz only
    assert re.search(r"│\s*2\.4\s*│\s*3\s*│\s*20\s*│", rows["ap-04"])
    assert re.search(r"│\s*2\.4\s*│\s*9\s*│\s*20\s*│", rows["ap-08"])


def test_simulate_weights_a_short_last_chunk_by_its_duration(capsys):
    # 0.025 h = 90 s: the CLI runs one 60 s fast-loop period and a 30 s remainder; the run's means
    # must weigh each tick equally, i.e. the remainder by 30/90, not by one half.
    assert main(["simulate", "--scenario", "office", "--hours", "0.025", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    sim = WirelessSimulation("office", seed=3)
    parts = [sim.run(60).kpis(), sim.run(30).kpis()]
    cca = (parts[0]["cca_busy_mean"][0] * 60 + parts[1]["cca_busy_mean"][0] * 30) / 90
    retry = (parts[0]["retry_rate_mean"][0] * 60 + parts[1]["retry_rate_mean"][0] * 30) / 90
    assert re.search(rf"CCA busy, mean over active APs\s*│\s*{re.escape(f'{cca:.1%}')}", out), out
    assert re.search(rf"retry rate, mean over active APs\s*│\s*{re.escape(f'{retry:.1%}')}", out), out


def test_simulate_with_a_bad_scenario_path_exits_2_without_traceback(tmp_path, capsys):
    data = {
        "name": "x",
        "area": {"width_m": 10, "height_m": 10},
        "aps": [{"position": [50, 5], "channel": 36}],
        "clients": {"count": 1},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["simulate", "--scenario", str(path), "--hours", "0.01"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}: aps[0].position: point [50.0, 5.0] is outside the area" in captured.err
    assert "Traceback" not in captured.err


def test_simulate_with_a_missing_scenario_file_exits_2(tmp_path, capsys):
    assert main(["simulate", "--scenario", str(tmp_path / "none.yaml"), "--hours", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "none.yaml" in err and "cannot read file" in err
    assert "Traceback" not in err


def test_simulate_with_an_unknown_packaged_name_exits_2(capsys):
    assert main(["simulate", "--scenario", "ofice", "--hours", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "ofice: no such scenario" in err
    assert "office" in err


def test_simulate_shorter_than_one_tick_exits_2(capsys):
    assert main(["simulate", "--scenario", "office", "--hours", "0.0001"]) == 2
    assert "shorter than one 1 s tick" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "--hours", "-1"], "must be > 0"),
        (["simulate", "--hours", "lots"], "is not a number"),
        (["simulate", "--seed", "1.5"], "is not an integer"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_2_with_a_usage_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "usage: rrm-gym" in err
