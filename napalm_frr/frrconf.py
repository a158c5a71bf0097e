"""Pure text helpers for FRR configurations (no device access).

Lines handled deliberately (measured on FRR 8.4 with a private ``--vty_socket`` directory):

* ``hostname``: the daemons never take ``hostname X`` from vtysh; ``show running-config`` always
  reports the host's own name (in a lab, every namespace shares the machine's). So the driver
  never pushes it: the candidate's hostname line is replaced by the running one before
  ``frr-reload.py`` sees it, and it is left out of the readable diff.
* ``frr version`` / ``frr defaults``: fixed by the installed FRR and the daemons' ``-F`` profile,
  not configurable at run time; dropped from the candidate and from the diff.
* ``ip forwarding`` / ``ipv6 forwarding``: the default, never shown by ``show running-config``;
  a positive line in the candidate would be a change forever, so it is dropped. ``no ip
  forwarding`` is real state and kept (a candidate without it turns forwarding on).
* ``service integrated-vtysh-config``: belongs to ``vtysh.conf``; frr-reload never removes it;
  left out of the readable diff only.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_VTYSH_HEADER = ("Building configuration...", "Current configuration:")
_DROP_FROM_CANDIDATE = re.compile(
    r"^(frr version\b|frr defaults\b|hostname\b|ip forwarding\s*$|ipv6 forwarding\s*$)"
)
_DROP_FROM_DIFF = re.compile(
    r"^(frr version\b|frr defaults\b|hostname\b|ip forwarding\s*$|ipv6 forwarding\s*$"
    r"|service integrated-vtysh-config\s*$)"
)
_DIGITS = re.compile(r"(\d+)")

# Secrets in FRR configs, masked by get_config(sanitized=True).
SANITIZE_FILTERS: dict[str, str] = {
    r"^(\s*neighbor \S+ password) .+$": r"\1 <removed>",
    r"^(\s*ip ospf authentication-key) .+$": r"\1 <removed>",
    r"^(\s*ip ospf message-digest-key \d+ md5) .+$": r"\1 <removed>",
    r"^(\s*ipv6 ospf6 authentication key-id \d+ hash-algo \S+ key) .+$": r"\1 <removed>",
    r"^(\s*key-string) .+$": r"\1 <removed>",
    r"^(\s*(?:enable )?password) .+$": r"\1 <removed>",
    r"^(\s*isis password (?:clear|md5)) .+$": r"\1 <removed>",
}


def clean_running(text: str) -> str:
    """``show running-config`` output as a loadable file (vtysh's banner lines removed)."""
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line not in _VTYSH_HEADER]
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines) + "\n" if lines else ""


def hostname_of(text: str) -> str | None:
    """The ``hostname`` a config declares, if any."""
    for line in text.splitlines():
        match = re.match(r"^hostname\s+(\S+)\s*$", line)
        if match:
            return match.group(1)
    return None


def prepare_candidate(candidate: str, running_hostname: str | None) -> str:
    """The candidate as fed to ``vtysh -C`` and ``frr-reload.py`` (see module docstring)."""
    lines = [line.rstrip() for line in candidate.splitlines()]
    kept = [line for line in lines if not _DROP_FROM_CANDIDATE.match(line)]
    head = [f"hostname {running_hostname}"] if running_hostname else []
    body = head + kept
    if not any(line.strip() and not line.startswith("!") for line in body):
        body = ["!", *body]  # frr-reload.py refuses an empty file; "!" keeps it non-empty
    return "\n".join(body).rstrip("\n") + "\n"


def merge_candidate(running: str, fragment: str) -> str:
    """Running config followed by a merge fragment; frr-reload merges repeated contexts.

    Merge is additive only: ``no ...`` lines cannot be expressed as a target state.
    """
    negations = [line.strip() for line in fragment.splitlines() if line.strip().startswith("no ")]
    if negations:
        raise ValueError(f"merge candidates must be additive; use a replace for {negations[0]!r}")
    return clean_running(running).rstrip("\n") + "\n!\n" + fragment.rstrip("\n") + "\n"


def reload_changes(test_output: str) -> list[str]:
    """Change lines from ``frr-reload.py --test``, ``-``/``+`` prefixed (empty: in sync)."""
    changes = []
    sign = "?"
    for line in test_output.splitlines():
        stripped = line.strip()
        if stripped == "Lines To Delete":
            sign = "-"
        elif stripped == "Lines To Add":
            sign = "+"
        elif stripped and set(stripped) != {"="}:
            changes.append(sign + line.rstrip())
    return changes


def _natural(text: str) -> list[object]:
    return [int(tok) if tok.isdigit() else tok for tok in _DIGITS.split(text)]


_STRUCTURAL = {"exit", "exit-address-family", "exit-vrf", "exit-vnc", "end", "quit"}
_Node = tuple[str, list["_Node"]]


def config_tree(text: str) -> list[_Node]:
    """Config lines as a tree by indentation; comments, exits and never-converging lines removed."""
    roots: list[_Node] = []
    stack: list[tuple[int, list[_Node]]] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!") or line in _VTYSH_HEADER:
            continue
        if stripped in _STRUCTURAL:
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0 and _DROP_FROM_DIFF.match(line):
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        node: _Node = (line, [])
        (stack[-1][1] if stack else roots).append(node)
        stack.append((indent, node[1]))
    return roots


def readable_lines(text: str) -> list[str]:
    """Config lines with blocks and their children in canonical (natural) order.

    FRR prints a block's lines in its own order, not the candidate's; sorting both sides makes
    the readable diff show content changes only. (Order-sensitive FRR lists carry ``seq``.)
    """

    def emit(nodes: list[_Node]) -> list[str]:
        out: list[str] = []
        for line, children in sorted(nodes, key=lambda node: _natural(node[0].strip())):
            out.append(line)
            out.extend(emit(children))
        return out

    return emit(config_tree(text))


def unified(running: Iterable[str], candidate: Iterable[str], target: str) -> str:
    """A unified diff ``running/<target>`` -> ``candidate/<target>`` (empty if equal)."""
    lines = difflib.unified_diff(
        list(running),
        list(candidate),
        fromfile=f"running/{target}",
        tofile=f"candidate/{target}",
        lineterm="",
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""


def readable_diff(running: str, candidate: str, changes: list[str], target: str) -> str:
    """Readable diff for a change frr-reload reported; its own list if the texts look equal."""
    diff = unified(readable_lines(running), readable_lines(candidate), target)
    if diff or not changes:
        return diff
    body = "\n".join(changes)
    return f"--- running/{target}\n+++ candidate/{target}\n{body}\n"
