"""Scenario loading and validation: packaged scenarios, and precise errors for bad files."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from rrm_gym.cli import main
from rrm_gym.config import ScenarioError, load_scenario, packaged_scenarios, scenario_from_dict
from rrm_gym.radio import DOMAINS, ETSI, bonding_group

NOMINAL = ("dfs_site", "enterprise", "hall", "legacy_24", "office", "residential")
PEAK = {  # each peak scenario and the nominal one it extends
    "dfs_site_peak": "dfs_site",
    "enterprise_peak": "enterprise",
    "hall_keynote": "hall",
    "office_peak": "office",
    "residential_evening": "residential",
}
PACKAGED = (*NOMINAL, *PEAK)
RRM_GYM = Path(sys.executable).with_name("rrm-gym")


def scenario_path(name: str) -> Path:
    """Path of a packaged scenario file (installed as the ``rrm_gym.scenarios`` package)."""
    return Path(str(importlib.resources.files("rrm_gym.scenarios") / f"{name}.yaml"))


def packaged_dict(name: str) -> dict:
    """The raw mapping of a packaged scenario file, to mutate into a bad one."""
    return yaml.safe_load(scenario_path(name).read_text(encoding="utf-8"))


def write_yaml(tmp_path: Path, data: dict, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- packaged scenarios


def test_all_eleven_scenarios_are_packaged_in_two_tiers():
    assert sorted(packaged_scenarios()) == sorted(PACKAGED)
    assert {load_scenario(name).tier for name in NOMINAL} == {"nominal"}
    for peak, nominal in PEAK.items():
        busy, base = load_scenario(peak), load_scenario(nominal)
        assert busy.tier == "peak"
        assert busy.aps == base.aps and busy.walls == base.walls  # the same site...
        assert busy.clients.count >= base.clients.count and busy.clients.traffic is not None  # ...busier
        assert "load" in busy.description.lower() or "busy" in busy.description.lower()


@pytest.mark.parametrize("name", PACKAGED)
def test_packaged_scenario_loads_by_name_and_by_path(name):
    by_name = load_scenario(name)
    by_path = load_scenario(scenario_path(name))
    by_str_path = load_scenario(str(scenario_path(name)))
    assert by_name.name == name
    assert by_name == by_path == by_str_path


@pytest.mark.parametrize("name", PACKAGED)
def test_packaged_scenario_aps_are_inside_the_area_on_legal_channels(name):
    sc = load_scenario(name)
    domain = DOMAINS[sc.regulatory_domain]
    for ap in sc.aps:
        assert 0 <= ap.position[0] <= sc.area.width_m
        assert 0 <= ap.position[1] <= sc.area.height_m
        assert domain.allows(ap.channel, ap.width_mhz)
        assert ap.min_power_dbm <= ap.power_dbm <= ap.max_power_dbm


def test_office_is_ten_aps_and_120_clients():
    sc = load_scenario("office")
    assert len(sc.aps) == 10
    assert sc.clients.count == 120
    assert [ap.name for ap in sc.aps] == [f"ap-{i:02d}" for i in range(1, 11)]
    assert all(ap.width_mhz == 40 and ap.channel in (36, 44) for ap in sc.aps)


def test_enterprise_is_thirty_aps_and_400_clients_on_both_bands():
    sc = load_scenario("enterprise")
    assert len(sc.aps) == 30
    assert sc.clients.count == 400
    assert sum(ap.channel <= 13 for ap in sc.aps) == 6  # 2.4 GHz coverage radios
    assert sum(ap.channel >= 36 for ap in sc.aps) == 24
    assert len(sc.neighbors) == 4
    assert [it.kind for it in sc.interferers] == ["microwave"]


def test_residential_is_twenty_flats_with_unmanaged_neighbours():
    sc = load_scenario("residential")
    assert len(sc.aps) == 20
    assert len(sc.neighbors) == 10
    assert sc.propagation.model == "residential"
    assert sc.wall_grid is not None and sc.wall_grid.spacing_x_m == 10 and sc.wall_grid.spacing_y_m == 10


def test_dfs_site_aps_are_on_dfs_channels_with_radars_on_them():
    sc = load_scenario("dfs_site")
    domain = DOMAINS[sc.regulatory_domain]
    assert sc.regulatory_domain == "ETSI"
    assert all(domain.is_dfs(ap.channel, ap.width_mhz) for ap in sc.aps)
    assert any(set(bonding_group(ap.channel, ap.width_mhz)) & domain.weather_channels for ap in sc.aps)
    radar_channels = {r.channel for r in sc.radars}
    assert radar_channels == {52, 104, 120}
    # every radar falls inside the band of some AP (APs run 40 MHz: 100+104, 116+120, ...)
    occupied = {ch for ap in sc.aps for ch in bonding_group(ap.channel, ap.width_mhz)}
    assert radar_channels <= occupied


def test_hall_is_eight_aps_and_500_clients():
    sc = load_scenario("hall")
    assert len(sc.aps) == 8
    assert sc.clients.count == 500


def test_legacy_24_is_2_4_ghz_only_with_microwave_ovens():
    sc = load_scenario("legacy_24")
    assert all(1 <= ap.channel <= 13 for ap in sc.aps)
    assert sum(it.kind == "microwave" for it in sc.interferers) == 2


def test_ap_defaults_fill_fields_each_ap_does_not_set():
    sc = load_scenario("enterprise")
    by_name = {ap.name: ap for ap in sc.aps}
    assert by_name["ap5-00"].width_mhz == 40 and by_name["ap5-00"].power_dbm == 20
    assert by_name["ap24-0"].width_mhz == 20 and by_name["ap24-0"].power_dbm == 14  # own value wins


def test_scenario_from_dict_applies_schema_defaults():
    sc = scenario_from_dict(
        {
            "name": "min",
            "area": {"width_m": 10, "height_m": 10},
            "aps": [{"position": [1, 1], "channel": 36}],
            "clients": {"count": 3},
        }
    )
    assert sc.regulatory_domain == "FCC"
    assert sc.aps[0].width_mhz == 20
    assert sc.aps[0].power_dbm == 17.0
    assert sc.propagation.model == "enterprise"


# ----------------------------------------------------------------------------- bad scenarios


def _set(path: list, value: object) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _rename(key: str, new: str) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        d[new] = d.pop(key)

    return mutate


BAD_CASES = [
    # (id, packaged base, mutation, expected field path, words expected in the reason)
    ("typo-in-ap", "office", _set(["aps", 2, "power_dmb"], 10), "aps[2].power_dmb", "unknown key"),
    ("typo-top-level", "office", _rename("propagation", "propogation"), "propogation", "unknown key"),
    ("wrong-type", "office", _set(["area", "width_m"], "wide"), "area.width_m", "valid number"),
    ("wrong-type-count", "hall", _set(["clients", "count"], "many"), "clients.count", "valid integer"),
    ("power-99", "office", _set(["aps", 0, "power_dbm"], 99), "aps[0].power_dbm", "less than or equal to 36"),
    (
        "sigma-negative",
        "office",
        _set(["propagation", "shadowing_sigma_db"], -1),
        "propagation.shadowing_sigma_db",
        "greater than or equal to 0",
    ),
    ("width-30", "office", _set(["aps", 0, "width_mhz"], 30), "aps[0].width_mhz", "20, 40, 80 or 160"),
    ("power-above-ap-max", "office", _set(["aps", 4, "power_dbm"], 30), "aps[4].power_dbm", "outside [2.0, 23.0]"),
    (
        "etsi-144",
        "dfs_site",
        _set(["aps", 0, "channel"], 144),
        "aps[0].channel",
        "not allowed in regulatory domain ETSI",
    ),
    ("channel-14", "legacy_24", _set(["aps", 0, "channel"], 14), "aps[0].channel", "not a valid channel"),
    ("fcc-13", "legacy_24", _set(["aps", 1, "channel"], 13), "aps[1].channel", "not allowed in regulatory domain FCC"),
    ("165-at-40", "office", _set(["aps", 0, "channel"], 165), "aps[0].channel", "no 40 MHz bonding group"),
    ("neighbour-channel", "office", _set(["neighbors", 0, "channel"], 37), "neighbors[0].channel", "not a valid"),
    ("ap-outside", "office", _set(["aps", 3, "position"], [60, 6]), "aps[3].position", "outside the area"),
    ("ap-negative", "hall", _set(["aps", 0, "position"], [-1, 6]), "aps[0].position", "outside the area"),
    (
        "hotspot-outside",
        "hall",
        _set(["clients", "placement", "hotspots", 0, "center"], [25, 80]),
        "clients.placement.hotspots[0].center",
        "outside the area",
    ),
    ("radar-non-dfs", "dfs_site", _set(["radars", 1, "channel"], 36), "radars[1].channel", "not a DFS channel"),
    ("missing-area", "office", lambda d: d.pop("area"), "area", "Field required"),
    ("duplicate-ap-names", "office", _set(["aps", 1, "name"], "ap-01"), "aps", "unique"),
    (
        "slow-not-multiple",
        "office",
        _set(["loops", "slow_period_s"], 100),
        "loops.slow_period_s",
        "not a multiple of fast_period_s",
    ),
    ("mix-sum", "office", _set(["clients", "traffic", "mix", "web"], 0.9), "clients.traffic.mix", "add up to 1"),
    (
        "capabilities-sum",
        "office",
        _set(["clients", "capabilities"], {"ax": 0.5}),
        "clients.capabilities",
        "add up to 1",
    ),
    ("demand-and-traffic", "office", _set(["clients", "demand"], {"mean_mbps": 3.0}), "clients.demand", "not both"),
    (
        "activity-2",
        "office",
        _set(["clients", "traffic", "activity"], 2),
        "clients.traffic.activity",
        "less than or equal",
    ),
    ("ssids-0", "office", _set(["wlan"], {"ssids": 0}), "wlan.ssids", "greater than or equal to 1"),
    (
        "basic-rate-1-at-5",
        "office",
        _set(["wlan"], {"basic_rate_5_mbps": 1}),
        "wlan.basic_rate_5_mbps",
        "Input should be",
    ),
    ("height-negative", "office", _set(["aps", 0, "height_m"], -1), "aps[0].height_m", "greater than or equal to 0"),
    ("tier", "office", _set(["tier"], "busy"), "tier", "'nominal' or 'peak'"),
    (
        "interferer-channel-and-center",
        "office",
        _set(["interferers", 0, "center_mhz"], 5745.0),
        "interferers[0]",
        "not both",
    ),
]


@pytest.mark.parametrize(
    ("base", "mutate", "field", "reason"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_bad_scenario_error_names_file_field_and_reason(tmp_path, base, mutate, field, reason):
    data = packaged_dict(base)
    mutate(data)
    path = write_yaml(tmp_path, data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.source == str(path)
    assert any(p == field and reason in r for p, r in err.problems), err.problems
    # every problem line reads "file: field path: reason"
    assert f"{path}: {field}: " in str(err)
    line = next(ln for ln in str(err).splitlines() if ln.startswith(f"{path}: {field}: "))
    assert reason in line


def test_bad_scenario_error_is_a_value_error_listing_every_problem(tmp_path):
    data = packaged_dict("office")
    data["aps"][0]["power_dbm"] = 99
    data["aps"][1]["chanel"] = 36
    data["propagation"]["shadowing_sigma_db"] = -2
    with pytest.raises(ValueError) as info:
        load_scenario(write_yaml(tmp_path, data))
    fields = sorted(p for p, _ in info.value.problems)
    assert fields == ["aps[0].power_dbm", "aps[1].chanel", "propagation.shadowing_sigma_db"]
    assert len(str(info.value).splitlines()) == 3


def test_semantic_problems_are_all_reported_together(tmp_path):
    data = packaged_dict("office")
    data["aps"][0]["position"] = [70, 6]
    data["aps"][5]["channel"] = 13
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_yaml(tmp_path, data))
    assert [p for p, _ in info.value.problems] == ["aps[0].position", "aps[5].channel"]


def test_bad_value_in_ap_defaults_is_reported_at_ap_defaults(tmp_path):
    # The file says ``ap_defaults: {power_dbm: 99, ...}`` and no AP sets ``power_dbm`` itself, so
    # the error should point the user at ap_defaults (not only at ``aps[i].power_dbm`` fields that the
    # file does not contain).
    data = packaged_dict("office")
    data["ap_defaults"]["power_dbm"] = 99
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_yaml(tmp_path, data))
    problems = info.value.problems
    assert problems
    assert all("ap_defaults" in p or "ap_defaults" in r for p, r in problems), problems


def test_ap_defaults_that_is_not_a_mapping_is_an_error():
    data = packaged_dict("office")
    data["ap_defaults"] = [1, 2]
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, "x.yaml")
    assert info.value.problems == [("ap_defaults", "must be a mapping of AP fields")]


def test_bad_yaml_syntax_error_gives_the_line_number(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\narea:\n  width_m: 10\n height_m: 10\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: invalid YAML: line 4")


def test_a_top_level_list_is_not_a_scenario(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="top level must be a mapping, got list"):
        load_scenario(path)


def test_an_empty_file_is_not_a_scenario(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ScenarioError, match="top level must be a mapping"):
        load_scenario(path)


def test_missing_file_is_a_scenario_error_naming_it(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.source == str(path)
    assert str(info.value).startswith(f"{path}: cannot read file")


def test_unknown_packaged_name_lists_the_packaged_scenarios():
    with pytest.raises(ScenarioError) as info:
        load_scenario("offise")
    msg = str(info.value)
    assert msg.startswith("offise: no such scenario file or packaged scenario")
    for name in PACKAGED:
        assert name in msg


def test_scenario_from_dict_names_the_given_source():
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"name": "x"}, source="inline")
    assert all(line.startswith("inline: ") for line in str(info.value).splitlines())
    assert {p for p, _ in info.value.problems} == {"area", "aps", "clients"}


def test_scenarios_are_immutable():
    sc = load_scenario("office")
    with pytest.raises(ValueError):
        sc.aps[0].channel = 44  # type: ignore[misc]


def test_etsi_scenario_rejects_u_nii_3(tmp_path):
    data = packaged_dict("dfs_site")
    data["aps"][2]["channel"] = 149
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_yaml(tmp_path, data))
    assert info.value.problems == [
        ("aps[2].channel", f"channel 149 at 40 MHz is not allowed in regulatory domain {ETSI.name}")
    ]


# ----------------------------------------------------------------------------- CLI validate


def test_cli_validate_accepts_a_packaged_scenario(capsys):
    assert main(["validate", str(scenario_path("office"))]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "10 APs, 120 clients" in out


def test_cli_validate_accepts_a_packaged_name(capsys):
    assert main(["validate", "dfs_site"]) == 0
    assert "3 radars (ETSI)" in capsys.readouterr().out


def test_cli_validate_rejects_a_bad_file_with_exit_2_and_names_the_problem(tmp_path, capsys):
    data = packaged_dict("office")
    data["aps"][0]["power_dbm"] = 99
    path = write_yaml(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(path) in captured.err
    assert "aps[0].power_dbm" in captured.err
    assert "less than or equal to 36" in captured.err
    assert "Traceback" not in captured.err


def test_cli_validate_rejects_bad_yaml_with_exit_2(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [x\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "invalid YAML: line 2" in err
    assert "Traceback" not in err


def test_cli_validate_rejects_a_missing_file_with_exit_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "missing.yaml" in err and "cannot read file" in err


def test_rrm_gym_command_validate_bad_file_exits_2_without_traceback(tmp_path):
    data = packaged_dict("dfs_site")
    data["radars"][0]["channel"] = 36
    path = write_yaml(tmp_path, data)
    proc = subprocess.run(
        [str(RRM_GYM), "validate", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr
    assert "radars[0].channel" in proc.stderr
    assert "not a DFS channel" in proc.stderr


@pytest.mark.parametrize(
    ("extends", "reason"),
    [("no_such_site", "no such scenario"), (["office"], "must name a packaged scenario"), ("a/b.yaml", "must name")],
)
def test_extends_that_names_no_packaged_scenario_is_an_error_at_extends(tmp_path, extends, reason):
    path = write_yaml(tmp_path, {"extends": extends, "tier": "peak"})
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert any(p == "extends" and reason in r for p, r in info.value.problems), info.value.problems


def test_a_file_extending_a_packaged_scenario_changes_only_what_it_says(tmp_path):
    path = write_yaml(tmp_path, {"extends": "office", "name": "office", "clients": {"count": 150}}, "office.yaml")
    mine, base = load_scenario(path), load_scenario("office")
    assert mine.clients.count == 150 and mine.clients.traffic == base.clients.traffic
    assert mine.aps == base.aps and mine.walls == base.walls
