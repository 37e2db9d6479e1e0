"""What a non-editable install ships: every package of the source tree, and its data files."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_package_in_the_tree_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {ROOT / d: name for name, d in config.get("package-dir", {}).items()}
    found = set()
    for init in [*ROOT.glob("rrm_gym/**/__init__.py"), *ROOT.glob("agents/**/__init__.py")]:
        found.add(".".join(init.parent.relative_to(ROOT).parts))
    for directory, name in mapped.items():
        assert (directory / "__init__.py").exists(), name
        found.add(name)
    assert found == listed, f"missing: {sorted(found - listed)}; listed but absent: {sorted(listed - found)}"


def test_training_configs_load_by_name_from_any_directory(tmp_path, monkeypatch):
    from agents.training import TrainConfigError, load_config, packaged_configs

    names = packaged_configs()
    assert "fast_office_ppo_lagrangian" in names and len(names) == len(list((ROOT / "configs/training").glob("*.yaml")))
    monkeypatch.chdir(tmp_path)
    for given in ("fast_office_ppo_lagrangian", "fast_office_ppo_lagrangian.yaml"):
        cfg = load_config(given)
        assert cfg.env_id == "rrm_gym/FastLoop-v2" and cfg.scenario == "office"
    try:
        load_config("no_such_config")
    except TrainConfigError as e:
        assert "no such file or packaged training config" in str(e) and "fast_office_ppo" in str(e)
    else:
        raise AssertionError("an unknown name must be refused")


def test_the_version_is_stated_once_alike_and_the_changelog_covers_it():
    import rrm_gym

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert rrm_gym.__version__ == version
    assert f"## {version}" in (ROOT / "CHANGELOG.md").read_text()
    assert f"version: {version}" in (ROOT / "CITATION.cff").read_text()
    assert (ROOT / "rrm_gym" / "py.typed").exists() and "Apache License" in (ROOT / "LICENSE").read_text()


def test_python_m_rrm_gym_offers_the_same_commands_as_rrm_gym():
    import subprocess

    def commands(cmd: list[str]) -> str:
        out = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        return out.stdout

    module = commands([sys.executable, "-m", "rrm_gym"])
    assert commands([str(Path(sys.executable).with_name("rrm-gym"))]) == module
    for name in ("benchmark", "train", "evaluate", "validate", "simulate", "demo", "audit"):
        assert f"    {name}" in module


def test_the_sb3_adapter_is_importable_from_rrm_gym_and_importing_rrm_gym_loads_no_torch():
    import subprocess

    code = (
        "import sys, rrm_gym, rrm_gym.envs; assert 'torch' not in sys.modules; "
        "from rrm_gym.envs import BatchedVecEnv; from agents.vec_env import BatchedVecEnv as B; "
        "assert BatchedVecEnv is B and 'torch' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
