"""`netpipe validate` and `render` start without what only the change commands need.

Start-up is judged by the import graph, never by a clock: a fresh interpreter runs the
command, then lists the modules it loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

CHANGE_ONLY = {"napalm", "nornir", "nornir_napalm", "netmiko", "paramiko", "cryptography",
               "napalm_frr", "hier_config", "rich", "pipeline.change", "pipeline.verify",
               "pipeline.lab", "pipeline.cli_change", "pipeline.cli_deploy",
               "pipeline.cli_preview", "pipeline.cli_lab"}
"""Device access, the IOS remediation, the state store, the lab and their libraries."""
PARSE_ONLY = CHANGE_ONLY | {"netutils"}
"""Building the parser needs none of them either, nor the IOS interface names (netutils'
protocol tables: 59 ms), which only reading intent with IOS ports needs."""

PROGRAM = """
import json, sys
from pipeline import cli
cli.parser()
before = sorted(sys.modules)
code = cli.main(sys.argv[1:]) if sys.argv[1:] else 0
print(json.dumps({"parser": before, "after": sorted(sys.modules), "code": code}))
"""


def _loaded(*argv: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", PROGRAM, *argv], capture_output=True,
                          text=True, check=True, cwd=REPO)
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def _hits(modules: object, names: set[str]) -> list[str]:
    assert isinstance(modules, list)
    return sorted(m for m in modules
                  if any(m == n or m.startswith(n + ".") for n in names))


def test_building_the_parser_imports_no_command_s_libraries() -> None:
    loaded = _loaded()
    assert _hits(loaded["parser"], PARSE_ONLY) == []


@pytest.mark.parametrize("command", ["validate", "render"])
def test_validate_and_render_load_no_device_library(command: str, tmp_path: object) -> None:
    argv = [command, "--root", str(REPO)]
    if command == "render":
        argv += ["--out", f"{tmp_path}/out"]
    loaded = _loaded(*argv)
    assert loaded["code"] == 0
    assert _hits(loaded["after"], CHANGE_ONLY) == []


def test_a_change_command_still_finds_its_handler() -> None:
    """The handler table names modules by string: each one must import and exist."""
    import importlib

    from pipeline.cli import HANDLERS

    for command, handler in HANDLERS.items():
        if isinstance(handler, str):
            module, _, name = handler.partition(":")
            assert callable(getattr(importlib.import_module(module), name)), command


def test_reading_intent_with_ios_ports_imports_their_names_once_before_any_fork() -> None:
    """parse() imports netutils when the intent has IOS devices, so the rules' forked child
    and the design share that import instead of each making it (59 ms)."""
    code = ("import sys; from pipeline.intent.parse import parse; "
            f"intent, found = parse(__import__('pathlib').Path({str(REPO)!r})); "
            "print(intent is not None, 'netutils.interface' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=REPO)
    assert proc.stdout.split() == ["True", "True"]


STALE = """
import json, os, struct, sys
from importlib.util import cache_from_source
from pipeline import cli
code = cli.main(sys.argv[2:])
stale = []
for name, module in sorted(sys.modules.items()):
    origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
    if not origin.endswith(".py") or not origin.startswith((sys.prefix, sys.argv[1])):
        continue
    try:
        with open(cache_from_source(origin), "rb") as pyc:
            flags, mtime, size = struct.unpack("<4xIII", pyc.read(16))
    except OSError:
        stale.append(name)
        continue
    st = os.stat(origin)
    if flags == 0 and (mtime, size) != (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF):
        stale.append(name)
print(json.dumps({"code": code, "stale": stale}))
"""


def test_what_validate_imports_is_compiled_at_set_up() -> None:
    """Every module `netpipe validate` imports from the venv or this repository has current
    bytecode: uv installs without compiling, and where nothing may write a cache (a CI
    runner's PYTHONDONTWRITEBYTECODE, a read-only checkout) each run compiled them again
    (CLI start-up 0.42 s -> 0.23 s, a 5,002-device build 0.07 s). The run here writes
    none itself, so only what set-up made can pass."""
    proc = subprocess.run([sys.executable, "-c", STALE, str(REPO), "validate", "--root",
                           str(REPO)], capture_output=True, text=True, check=True, cwd=REPO,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0
    assert result["stale"] == []
