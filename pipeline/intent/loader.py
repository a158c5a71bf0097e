"""Safe YAML loading that remembers where every value came from.

PyYAML composes the node graph; we construct plain Python values from it ourselves
so that we can (a) keep file/line/column for every mapping key and list item,
(b) refuse duplicate keys, which PyYAML silently overwrites, (c) bound alias
expansion (billion-laughs), and (d) refuse control characters in any string, since
strings flow into device configs and a newline there is a config injection.

Every mapping gets a ``__loc__`` entry holding a :class:`Source`, which the typed
model keeps so that semantic rules can point at the exact line of a field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.findings import Finding, Loc

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000  # values constructed per file, alias expansions included
MAX_DEPTH = 64
LOC_KEY = "__loc__"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MERGE_TAG = "tag:yaml.org,2002:merge"

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Source:
    """Where a mapping starts, and where each of its keys' values start."""

    loc: Loc
    keys: Mapping[str, Loc] = field(default_factory=dict)
    children: Mapping[str, Source] = field(default_factory=dict)
    """The Source of each value that is itself a mapping (entries of name -> thing maps)."""

    def at(self, key: str | None = None) -> Loc:
        if key is None:
            return self.loc
        return self.keys.get(key, self.loc)

    def entry(self, key: str, name: str) -> Loc:
        """Where ``name`` is written inside the mapping under ``key``."""
        child = self.children.get(key)
        return child.at(name) if child is not None and name in child.keys else self.at(key)


@dataclass
class Document:
    """One loaded YAML file: plain data plus a position for every path in it."""

    file: str
    data: Any
    marks: dict[PathKey, Loc]

    def loc(self, path: PathKey) -> Loc:
        """Position of ``path``, or of its nearest ancestor that has one."""
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return self.marks.get((), Loc(self.file, 1, 1))


class LoadError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(str(finding))
        self.finding = finding


def _char_loc(file: str, text: str, index: int) -> Loc:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return Loc(file, line, column)


def _decode(file: str, raw: bytes) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise LoadError(Finding.at(
            Loc(file, 1, 1), "NP003",
            f"file is {len(raw)} bytes, over the {MAX_FILE_BYTES} byte limit",
            "split the file, or check that it is really intent and not generated data",
        ))
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM is harmless; positions count after it
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", "replace")
        loc = _char_loc(file, before, len(before))
        raise LoadError(Finding.at(
            loc, "NP004", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            "save the file as UTF-8",
        )) from None


class _Builder:
    """Turns a composed node graph into plain values plus a path -> Loc table."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[PathKey, Loc] = {}
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def loc(self, node: yaml.Node) -> Loc:
        return Loc(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node: yaml.Node, code: str, message: str, hint: str) -> LoadError:
        return LoadError(Finding.at(self.loc(node), code, message, hint))

    def build(self, node: yaml.Node, path: PathKey, stack: tuple[int, ...]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node, "NP005",
                f"document expands to more than {MAX_NODES} values (alias/anchor expansion)",
                "remove the anchor/alias chain; intent files should be explicit",
            )
        if id(node) in stack or len(stack) > MAX_DEPTH:
            raise self.fail(node, "NP005", "recursive or too deeply nested structure",
                            "remove the self-referencing alias")
        self.marks.setdefault(path, self.loc(node))
        stack = (*stack, id(node))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, stack)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), stack) for i, item in enumerate(node.value)]
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, str):
            self.check_text(node, value)
        return value

    def check_text(self, node: yaml.Node, value: str) -> None:
        bad = _CONTROL.search(value)
        if bad:
            raise self.fail(
                node, "NP006",
                f"string contains a control character {bad.group()!r}: "
                f"{value[:40]!r}",
                "strings end up in device configs; keep them on one line without "
                "control characters",
            )

    def key_of(self, key_node: yaml.Node) -> str:
        key = self.constructor.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise self.fail(key_node, "NP011", f"mapping key {key!r} is not a string",
                            "quote the key")
        key = str(key)
        self.check_text(key_node, key)
        if key == LOC_KEY:
            raise self.fail(key_node, "NP010", f"key {LOC_KEY!r} is reserved", "rename the key")
        return key

    def pairs(self, node: yaml.MappingNode) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) without duplicates; explicit keys first."""
        explicit: list[tuple[str, yaml.Node, yaml.Node]] = []
        merged: list[tuple[str, yaml.Node, yaml.Node]] = []
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) \
                    else [value_node]
                for src in sources:
                    if not isinstance(src, yaml.MappingNode):
                        raise self.fail(src, "NP001", "merge key '<<' needs a mapping",
                                        "merge only mappings")
                    merged.extend(self.pairs(src))  # checked like any mapping
                continue
            key = self.key_of(key_node)
            if key in first_seen:
                raise self.fail(
                    key_node, "NP002",
                    f"duplicate key {key!r} (first at line {first_seen[key].start_mark.line + 1})",
                    "YAML keeps only the last value silently; remove one of them",
                )
            first_seen[key] = key_node
            explicit.append((key, key_node, value_node))
        for item in merged:  # explicit keys win; among merged sources, the first one wins
            if item[0] not in first_seen:
                first_seen[item[0]] = item[1]
                explicit.append(item)
        return explicit

    def mapping(self, node: yaml.MappingNode, path: PathKey, stack: tuple[int, ...]) -> Any:
        result: dict[str, Any] = {}
        keys: dict[str, Loc] = {}
        children: dict[str, Source] = {}
        for key, key_node, value_node in self.pairs(node):
            # Point at the value when it is on the key's line, else at the key: a block
            # below its key is best shown by the key's line.
            same_line = value_node.start_mark.line == key_node.start_mark.line
            keys[key] = self.loc(value_node if same_line else key_node)
            self.marks[(*path, key)] = keys[key]
            result[key] = self.build(value_node, (*path, key), stack)
            if isinstance(result[key], dict):
                children[key] = result[key][LOC_KEY]
        result[LOC_KEY] = Source(self.loc(node), keys, children)
        return result


def load_text(file: str, text: str) -> Document:
    """Load one YAML document from text; ``file`` is the name used in findings."""
    builder = _Builder(file)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
        raise LoadError(Finding.at(
            loc, "NP001", f"YAML syntax error: {exc.problem or exc}",
            "check indentation and quoting around this line",
        )) from None
    except yaml.reader.ReaderError as exc:
        raise LoadError(Finding.at(
            _char_loc(file, text, exc.position), "NP006",
            f"file contains a control character {chr(exc.character)!r}"
            if isinstance(exc.character, int) else f"unreadable character: {exc.reason}",
            "remove it: intent files are plain text",
        )) from None
    except yaml.YAMLError as exc:
        raise LoadError(Finding.at(Loc(file, 1, 1), "NP001", f"YAML error: {exc}",
                                   "check the file")) from None
    if len(nodes) > 1:
        starts: list[Any] = [e.start_mark for e in yaml.parse(text, Loader=yaml.SafeLoader)
                             if isinstance(e, yaml.DocumentStartEvent)]
        mark = starts[1] if len(starts) > 1 else nodes[1].start_mark
        raise LoadError(Finding.at(
            Loc(file, int(mark.line) + 1, int(mark.column) + 1), "NP001",
            "more than one YAML document in the file",
            "remove the '---' separator: one document per file",
        ))
    if not nodes or nodes[0] is None:
        return Document(file, None, {(): Loc(file, 1, 1)})
    data = builder.build(nodes[0], (), ())
    return Document(file, data, builder.marks)


def load_file(path: Path, root: Path) -> Document:
    """Load ``path``; findings name it relative to ``root``."""
    try:
        name = path.relative_to(root).as_posix()
    except ValueError:
        name = path.as_posix()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(Finding.at(Loc(name), "NP013", f"cannot read file: {exc.strerror}",
                                   "check the path and permissions")) from None
    return load_text(name, _decode(name, raw))


def strip_locs(data: Any) -> Any:
    """The same data without ``__loc__`` entries (for tests and debugging)."""
    if isinstance(data, dict):
        return {k: strip_locs(v) for k, v in data.items() if k != LOC_KEY}
    if isinstance(data, list):
        return [strip_locs(v) for v in data]
    return data
