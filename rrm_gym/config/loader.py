"""Load and validate scenario files, by packaged name or by path."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rrm_gym.config.schema import Scenario, semantic_problems

_SOURCE_TREE_SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``problems`` holds ``(field path, reason)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {reason}" if path else f"{source}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))


def _packaged_dir() -> Path | None:
    try:
        root = importlib.resources.files("rrm_gym.scenarios")
    except ModuleNotFoundError:
        root = None
    if root is not None and root.is_dir():
        return Path(str(root))
    return _SOURCE_TREE_SCENARIOS if _SOURCE_TREE_SCENARIOS.is_dir() else None


def packaged_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    d = _packaged_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d else []


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _error_path(loc: tuple[Any, ...], inherited: list[set[str]]) -> str:
    """Field path of an error; a value an AP inherited from ``ap_defaults`` is reported there."""
    if len(loc) >= 3 and loc[0] == "aps" and isinstance(loc[1], int) and loc[1] < len(inherited):
        if loc[2] in inherited[loc[1]]:
            return _format_loc(("ap_defaults", *loc[2:]))
    return _format_loc(loc)


def scenario_from_dict(data: Any, source: str = "<dict>") -> Scenario:
    """Validate an already-parsed mapping; ``ScenarioError`` names each bad field."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", f"top level must be a mapping, got {type(data).__name__}")])
    data = dict(data)
    defaults = data.pop("ap_defaults", None)
    inherited: list[set[str]] = []
    if defaults is not None:
        if not isinstance(defaults, dict):
            raise ScenarioError(source, [("ap_defaults", "must be a mapping of AP fields")])
        aps = data.get("aps")
        if isinstance(aps, list):
            inherited = [set(defaults) - set(ap) if isinstance(ap, dict) else set() for ap in aps]
            data["aps"] = [{**defaults, **ap} if isinstance(ap, dict) else ap for ap in aps]
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            reason = err["msg"]
            if err["type"] == "extra_forbidden":
                reason = "unknown key (check the spelling; see the scenario schema)"
            elif "input" in err and err["type"] not in ("missing",):
                reason = f"{reason} (got {err['input']!r})"
            problems.append((_error_path(err["loc"], inherited), reason))
        # a bad default fails once per AP that inherits it: report it once, where it was written
        problems = list(dict.fromkeys(problems))
        raise ScenarioError(source, problems) from None
    problems = semantic_problems(scenario)
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def _merged(base: dict, over: dict) -> dict:
    """``over`` laid on ``base``: mappings merge key by key, anything else (lists included) is replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read(name_or_path: str | Path, chain: tuple[str, ...] = ()) -> tuple[Any, str]:
    """The parsed mapping of a scenario file and its source, with ``extends: <packaged name>``
    resolved: the named scenario's mapping with this file's keys laid over it."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        d = _packaged_dir()
        candidate = d / f"{text_name}.yaml" if d else None
        if candidate is None or not candidate.is_file():
            names = ", ".join(packaged_scenarios()) or "none found"
            raise ScenarioError(text_name, [("", f"no such scenario file or packaged scenario (packaged: {names})")])
        path = candidate
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(str(path), [("", f"cannot read file: {e}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(str(path), [("", f"invalid YAML: {where}{getattr(e, 'problem', e)}")]) from None
    if isinstance(data, dict) and "extends" in data:
        base = data.pop("extends")
        if not isinstance(base, str) or Path(base).suffix or "/" in base:
            raise ScenarioError(str(path), [("extends", f"must name a packaged scenario, got {base!r}")])
        if base in chain:
            raise ScenarioError(str(path), [("extends", f"{base!r} extends itself ({' -> '.join((*chain, base))})")])
        try:
            base_data, _ = _read(base, (*chain, base))
        except ScenarioError as e:
            raise ScenarioError(str(path), [("extends", reason) for _, reason in e.problems]) from None
        data = _merged(base_data, data)
    return data, str(path)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario by packaged name (``"office"``, ``"office_peak"``) or by YAML path. A file
    may start from a packaged scenario with ``extends: NAME`` and change only what differs."""
    data, source = _read(name_or_path)
    return scenario_from_dict(data, source)
