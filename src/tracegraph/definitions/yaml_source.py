"""YAML text to plain values, keeping where each value was written.

PyYAML's ``compose`` gives the node tree with start marks; we build the values from it
ourselves so that every path (``("steps", 2, "depends_on")``) keeps the line and column
of its node, and so that what JSON could not hold is refused or kept as text:

- a key repeated in one mapping is an error (PyYAML would keep the last one silently);
- keys must be strings (JSON's rule: the definition is stored as a JSON event);
- YAML timestamps (``2026-11-20``) stay the text they were written as, since the event
  contract has no date type.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]

# Deeper than this is not a definition (and the event log refuses deep nesting anyway).
MAX_DEPTH = 64
# libyaml's parser when PyYAML was built with it: 15x faster (a 240 KB definition composed
# in 0.09 s instead of 1.3 s), with the same node marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Values built at most: YAML aliases can repeat a node exponentially ("billion laughs").
MAX_NODES = 50_000


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column of a node in the text."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class YamlProblem:
    message: str
    path: Path
    position: Position | None


@dataclass(slots=True)
class Loaded:
    """The document's value and the position of the node at every path in it."""

    value: Any = None
    positions: dict[Path, Position] = field(default_factory=dict)
    # Where each mapping key was written (an error about a missing field points at its
    # parent, one about a key at the key).
    key_positions: dict[Path, Position] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)
    built: int = 0

    def position_of(self, path: Path) -> Position | None:
        """The node at ``path``, else its nearest ancestor that was written."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return None


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def load(text: str) -> Loaded:
    """The single YAML document in ``text``; a syntax error is a problem at its line."""
    loaded = Loaded()
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(mark.line + 1, mark.column + 1) if mark is not None else None
        what = exc.problem or exc.context or "not valid YAML"
        loaded.problems.append(YamlProblem(f"YAML syntax: {what}", (), where))
        return loaded
    except yaml.YAMLError as exc:  # no position (e.g. a reader error on odd characters)
        loaded.problems.append(YamlProblem(f"YAML syntax: {exc}", (), None))
        return loaded
    if root is None:
        loaded.problems.append(YamlProblem("the definition is empty", (), Position(1, 1)))
        return loaded
    constructor = yaml.SafeLoader("")
    loaded.value = _build(root, (), loaded, constructor)
    return loaded


def _build(node: Node, path: Path, loaded: Loaded, constructor: yaml.SafeLoader) -> Any:
    loaded.positions[path] = _position(node)
    loaded.built += 1
    if loaded.built > MAX_NODES:
        if loaded.built == MAX_NODES + 1:
            loaded.problems.append(
                YamlProblem(f"more than {MAX_NODES} values (aliases?)", path, _position(node))
            )
        return None
    if len(path) > MAX_DEPTH:
        loaded.problems.append(
            YamlProblem(f"nested too deeply (more than {MAX_DEPTH} levels)", path, _position(node))
        )
        return None
    if isinstance(node, MappingNode):
        return _mapping(node, path, loaded, constructor)
    if isinstance(node, SequenceNode):
        return [_build(item, (*path, i), loaded, constructor) for i, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    value = constructor.construct_object(node)
    if isinstance(value, datetime.date | datetime.datetime):
        return node.value  # as written: the contract's timestamps are text
    return value


def _mapping(node: MappingNode, path: Path, loaded: Loaded, constructor: yaml.SafeLoader) -> Any:
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = constructor.construct_object(key_node) if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str):
            shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
            loaded.problems.append(
                YamlProblem(
                    f"keys must be text (got {shown!r}): quote it", path, _position(key_node)
                )
            )
            continue
        if key in out:
            first = loaded.key_positions[(*path, key)]
            loaded.problems.append(
                YamlProblem(
                    f"duplicate key {key!r} (also line {first.line})",
                    (*path, key),
                    _position(key_node),
                )
            )
            continue
        loaded.key_positions[(*path, key)] = _position(key_node)
        out[key] = _build(value_node, (*path, key), loaded, constructor)
    return out
