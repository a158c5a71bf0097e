"""The hostile-repository harness: one small mutation of the example network, one
netpipe command, and the same five demands of every case.

1. The exit code is the one the case names, 1 (findings) or 2 (usage/setup), never 5
   (a bug) and never 0.
2. The output holds a finding with the case's code naming the right file and line
   (the line is found by a needle in the mutated file, so cases do not hard-code
   numbers that drift when the example changes).
3. Nothing is written: every path under the test's folder (the network, the folder
   "outside" it, the would-be output) is as it was, and no ``build/`` appears.
4. No secret value and no content of a file netpipe must not read appears in stdout or
   stderr, and no output line is long enough to carry more than a short excerpt.
5. No device is contacted (the change stage's entry to Nornir and NAPALM is a trap).

The 10 s limit per case is pytest-timeout's (tests/hostile/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.conftest import copy_example

SECRETS = {
    "SNMP_RO_COMMUNITY": "snmpS3cretValue-7391",
    "TACACS_KEY": "tacacsS3cretValue-2284",
    "BGP_ISP_PASSWORD": "bgpS3cretValue-5510",
    "IOS_ENABLE_HASH": "$9$hostileEnable0$EnableHashValue0123456789abcdefghijklmnopqr",
    "IOS_BREAKGLASS_HASH": "$9$hostileBreak00$BreakGlassHashValue0123456789abcdefghijklmn",
    "NETPIPE_USERNAME": "netpipe-login-user-8812",
    "NETPIPE_PASSWORD": "loginS3cretValue-4471",
    "CI_JOB_TOKEN": "glcbt-CiJobT0kenValue-9930",
}
"""The environment every case runs in: production-like secrets a merge request must not reach."""
CANARY = "CANARY-outside-file-content-0b5e7c1d"
"""The content of a file outside the repository that a case tries to make netpipe read."""
LONG = "L0NGPAYL0AD-" * 20
"""A payload longer than any excerpt: at most a short piece of it may appear in output."""
MAX_LINE = 400


@dataclass
class Net:
    """The mutable copy of the example network, and a folder outside it."""

    root: Path
    outside: Path

    @property
    def canary(self) -> Path:
        return self.outside / "secret.txt"

    def path(self, rel: str) -> Path:
        return self.root / rel

    def text(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def replace(self, rel: str, old: str, new: str) -> None:
        text = self.text(rel)
        assert text.count(old) == 1, f"{rel}: {old!r} found {text.count(old)} times, want 1"
        self.path(rel).write_text(text.replace(old, new), encoding="utf-8")

    def append(self, rel: str, text: str) -> None:
        with self.path(rel).open("a", encoding="utf-8") as fh:
            fh.write(text)

    def write(self, rel: str, text: str | bytes) -> None:
        path = self.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")

    def symlink(self, rel: str, target: str | Path) -> None:
        path = self.path(rel)
        if path.is_dir() and not path.is_symlink():
            import shutil

            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(target)

    def fifo(self, rel: str) -> None:
        path = self.path(rel)
        path.unlink()
        os.mkfifo(path)


Mutation = Callable[[Net], None]


@dataclass(frozen=True)
class Case:
    id: str
    what: str
    """What the attacker tries, in one line."""
    mutate: Mutation
    code: str | None
    """The finding code that must be reported; None for a usage error without a finding."""
    file: str
    """The file the finding names (for a usage error: a text stderr must contain)."""
    needle: str | int | None = None
    """A text on the line the finding must name (or the line number itself); None: the
    file itself, no line."""
    argv: tuple[str, ...] = ("validate",)
    exit: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    leak: tuple[str, ...] = ()
    """Further strings that must not appear in any output (e.g. a bad secret's value)."""


def cases_ids(cases: list[Case]) -> list[str]:
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return ids


def _snapshot(base: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``base`` with its type, size and modification time (no symlink
    followed, no file opened: a FIFO in the tree must not block the snapshot)."""
    result: dict[str, tuple[int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            size = 0 if os.path.isdir(path) and not os.path.islink(path) else st.st_size
            result[os.path.relpath(path, base)] = (st.st_mode, size, st.st_mtime_ns)
    return result


def _line_of(net: Net, rel: str, needle: str) -> int:
    path = net.path(rel)
    with open(path, "rb") as fh:  # the mutated file may be a symlink or not UTF-8
        data = fh.read() if not path.is_fifo() else b""
    for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        if needle in line:
            return number
    raise AssertionError(f"needle {needle!r} is not in {rel}")


@dataclass
class Outcome:
    exit: int
    out: str
    err: str
    contacted: list[str]


def run(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Outcome:
    net = Net(copy_example(tmp_path / "net"), tmp_path / "outside")
    net.outside.mkdir()
    net.canary.write_text(CANARY + "\n" + "\n".join(f"{k}={v}" for k, v in SECRETS.items()))
    for name, value in {**SECRETS, **case.env}.items():
        monkeypatch.setenv(name, value)
    contacted = _trap_devices(monkeypatch)
    monkeypatch.chdir(net.root)
    case.mutate(net)
    line = _line_of(net, case.file, case.needle) if isinstance(case.needle, str) else case.needle
    before = _snapshot(tmp_path)
    argv = [a.format(root=net.root, outside=net.outside) for a in case.argv]
    capsys.readouterr()
    code = main([*argv, "--root", str(net.root)])
    out, err = capsys.readouterr()
    outcome = Outcome(code, out, err, contacted)
    _check(case, net, line, outcome, before, _snapshot(tmp_path))
    return outcome


def _trap_devices(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any attempt to reach a device is recorded and refused."""
    import napalm

    from pipeline import cli_change

    contacted: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        contacted.append(repr(args)[:80])
        raise AssertionError("a hostile case reached the device stage")

    monkeypatch.setattr(cli_change, "nornir_for", refuse)
    monkeypatch.setattr(napalm, "get_network_driver", refuse)
    return contacted


def _outputs(outcome: Outcome) -> Iterator[tuple[str, str]]:
    yield "stdout", outcome.out
    yield "stderr", outcome.err


def _check(case: Case, net: Net, line: int | None, outcome: Outcome,
           before: dict[str, tuple[int, int, int]],
           after: dict[str, tuple[int, int, int]]) -> None:
    shown = f"exit {outcome.exit}\n--- stdout\n{outcome.out}\n--- stderr\n{outcome.err}"
    assert outcome.exit != 5, f"netpipe reported a bug:\n{shown}"
    assert outcome.exit == case.exit, f"want exit {case.exit}:\n{shown}"
    both = outcome.out + outcome.err
    if case.code is None:
        assert case.file in outcome.err, f"stderr should name {case.file}:\n{shown}"
    else:
        where = f"{case.file}:{line}:" if line is not None else f"{case.file}: "
        hits = [ln for ln in both.splitlines() if ln.startswith(where) and f" {case.code} " in ln]
        assert hits, f"want a {case.code} finding at {where}\n{shown}"
    assert not outcome.contacted, f"a device was contacted: {outcome.contacted}"
    assert before == after, f"something was written: {_diff(before, after)}"
    build = net.root / "build"
    assert str(build.relative_to(net.root.parent)) in before or not build.exists()
    for name, text in _outputs(outcome):
        for secret in (*SECRETS.values(), *case.env.values(), *case.leak):
            if len(secret) >= 6:
                assert secret not in text, f"{name} holds a secret value:\n{shown}"
        assert CANARY not in text, f"{name} holds the content of a file outside the repo"
        assert LONG[:48] not in text, f"{name} quotes more than a short excerpt:\n{shown}"
        long_lines = [ln for ln in text.splitlines() if len(ln) > MAX_LINE]
        assert not long_lines, f"{name} has a line over {MAX_LINE} characters:\n{shown}"


def _diff(before: dict[str, tuple[int, int, int]],
          after: dict[str, tuple[int, int, int]]) -> str:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return f"added {added[:5]}, removed {removed[:5]}, changed {changed[:5]}"
