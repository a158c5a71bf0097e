"""Safe YAML loading that remembers where every value came from.

PyYAML only parses (events); composing the node graph and constructing values is
ours, so that we (a) keep file/line/column for every mapping key and list item,
(b) refuse duplicate keys, which PyYAML silently overwrites, (c) bound everything a
hostile file can blow up: nesting depth, alias and merge expansion, key size, number
size, (d) read scalars with YAML 1.2 core semantics, refusing the forms YAML 1.1 reads
differently (``0322`` is octal 210 there, ``0xD2`` hex) and every tag but the core ones
(``!!python/...``, ``!!binary``), and (e) refuse control characters in any string, since
strings flow into device configs and a newline there is a config injection.

Scalar resolution lives here, not in a PyYAML resolver: the event stream is the same
whichever parser (pure Python or libyaml's) produces it. A clean file is composed by
libyaml in C (nodes with their marks; the builder below does the rest, with the common
keys and scalars inlined), as fast as libyaml's bare ``CSafeLoader`` on the 5,002-device
estate (0.52 s both) where composing from events was 1.55x;
a file that path refuses is read again from events, so every finding is the event path's.

Every mapping gets a ``__loc__`` entry holding a :class:`Source`, which the typed
model keeps so that semantic rules can point at the exact line of a field.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline import files
from pipeline.findings import Finding, Loc, clip, excerpt

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000  # values constructed per file, alias and merge expansions included
MAX_DEPTH = 64       # nesting of mappings and lists, also once aliases are expanded
MAX_KEY_CHARS = 128
MAX_INT_DIGITS = 20  # ints beyond 64 bits mean nothing in intent (and int() of huge text is slow)
LOC_KEY = "__loc__"

PARSER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""Where events come from: libyaml's parser (six times faster than PyYAML's own) gives the
same events with the same marks (line and column in characters). A file it cannot parse
is parsed again by PyYAML's, so that every error finding (message, line, column) is the
one PyYAML's parser and this loader's limits give: libyaml reads ahead, and stops at its
own nesting limit (1,000) before the loader's (64) is reached."""
FALLBACK: type[Any] = yaml.SafeLoader
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
"""Control characters, line and paragraph separators, and invisible or bidi formatting
characters: a line break would add config lines; the invisible ones make a reviewer
read something other than what the device gets."""
_RAW_BREAKS = re.compile(r"[\x85\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
"""Characters refused anywhere in a file, comments included: YAML 1.1 counts the first
three as line breaks (so every later line number would be off), the rest are invisible."""
_TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")
_PLACEHOLDER = "<secret:"
_SUSPECT = re.compile(UNSAFE.pattern[:-1] + "{<]")
"""A character any of the three checks of a text starts with: most values have none, and
one search of a character class clears them (217,000 texts at 5,002 devices)."""

_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_CORE + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP, _MERGE = _CORE + "seq", _CORE + "map", _CORE + "merge"
_PLAIN = "?"     # an untagged plain scalar: resolved by the YAML 1.2 core schema
_TEXT = "!"      # an untagged quoted or block scalar, or the non-specific tag '!': a string

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
          "FALSE": False}
_NUMERIC = "0123456789+-."  # what a plain scalar that may be a number starts with
_WORDS = _NULLS | _BOOLS.keys() | {"<<"}
"""Plain scalars that are no name as a key: null, booleans, the merge key."""
_DECIMAL = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"),
                   ".nan": float("nan")}
# Forms YAML 1.1 (PyYAML, Ansible, most tools) and 1.2 read differently.
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+\Z")
_RADIX = re.compile(r"[-+]?0(?P<r>[xXoObB])(?P<digits>[0-9a-fA-F_]+)\Z")

PathKey = tuple[str | int, ...]
_new_loc = tuple.__new__
"""``Loc(...)`` without the Python frame of a named tuple's ``__new__``: the builder makes
one for every key and item (340,000 at 5,002 devices)."""


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
    def __init__(self, finding: Finding, *, missing: bool = False) -> None:
        super().__init__(str(finding))
        self.finding = finding
        self.missing = missing
        """The file does not exist (callers decide whether that is a finding)."""


# --------------------------------------------------------------------------- nodes

# Nodes are PyYAML's: libyaml's composer builds them in C (the fast path, below), and
# _compose builds the same from parser events (the path every refused file takes).
_Node = yaml.Node
_Scalar = yaml.ScalarNode
_Seq = yaml.SequenceNode
_Map = yaml.MappingNode


def _line_col(where: Any) -> tuple[int, int]:
    mark = where.start_mark if isinstance(where, yaml.Node) else where
    return int(mark.line) + 1, int(mark.column) + 1


def _fail(file: str, where: _Node | Any, code: str, message: str, hint: str) -> LoadError:
    return LoadError(Finding.at(Loc(file, *_line_col(where)), code, message, hint))


def _scalar_tag(event: yaml.ScalarEvent) -> str:
    if event.tag is None:
        return _PLAIN if event.implicit[0] and not event.style else _TEXT
    return str(event.tag)


def _compose(file: str, events: Iterable[yaml.Event]) -> _Node | None:
    """The node graph of the one document in ``events``; nesting bounded while composing."""
    root: _Node | None = None
    documents = 0
    anchors: dict[str, _Node] = {}
    stack: list[list[Any]] = []  # [collection node, key waiting for its value]

    def attach(node: _Node) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent = stack[-1]
        if isinstance(parent[0], _Seq):
            parent[0].value.append(node)
        elif parent[1] is None:
            parent[1] = node
        else:
            parent[0].value.append((parent[1], node))
            parent[1] = None

    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _fail(file, event.start_mark, "NP001", "more than one YAML document in "
                            "the file", "remove the '---' separator: one document per file")
            continue
        if isinstance(event, yaml.AliasEvent):
            target = anchors.get(str(event.anchor))
            if target is None:
                raise _fail(file, event.start_mark, "NP001",
                            f"unknown alias *{excerpt(event.anchor)}",
                            "define the anchor (&name) before using it")
            parent = stack[-1] if stack else None
            if parent is not None and isinstance(parent[0], _Map) and parent[1] is None \
                    and not isinstance(target, _Scalar):
                raise _fail(file, event.start_mark, "NP011", "a mapping key must be a plain "
                            "name, not an alias of a list or mapping", "write the key itself")
            attach(target)
            continue
        node: _Node
        mark: Any = event.start_mark  # libyaml's Mark, not the stubs' pure-Python one
        if isinstance(event, yaml.ScalarEvent):
            node = _Scalar(_scalar_tag(event), str(event.value), mark)
        elif isinstance(event, yaml.SequenceStartEvent):
            node = _Seq(str(event.tag) if event.tag not in (None, "!") else _SEQ, [], mark)
        elif isinstance(event, yaml.MappingStartEvent):
            node = _Map(str(event.tag) if event.tag not in (None, "!") else _MAP, [], mark)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            stack.pop()
            continue
        else:  # stream start/end, document end
            continue
        if event.anchor is not None:
            anchors[str(event.anchor)] = node
        attach(node)
        if isinstance(node, (_Seq, _Map)):
            stack.append([node, None])
            if len(stack) > MAX_DEPTH:
                raise _fail(file, node, "NP005", f"nested more than {MAX_DEPTH} levels deep",
                            "intent is a few levels deep: flatten the structure")
    return root


_NON_SPECIFIC = re.compile(r"(?:^|[\s\[\]{},:?-])!")
"""A '!' where a tag can start. libyaml reports '! 3' as plain and implicit, so its composer
would resolve it as the number 3 where YAML (and the event path) reads text: a file with
one goes the event path."""


class _CComposer(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's composer, with tags left for the builder: an untagged plain scalar is
    ``_PLAIN``, any other untagged one ``_TEXT`` (YAML 1.2 resolution is the builder's)."""

    # PyYAML's path resolvers (unused: no path resolver is ever added) cost two Python
    # calls per node; these builtins take the same arguments and do nothing.
    descend_resolver = staticmethod(operator.is_)
    ascend_resolver = staticmethod(tuple)

    def resolve(self, kind: type[_Node], value: str | None, implicit: Any) -> str:
        if kind is _Scalar:
            return _PLAIN if implicit[0] else _TEXT
        return _SEQ if kind is _Seq else _MAP


def _compose_in_c(text: str) -> _Node | None:
    """The node graph composed by libyaml (nodes with their marks, anchors shared)."""
    composer = _CComposer(text)
    try:
        node: _Node | None = composer.get_single_node()
        return node
    finally:
        composer.dispose()


# --------------------------------------------------------------------------- values


class _Builder:
    """Turns a composed node graph into plain values plus a path -> Loc table."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[PathKey, Loc] = {}
        self.count = 0
        self.merged: dict[int, list[tuple[str, _Node, _Node]]] = {}
        """Pairs of each mapping already used as a merge source: merging it again costs
        nothing, so merge keys that fan out (each level merging the one below twice) stay
        linear instead of doubling per level."""

    def loc(self, node: _Node) -> Loc:
        mark = node.start_mark
        return _new_loc(Loc, (self.file, mark.line + 1, mark.column + 1))

    def fail(self, node: _Node, code: str, message: str, hint: str) -> LoadError:
        return _fail(self.file, node, code, message, hint)

    def spend(self, node: _Node, what: str) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node, "NP005", f"document expands to more than {MAX_NODES} values ({what})",
                "remove the anchor/alias chain; intent files should be explicit",
            )

    def build(self, node: _Node, path: PathKey, stack: tuple[int, ...]) -> Any:
        self.spend(node, "alias/anchor expansion")
        if id(node) in stack:
            raise self.fail(node, "NP005", "recursive structure: an alias inside its own anchor",
                            "remove the self-referencing alias")
        if len(stack) >= MAX_DEPTH:
            raise self.fail(node, "NP005", f"nested more than {MAX_DEPTH} levels deep once "
                            "aliases are expanded", "flatten the structure")
        if path not in self.marks:  # a mapping's values are marked there already
            self.marks[path] = self.loc(node)
        if isinstance(node, _Map):
            return self.mapping(node, path, (*stack, id(node)))
        if isinstance(node, _Seq):
            if node.tag != _SEQ:
                raise self.tag_error(node)
            inner = (*stack, id(node))
            return [self.build(item, (*path, i), inner) for i, item in enumerate(node.value)]
        assert isinstance(node, _Scalar)
        value = self.scalar(node)
        if isinstance(value, str):
            self.check_text(node, value)
        return value

    def tag_error(self, node: _Node) -> LoadError:
        tag = node.tag.replace(_CORE, "!!")
        return self.fail(node, "NP007", f"YAML tag {excerpt(tag)} is not allowed",
                         "intent is plain YAML: remove the tag (only !!str, !!int, !!float, "
                         "!!bool, !!null, !!seq and !!map are read)")

    # -- scalars: YAML 1.2 core, with the forms 1.1 reads differently refused

    def scalar(self, node: _Scalar) -> Any:
        text, tag = node.value, node.tag
        if tag in (_TEXT, _STR):
            return text
        if tag == _PLAIN:
            if text in _NULLS:
                return None
            if text in _BOOLS:
                return _BOOLS[text]
            if text[:1] in _NUMERIC:
                number = self.number(node, text)
                if number is not None:
                    return number
            return text
        if tag == _NULL and text in _NULLS:
            return None
        if tag == _BOOL and text in _BOOLS:
            return _BOOLS[text]
        if tag in (_INT, _FLOAT):
            number = self.number(node, text)
            if isinstance(number, int) or (tag == _FLOAT and isinstance(number, float)):
                return number if tag == _INT else float(number)
        if tag in (_NULL, _BOOL, _INT, _FLOAT):
            raise self.fail(node, "NP008", f"{excerpt(text)} is not a valid "
                            f"{tag.replace(_CORE, '!!')}", "remove the tag or fix the value")
        raise self.tag_error(node)

    def number(self, node: _Scalar, text: str) -> int | float | None:
        """The number a plain scalar means, None if it is text; refuses ambiguous forms."""
        if _LEADING_ZERO.match(text):
            digits = text.lstrip("+-").replace("_", "")
            sign = "-" if text.startswith("-") else ""
            as_octal = f" as octal ({sign}{int(digits, 8)})" if set(digits) <= set("01234567") \
                else ""
            raise self.fail(node, "NP008", f"{excerpt(text)} has a leading zero: YAML 1.1 "
                            f"tools read it{as_octal}, YAML 1.2 as {sign}{int(digits, 10)}",
                            f"write {sign}{int(digits, 10)} (or quote it if it is text)")
        radix = _RADIX.match(text)
        if radix:
            base = {"x": 16, "o": 8, "b": 2}[radix["r"].lower()]
            try:
                value = f"{int(radix['digits'].replace('_', ''), base)}"
            except ValueError:
                value = ""
            hint = f"write {value} in decimal" if value and len(value) <= MAX_INT_DIGITS \
                else "write the number in decimal"
            raise self.fail(node, "NP008", f"{excerpt(text)} is not a decimal number "
                            "(YAML 1.1 and 1.2 disagree on these forms)",
                            hint + " (or quote it if it is text)")
        if _DECIMAL.match(text):
            if len(text.lstrip("+-")) > MAX_INT_DIGITS:
                raise self.fail(node, "NP008", f"number {excerpt(text, 12)} has more than "
                                f"{MAX_INT_DIGITS} digits", "no value in intent is that large")
            return int(text)
        if _FLOAT_RE.match(text):
            if len(text) > 64:
                raise self.fail(node, "NP008", f"number {excerpt(text, 12)} is too long",
                                "no value in intent is that long")
            return float(text)
        if text.lower() in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[text.lower()]
        return None

    def check_text(self, node: _Node, value: str) -> None:
        if not _SUSPECT.search(value):
            return
        bad = UNSAFE.search(value)
        if bad:
            raise self.fail(
                node, "NP006",
                f"string contains a control character {bad.group()!r}: {excerpt(value)}",
                "strings end up in device configs; keep them on one line without "
                "control characters",
            )
        if _TEMPLATE_SYNTAX.search(value):
            raise self.fail(
                node, "NP009", f"template syntax in a value: {excerpt(value)}",
                "intent is data, never a template: remove '{{', '{%' and '{#'",
            )
        if _PLACEHOLDER in value:
            raise self.fail(
                node, "NP031", f"a secret placeholder is written here: {excerpt(value)}",
                "secrets are filled in only where the model puts them: name a declared "
                "secret in a *_secret field (see docs/intent.md, secrets)",
            )

    # -- mappings

    def key_of(self, key_node: _Node) -> str:
        if not isinstance(key_node, _Scalar):
            raise self.fail(key_node, "NP011", "a mapping key must be a plain name, not a "
                            "list or mapping", "quote the key")
        if len(key_node.value) > MAX_KEY_CHARS:
            raise self.fail(key_node, "NP005", f"key {excerpt(key_node.value)} is longer than "
                            f"{MAX_KEY_CHARS} characters", "keys are names: keep them short")
        key = self.scalar(key_node)
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise self.fail(key_node, "NP011", f"mapping key {excerpt(key_node.value)} is not "
                            "a string", "quote the key")
        key = str(key)
        self.check_text(key_node, key)
        if key == LOC_KEY:
            raise self.fail(key_node, "NP010", f"key {LOC_KEY!r} is reserved", "rename the key")
        return key

    def is_merge(self, key_node: _Node) -> bool:
        return isinstance(key_node, _Scalar) and (
            key_node.tag == _MERGE or (key_node.tag == _PLAIN and key_node.value == "<<"))

    def pairs(self, node: _Map, merging: tuple[int, ...] = ()
              ) -> list[tuple[str, _Node, _Node]]:
        """(key, key node, value node) without duplicates; explicit keys first."""
        if node.tag != _MAP:
            raise self.tag_error(node)
        if id(node) in merging:
            raise self.fail(node, "NP005", "merge key '<<' refers to its own mapping",
                            "remove the self-referencing merge")
        if len(merging) >= MAX_DEPTH:
            raise self.fail(node, "NP005", f"merge keys nested more than {MAX_DEPTH} deep",
                            "merge fewer levels")
        merging = (*merging, id(node))
        explicit: list[tuple[str, _Node, _Node]] = []
        merged: list[tuple[str, _Node, _Node]] = []
        first_seen: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if type(key_node) is not _Scalar \
                    or not (key_node.tag == _TEXT or (key_node.tag == _PLAIN and key[:1]
                                                      not in _NUMERIC and key not in _WORDS)) \
                    or len(key) > MAX_KEY_CHARS or key == LOC_KEY or _SUSPECT.search(key):
                # Not plainly a name (nearly every key is one: key_of() inlined for them)
                if self.is_merge(key_node):
                    self.merge(key_node, value_node, merging, merged)
                    continue
                key = self.key_of(key_node)
            if key in first_seen:
                raise self.fail(
                    key_node, "NP002",
                    f"duplicate key {excerpt(key)} (first at line "
                    f"{first_seen[key].start_mark.line + 1})",
                    "YAML keeps only the last value silently; remove one of them",
                )
            first_seen[key] = key_node
            explicit.append((key, key_node, value_node))
        for item in merged:  # explicit keys win; among merged sources, the first one wins
            if item[0] not in first_seen:
                first_seen[item[0]] = item[1]
                explicit.append(item)
        return explicit

    def merge(self, key_node: _Node, value_node: _Node, merging: tuple[int, ...],
              merged: list[tuple[str, _Node, _Node]]) -> None:
        """The pairs a merge key ``<<`` brings in, added to ``merged``."""
        sources = value_node.value if isinstance(value_node, _Seq) else [value_node]
        for src in dict.fromkeys(sources):  # a source named twice adds nothing
            if not isinstance(src, _Map):
                raise self.fail(key_node, "NP001", "merge key '<<' needs a mapping",
                                "merge only mappings")
            if id(src) not in self.merged:  # checked like any mapping, once
                self.merged[id(src)] = self.pairs(src, merging)
            items = self.merged[id(src)]
            self.count += len(items)
            if self.count > MAX_NODES:
                raise self.fail(key_node, "NP005", f"document expands to more than "
                                f"{MAX_NODES} values (merge-key expansion)",
                                "merge fewer levels; intent files should be explicit")
            merged.extend(items)

    def mapping(self, node: _Map, path: PathKey, stack: tuple[int, ...]) -> Any:
        result: dict[str, Any] = {}
        keys: dict[str, Loc] = {}
        children: dict[str, Source] = {}
        file, marks = self.file, self.marks
        shallow = len(stack) < MAX_DEPTH
        for key, key_node, value_node in self.pairs(node):
            # Point at the value when it is on the key's line, else at the key: a block
            # below its key is best shown by the key's line.
            mark = value_node.start_mark
            if mark.line != key_node.start_mark.line:
                mark = key_node.start_mark
            inner = (*path, key)
            keys[key] = marks[inner] = _new_loc(Loc, (file, mark.line + 1, mark.column + 1))
            if type(value_node) is _Scalar and shallow:
                # build() for a scalar, inlined: six of ten values (a call less each)
                self.count += 1
                if self.count > MAX_NODES:
                    self.spend(value_node, "alias/anchor expansion")
                value = result[key] = self.scalar(value_node)
                if type(value) is str and _SUSPECT.search(value):
                    self.check_text(value_node, value)
                continue
            value = result[key] = self.build(value_node, inner, stack)
            if isinstance(value, dict):
                children[key] = value[LOC_KEY]
        mark = node.start_mark
        result[LOC_KEY] = Source(_new_loc(Loc, (file, mark.line + 1, mark.column + 1)), keys,
                                 children)
        return result


# --------------------------------------------------------------------------- entry points


def _char_loc(file: str, text: str, index: int) -> Loc:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return Loc(file, line, column)


def _decode(file: str, raw: bytes) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise LoadError(_too_large(file, len(raw)))
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


def _too_large(file: str, size: int) -> Finding:
    return Finding.at(
        Loc(file, 1, 1), "NP003", f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit",
        "split the file, or check that it is really intent and not generated data",
    )


def load_text(file: str, text: str) -> Document:
    """Load one YAML document from text; ``file`` is the name used in findings."""
    raw = _RAW_BREAKS.search(text)
    if raw:
        raise LoadError(Finding.at(
            _char_loc(file, text, raw.start()), "NP006",
            f"file contains the invisible character {raw.group()!r}",
            "remove it: intent files are plain text, and this character is a line break to "
            "some YAML readers or hides what a reviewer sees",
        ))
    if PARSER is not FALLBACK and not _NON_SPECIFIC.search(text):
        try:  # composed in C: most of the cost of a clean file gone
            return _document(file, _compose_in_c(text))
        except (yaml.YAMLError, LoadError):
            pass  # every refusal is made by the event path below, in its own words
    try:
        root = _compose(file, yaml.parse(text, Loader=PARSER))
    except yaml.YAMLError as exc:
        if PARSER is FALLBACK:
            raise _yaml_error(file, text, exc) from None
        root = _parse_again(file, text)
    return _document(file, root)


def _document(file: str, root: _Node | None) -> Document:
    if root is None:
        return Document(file, None, {(): Loc(file, 1, 1)})
    builder = _Builder(file)
    data = builder.build(root, (), ())
    return Document(file, data, builder.marks)


def _parse_again(file: str, text: str) -> _Node | None:
    """PyYAML's own parser on a file libyaml refused: its finding, or the loader's."""
    try:
        return _compose(file, yaml.parse(text, Loader=FALLBACK))
    except yaml.YAMLError as exc:
        raise _yaml_error(file, text, exc) from None


def _yaml_error(file: str, text: str, exc: yaml.YAMLError) -> LoadError:
    """The finding for a YAML error of PyYAML's parser on ``text``."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
        return LoadError(Finding.at(
            loc, "NP001", f"YAML syntax error: {clip(exc.problem or exc, 80)}",
            "check indentation and quoting around this line",
        ))
    if isinstance(exc, yaml.reader.ReaderError):
        return LoadError(Finding.at(
            _char_loc(file, text, exc.position), "NP006",
            f"file contains a control character {chr(exc.character)!r}"
            if isinstance(exc.character, int) else "file contains an unreadable character",
            "remove it: intent files are plain text",
        ))
    return LoadError(Finding.at(Loc(file, 1, 1), "NP001", "YAML error", "check the file"))


def read_file(root: Path, rel: str) -> Document:
    """Load ``root/rel``: a regular file inside ``root`` (see :mod:`pipeline.files`).

    Raises LoadError (NP013 missing or unreadable, NP014 refused, NP003 too large).
    """
    try:
        raw = files.read_bytes(root, rel, MAX_FILE_BYTES)
    except files.Refused as exc:
        if exc.size is not None:
            raise LoadError(_too_large(rel, exc.size)) from None
        code, hint = ("NP013", f"create {rel} (see the example network)") if exc.missing else (
            "NP014", "netpipe reads only regular files inside the repository, never through "
                     "a symbolic link: put the file itself here")
        raise LoadError(Finding.at(Loc(rel), code, f"{exc.rel} {exc.reason}", hint),
                        missing=exc.missing) from None
    return load_text(rel, _decode(rel, raw))


def load_file(path: Path, root: Path) -> Document:
    """Load ``path`` (inside ``root``); findings name it relative to ``root``."""
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = ""
    if not rel:
        raise LoadError(Finding.at(Loc(path.name), "NP014", "file is outside the repository",
                                   "netpipe reads only files inside the repository"))
    return read_file(root, rel)


def strip_locs(data: Any) -> Any:
    """The same data without ``__loc__`` entries (for tests and debugging)."""
    if isinstance(data, dict):
        return {k: strip_locs(v) for k, v in data.items() if k != LOC_KEY}
    if isinstance(data, list):
        return [strip_locs(v) for v in data]
    return data
