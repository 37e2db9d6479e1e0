"""Load and validate scenario files, by packaged name or by path."""

from __future__ import annotations

import importlib.resources
import os
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rrm_gym.config.schema import Scenario, semantic_problems

_SOURCE_TREE_SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"

# Limits on a YAML file (docs/scenarios.md, "Limits"): its size, the nodes of its document once
# aliases are expanded (a "billion laughs" file is refused while it is read, not after), and how
# deeply it nests.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_YAML_NODES = 250_000
MAX_YAML_DEPTH = 50
_MAX_SOURCE_CHARS = 200  # a file name longer than this is shortened in messages

_SHORT = reprlib.Repr()  # values quoted in messages: bounded however large (or aliased) the input
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict = 2, 4, 4, 4
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 60, 60, 40


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to a few dozen characters without formatting the rest of it."""
    return _SHORT.repr(value)


def _shown(source: str) -> str:
    """A file name as messages show it: control characters escaped, a very long one shortened."""
    if len(source) > _MAX_SOURCE_CHARS:
        source = f"{source[: _MAX_SOURCE_CHARS - 40]}...({len(source)} characters)"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in source)


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``problems`` holds ``(field path, reason)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        shown = _shown(source)
        lines = [f"{shown}: {path}: {reason}" if path else f"{shown}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))


class YAMLLimitError(ValueError):
    """A YAML text that cannot be used: too large, too deep, a duplicate key; the message says where."""


def read_limited(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``. A directory, device, pipe or socket
    is refused without being read (``OSError`` or ``YAMLLimitError``)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, pipe or socket)"
            raise YAMLLimitError(f"{kind}: give a YAML file")
        if st.st_size > max_bytes:
            raise YAMLLimitError(f"file of {st.st_size} bytes is over the limit of {max_bytes} bytes")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise YAMLLimitError(f"file is over the limit of {max_bytes} bytes")
    return data


class _Open:
    """A collection node being composed: its node, expanded size, and (mappings) the pending key."""

    __slots__ = ("anchor", "key", "keys", "node", "size")

    def __init__(self, node: yaml.Node, anchor: str | None) -> None:
        self.node, self.anchor, self.size = node, anchor, 1
        self.key: yaml.Node | None = None
        self.keys: dict[tuple[str, str], int] = {}


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown place"


def parse_yaml(text: str | bytes, max_nodes: int = MAX_YAML_NODES, max_depth: int = MAX_YAML_DEPTH) -> Any:
    """One YAML document, loaded as ``yaml.safe_load`` would, with limits: the document may hold
    at most ``max_nodes`` nodes counting each alias as the nodes it stands for, and nest at most
    ``max_depth`` deep; a mapping may not repeat a key; an alias may not refer to a node that
    contains it. Raises ``YAMLLimitError`` or ``yaml.YAMLError`` (never formatting the input)."""
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        return _compose_and_construct(loader, max_nodes, max_depth)
    finally:
        loader.dispose()


def _compose_and_construct(loader: Any, max_nodes: int, max_depth: int) -> Any:
    # The document is composed from parser events here, iteratively (no recursion), counting
    # nodes as aliases expand; PyYAML's constructor then builds the Python objects.
    anchors: dict[str, tuple[yaml.Node, int]] = {}
    stack: list[_Open] = []
    expanded = 0
    root: yaml.Node | None = None
    loader.get_event()  # StreamStartEvent
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()  # DocumentStartEvent

    def place(node: yaml.Node, size: int) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        top = stack[-1]
        top.size += size
        if isinstance(top.node, yaml.SequenceNode):
            top.node.value.append(node)
        elif top.key is None:
            top.key = node
            if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:merge":
                seen = top.keys.get((node.tag, node.value))
                if seen is not None:
                    raise YAMLLimitError(
                        f"duplicate key {short_repr(node.value)} at {_where(node.start_mark)} "
                        f"(first given at line {seen}): give each key once"
                    )
                top.keys[(node.tag, node.value)] = node.start_mark.line + 1
        else:
            top.node.value.append((top.key, node))
            top.key = None

    while not loader.check_event(yaml.DocumentEndEvent):
        event = loader.get_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                open_anchors = {frame.anchor for frame in stack}
                why = "refers to a node that contains it" if event.anchor in open_anchors else "is not defined"
                raise YAMLLimitError(f"alias *{short_repr(event.anchor)} at {_where(event.start_mark)} {why}")
            node, size = anchors[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
            size = 1
            if event.anchor is not None:
                anchors[event.anchor] = (node, 1)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            seq = isinstance(event, yaml.SequenceStartEvent)
            kind = yaml.SequenceNode if seq else yaml.MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, event.implicit)
            if len(stack) >= max_depth:
                raise YAMLLimitError(f"nested more than {max_depth} deep at {_where(event.start_mark)}")
            expanded += 1
            if expanded > max_nodes:
                raise YAMLLimitError(f"more than {max_nodes} nodes (aliases expanded) at {_where(event.start_mark)}")
            anchors.pop(event.anchor, None)  # a redefined anchor is not usable inside its new node
            stack.append(_Open(kind(tag, [], event.start_mark, None, flow_style=event.flow_style), event.anchor))
            continue
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            frame = stack.pop()
            node, size = frame.node, frame.size
            node.end_mark = event.end_mark
            if frame.anchor is not None:
                anchors[frame.anchor] = (node, size)
            place(node, size)
            continue
        else:  # pragma: no cover - the parser emits nothing else inside a document
            raise YAMLLimitError(f"unexpected {type(event).__name__} at {_where(event.start_mark)}")
        expanded += size
        if expanded > max_nodes:
            raise YAMLLimitError(
                f"more than {max_nodes} nodes (aliases expanded) at {_where(event.start_mark)}: "
                "the document is too large"
            )
        place(node, size)
    loader.get_event()  # DocumentEndEvent
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.get_event()
        raise YAMLLimitError(f"a second document at {_where(event.start_mark)}: give one document per file")
    return loader.construct_document(root)


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
                reason = f"{reason} (got {short_repr(err['input'])})"
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
    try:
        exists = path.exists()
    except (OSError, ValueError) as e:  # a name too long for the file system, a NUL byte
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ScenarioError(
            text_name, [("", f"not a usable file name ({len(text_name)} characters): {reason}")]
        ) from None
    if not (path.suffix in (".yaml", ".yml") or exists):
        d = _packaged_dir()
        candidate = d / f"{text_name}.yaml" if d else None
        if candidate is None or not candidate.is_file():
            names = ", ".join(packaged_scenarios()) or "none found"
            raise ScenarioError(text_name, [("", f"no such scenario file or packaged scenario (packaged: {names})")])
        path = candidate
    try:
        raw = read_limited(path)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(str(path), [("", f"not UTF-8 text (byte {e.start}): is it a scenario file?")]) from None
    except (OSError, ValueError) as e:
        if isinstance(e, YAMLLimitError):
            raise ScenarioError(str(path), [("", f"cannot read file: {e}")]) from None
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ScenarioError(str(path), [("", f"cannot read file: {reason}")]) from None
    try:
        data = parse_yaml(text)
    except YAMLLimitError as e:
        raise ScenarioError(str(path), [("", f"invalid YAML: {e}")]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(str(path), [("", f"invalid YAML: {where}{getattr(e, 'problem', None) or e}")]) from None
    except (ValueError, OverflowError) as e:  # a scalar the constructor cannot convert (a 5,000-digit int)
        raise ScenarioError(str(path), [("", f"invalid YAML: a value cannot be read ({short_repr(str(e))})")]) from None
    if isinstance(data, dict) and "extends" in data:
        base = data.pop("extends")
        if not isinstance(base, str) or Path(base).suffix or "/" in base:
            raise ScenarioError(str(path), [("extends", f"must name a packaged scenario, got {short_repr(base)}")])
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
