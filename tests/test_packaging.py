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
