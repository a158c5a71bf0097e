"""Property tests (Hypothesis): whatever a file holds, the loader and the model answer
with data or findings, never with an exception.

* arbitrary text, and text built from YAML's own punctuation, to the loader;
* arbitrary data written out by PyYAML: read back equal, or refused with a finding;
* arbitrary values put at any place of the example network's intent and inventory:
  the offline pipeline returns findings (and no configs) or a clean build.

In CI the examples are derived from the test names (reproducible runs); elsewhere they
are random, so every local run explores new inputs.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.build import build
from pipeline.intent import loader
from pipeline.intent.loader import LoadError, load_text, strip_locs
from tests.conftest import REPO

PROFILE = settings(deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])

YAML_BITS = ["a", "b:", ": ", " ", "  ", "\n", "- ", "[", "]", "{", "}", ",", "&x ", "*x",
             "<<: ", "! ", "!!int ", "!!str ", "!!binary ", "!!python/name:os.system ", "!x ",
             "0322", "0xD2", "1:40", "210.0", "yes", "~", "'", '"', "\\n", "# c", "? ",
             "|\n", ">-\n", "\t", "---\n", "...\n", "%YAML 1.1\n", "{{ 7 }}", "<secret:X>",
             "\u2028", "\x85", "\x00", "é", "9" * 30]


def _loads_or_refuses(text: str) -> None:
    try:
        doc = load_text("f.yaml", text)
    except LoadError as exc:
        f = exc.finding
        assert f.code.startswith("NP0") and f.file == "f.yaml" and f.line >= 1
        assert len(f.message) < 300
        return
    assert doc.file == "f.yaml"


@PROFILE
@given(st.text(max_size=300))
def test_loader_on_any_text(text: str) -> None:
    _loads_or_refuses(text)


@PROFILE
@given(st.lists(st.sampled_from(YAML_BITS), max_size=60).map("".join))
def test_loader_on_yaml_punctuation(text: str) -> None:
    _loads_or_refuses(text)


SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(min_size=1, max_size=10), inner, max_size=4),
                    max_leaves=20)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


@PROFILE
@given(DATA, st.booleans())
def test_what_pyyaml_writes_reads_back_equal_or_refused(data: Any, flow: bool) -> None:
    text = yaml.safe_dump({"v": data}, default_flow_style=flow, allow_unicode=True)
    try:
        doc = load_text("f.yaml", text)
    except LoadError as exc:
        assert exc.finding.code.startswith("NP0")
        return
    assert _same(strip_locs(doc.data), {"v": data}) or strip_locs(doc.data) == {"v": data}


# --------------------------------------------------------------------------- the model

FILES = ["intent/network.yaml", "intent/topology.yaml", "intent/routing.yaml",
         "intent/firewall.yaml", "intent/sites/hq.yaml", "inventory/hosts.yaml",
         "inventory/groups.yaml"]


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, (*prefix, i))
    return found


PLACES = [(rel, path) for rel in FILES
          for path in _paths(yaml.safe_load((REPO / rel).read_text()))]

VALUES = DATA | st.sampled_from(["10.0.0.1/33", "0.0.0.0/0", "eth1", "tcp/70000", "1-5000",
                                 "hq-core1:eth9", "GigabitEthernet1/0/1-2000", "", " ",
                                 "a" * 300, "mgmt", "NETPIPE_PASSWORD", 4094, 4095, 0, -1])


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prop") / "net"
    for part in ("intent", "inventory", "templates"):
        shutil.copytree(REPO / part, root / part)
    return root


@settings(PROFILE, max_examples=60)
@given(st.lists(st.tuples(st.sampled_from(PLACES), VALUES), min_size=1, max_size=3))
def test_any_value_anywhere_gives_findings_or_a_clean_build(
        scratch: Path, edits: list[tuple[tuple[str, tuple[Any, ...]], Any]]) -> None:
    originals = {rel: (REPO / rel).read_text() for rel in FILES}
    docs = {rel: yaml.safe_load(text) for rel, text in originals.items()}
    for (rel, path), value in edits:
        try:
            _set(docs[rel], path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced the container: nothing to set
    try:
        for rel, data in docs.items():
            (scratch / rel).write_text(yaml.safe_dump(data, allow_unicode=True))
        result = build(scratch, run_lint=False)
    finally:
        for rel, text in originals.items():
            (scratch / rel).write_text(text)
    if result.intent is None:
        assert result.findings, "no intent and no finding"
    if not result.ok:
        assert not result.rendered
    for f in result.findings:
        assert f.file and f.code.startswith("NP"), f


def _outcome(text: str) -> object:
    try:
        doc = load_text("f.yaml", text)
    except LoadError as exc:
        return exc.finding
    return repr(doc.data), doc.marks


@PROFILE
@given(st.lists(st.sampled_from(YAML_BITS), max_size=60).map("".join))
@example("a: ! 3\n").via("libyaml calls it plain and implicit")
@example("- [! yes, {! 0.5: ! ~}]\n").via("the same in flow collections")
@example("a: &x ! 1\nb: *x\n").via("and behind an anchor")
def test_the_composer_in_c_and_the_event_path_agree(text: str) -> None:
    """A clean file is composed by libyaml, a refused one again from events: the values,
    every mark, and every finding are those of the event path alone."""
    fast = _outcome(text)
    real = loader._NON_SPECIFIC
    try:
        loader._NON_SPECIFIC = re.compile("")  # matches every text: the event path only
        assert fast == _outcome(text)
    finally:
        loader._NON_SPECIFIC = real
