"""nftables' own check, ``nft --check``, in a throw-away network namespace.

* One ruleset per run costs a process and a namespace (about 35 ms); several rulesets
  checked in one run cost about 7 ms each. A batch puts ``flush ruleset`` between them,
  so each is checked against an empty ruleset exactly as it would be alone. A ruleset
  with ``define``/``include`` is checked alone (definitions would outlive it), and a
  batch that fails is checked again file by file, so every finding is the one that
  file's own check gives.
* As root the namespace is a plain network namespace (``unshare -n``). Otherwise it is
  a user namespace too (``unshare -rn``), where nft cannot enlarge its netlink socket
  buffer (SO_SNDBUFFORCE is refused) and a ruleset of a few thousand set elements fails
  with "Message too long" although nft accepts it. Such a ruleset is checked in parts:
  its structure with the sets' one-line ``elements = { … }`` lists taken out, then each
  set's elements in chunks added to that structure. A ruleset that still does not fit
  is reported as not checked (a warning), never as an error.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline import system
from pipeline.findings import Finding, Loc, Severity, clip

AS_ROOT = os.geteuid() == 0
NETNS = ["-n"] if AS_ROOT else ["-rn"]
BATCH_BYTES = 96_000 if AS_ROOT else 24_000
"""Rulesets per run, by size: the kernel's check of one transaction grows faster than its
size (100 rulesets of 10 KB take longer together than apart), and a user namespace's
netlink buffer holds about 30 KB of ruleset text."""
BATCH_FILES = 16
PART_BYTES = 20_000
"""Set elements per part when a ruleset is checked in parts (text, with the structure)."""
TOO_LONG = "Message too long"
HINT = "fix the nftables template (nft --check)"
_OWN_SCOPE = re.compile(r"^\s*(?:define|redefine|undefine|include)\b", re.M)
_ELEMENTS = re.compile(r"^\s*elements = \{ (?P<items>[^{}]*) \}\s*$")
_TABLE = re.compile(r"^\s*table (?P<family>\w+) (?P<name>[\w.-]+) \{\s*$")
_SET = re.compile(r"^\s*set (?P<name>[\w.-]+) \{\s*$")


@dataclass(frozen=True)
class Tools:
    nft: str
    unshare: str


@dataclass(frozen=True)
class _Run:
    ok: bool
    stderr: str
    path: str

    def errors(self) -> list[tuple[int, int, str]]:
        """(line, column, message) of each error nft printed for the checked file."""
        return [(int(m[1]), int(m[2]), m[3].strip()) for m in re.finditer(
            rf"^{re.escape(self.path)}:(\d+):(\d+)(?:-\d+)?: Error: (.*)$", self.stderr, re.M)]


def _run(tools: Tools, text: str) -> _Run:
    with tempfile.NamedTemporaryFile("w", suffix=".nft", prefix="netpipe-") as tmp:
        tmp.write(text)
        tmp.flush()
        proc = system.run_checker([tools.unshare, *NETNS, tools.nft, "--check", "-f",
                                   tmp.name])
    return _Run(proc.returncode == 0, proc.stderr, tmp.name)


def _rejects(name: str, line: int, column: int, message: str) -> Finding:
    return Finding.at(Loc(name, line, column), "NP311",
                      f"nftables rejects this line: {clip(message, 160)}", HINT)


def check(tools: Tools, name: str, text: str) -> list[Finding]:
    """Findings for one ruleset named ``name`` (NP311 at the line nft names)."""
    run = _run(tools, text)
    if run.ok:
        return []
    if TOO_LONG in run.stderr and not AS_ROOT:
        return _in_parts(tools, name, text)
    return [_rejects(name, *error) for error in run.errors()] or [Finding.at(
        Loc(name), "NP311", f"nftables rejects the ruleset: {clip(run.stderr.strip(), 160)}",
        HINT)]


def batchable(text: str) -> bool:
    """Whether a ruleset can share a run: nothing in it outlives a ``flush ruleset``."""
    return not _OWN_SCOPE.search(text)


def batches(items: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Consecutive (name, text) rulesets grouped into runs of at most BATCH_BYTES."""
    result: list[list[tuple[str, str]]] = []
    size = 0
    for item in items:
        alone = not batchable(item[1])
        if alone or not result or size + len(item[1]) > BATCH_BYTES \
                or len(result[-1]) >= BATCH_FILES or not batchable(result[-1][-1][1]):
            result.append([item])
            size = len(item[1])
        else:
            result[-1].append(item)
            size += len(item[1])
    return result


def check_batch(tools: Tools, items: Sequence[tuple[str, str]]) -> list[list[Finding]]:
    """Findings per ruleset of one batch: one run when they all pass, else one each."""
    if len(items) > 1:
        joined = "".join(text + ("" if text.endswith("\n") else "\n") + "flush ruleset\n"
                         for _, text in items)
        if _run(tools, joined).ok:
            return [[] for _ in items]
    return [check(tools, name, text) for name, text in items]


# --------------------------------------------------------------------------- in parts


@dataclass(frozen=True)
class _Elements:
    line: int  # 1-based, in the ruleset
    family: str
    table: str
    set: str
    items: tuple[str, ...]


def _element_lines(lines: list[str]) -> list[_Elements]:
    """Every one-line ``elements = { … }`` of a named set in a named table."""
    found: list[_Elements] = []
    table: tuple[str, str] | None = None
    current: str | None = None
    for number, line in enumerate(lines, 1):
        if m := _TABLE.match(line):
            table, current = (m["family"], m["name"]), None
        elif m := _SET.match(line):
            current = m["name"]
        elif (m := _ELEMENTS.match(line)) and table is not None and current is not None:
            items = tuple(i.strip() for i in m["items"].split(",") if i.strip())
            found.append(_Elements(number, *table, current, items))
    return found


def _not_checked(name: str) -> list[Finding]:
    return [Finding.at(Loc(name), "NP390", f"{name} was not checked: the ruleset is too "
                       "large for nft inside a user namespace (netlink refuses it with "
                       f"'{TOO_LONG}') and cannot be checked in parts",
                       "run netpipe as root: its check needs no user namespace",
                       Severity.WARNING)]


def _adding(s: _Elements) -> str:
    return f"add element {s.family} {s.table} {s.set} {{ "


def _column(original: str, s: _Elements, chunk: list[str], column: int) -> int:
    """The column in the ruleset's ``elements`` line of the element at ``column`` of the
    line that added ``chunk``."""
    at = len(_adding(s)) + 1
    for item in chunk:
        if column < at + len(item) + 2:
            end = len(item)
            found = original.find(item, original.find("{ "))
            while found > 0 and not (original[found - 1] == " "
                                     and original[found + end:found + end + 1] in (",", " ")):
                found = original.find(item, found + 1)
            return found + 1 if found > 0 else 1
        at += len(item) + 2
    return 1


def _in_parts(tools: Tools, name: str, text: str) -> list[Finding]:
    """The structure, then each set's elements in chunks, each a run of its own; errors
    point at the ruleset's own lines (a chunk's at its ``elements`` line)."""
    lines = text.split("\n")
    sets = _element_lines(lines)
    if not sets:
        return _not_checked(name)
    structure = list(lines)
    for s in sets:
        structure[s.line - 1] = ""
    base = "\n".join(structure) + "\n"
    runs: list[tuple[str, _Elements | None, list[str]]] = [(base, None, [])]
    for s in sets:
        chunk: list[str] = []
        for item in (*s.items, None):
            size = len(base) + sum(len(i) + 2 for i in chunk)
            if chunk and (item is None or size + len(item) > PART_BYTES):
                runs.append((base + f"{_adding(s)}{', '.join(chunk)} }}\n", s, chunk))
                chunk = []
            if item is not None:
                chunk.append(item)
    findings: list[Finding] = []
    for part, elements, chunk in runs:
        elements_line = elements.line if elements else None
        run = _run(tools, part)
        if run.ok:
            continue
        if TOO_LONG in run.stderr:
            return _not_checked(name)
        errors = run.errors()
        if not errors:
            return [Finding.at(Loc(name, elements_line or 0), "NP311", "nftables rejects the "
                               f"ruleset: {clip(run.stderr.strip(), 160)}", HINT)]
        for line, column, message in errors:
            if line > len(lines) and elements is not None:  # in the chunk: its own element
                line, column = elements.line, _column(lines[elements.line - 1],
                                                      elements, chunk, column)
            findings.append(_rejects(name, line, column, message))
    return sorted(set(findings), key=lambda f: (f.line, f.column, f.message))
