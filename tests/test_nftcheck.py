"""nft --check in batches and, inside a user namespace, in parts: never a false error."""

from __future__ import annotations

import pytest

from pipeline.findings import Severity
from pipeline.render import lint, nftcheck
from tests.test_lint import require_parsers

GOOD = """table inet netpipe
delete table inet netpipe
table inet netpipe {
\tset z_a {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.0.0.0/24, 10.0.2.0/24 }
\t}

\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t\tip saddr @z_a tcp dport 443 accept
\t}
}
"""
BAD = GOOD.replace("dport 443", "dport 99999")  # line 12


def tools() -> nftcheck.Tools:
    require_parsers()
    found = lint._nft_tools()
    assert found is not None
    return found


def big(count: int, bad: str | None = None) -> str:
    """A ruleset with ``count`` set elements (and ``bad`` among them), all on one line."""
    items = [f"10.{i // 256}.{i % 256}.0/24" for i in range(0, 2 * count, 2)]
    if bad is not None:
        items.insert(count // 2, bad)
    return GOOD.replace("10.0.0.0/24, 10.0.2.0/24", ", ".join(items))


def test_rulesets_are_batched_by_size_and_definitions_go_alone() -> None:
    items = [(f"r{i}", GOOD) for i in range(40)]
    groups = nftcheck.batches(items)
    assert [x for g in groups for x in g] == items
    assert all(len(g) <= nftcheck.BATCH_FILES for g in groups) and len(groups) > 1
    defining = ("d", "define ports = { 443 }\n" + GOOD)
    groups = nftcheck.batches([("a", GOOD), defining, ("b", GOOD)])
    assert [[n for n, _ in g] for g in groups] == [["a"], ["d"], ["b"]]


def test_a_batch_finds_what_each_check_alone_finds() -> None:
    t = tools()
    items = [("r1", GOOD), ("r2", BAD), ("r3", GOOD)]
    results = nftcheck.check_batch(t, items)
    assert results == [[], nftcheck.check(t, "r2", BAD), []]
    [finding] = results[1]
    assert (finding.code, finding.line, finding.column) == ("NP311", 12, 27)
    assert nftcheck.check_batch(t, [("r1", GOOD), ("r3", GOOD)]) == [[], []]


@pytest.fixture
def user_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check as a user without root does it: inside a user namespace."""
    monkeypatch.setattr(nftcheck, "NETNS", ["-rn"])
    monkeypatch.setattr(nftcheck, "AS_ROOT", False)


@pytest.mark.usefixtures("user_namespace")
def test_a_ruleset_too_large_for_a_user_namespace_is_checked_in_parts() -> None:
    t = tools()
    text = big(8000)
    assert nftcheck.TOO_LONG in nftcheck._run(t, text).stderr  # the limit is real
    assert nftcheck.check(t, "r", text) == []  # and no false error


@pytest.mark.usefixtures("user_namespace")
def test_an_error_in_a_part_points_at_its_element() -> None:
    t = tools()
    text = big(8000, bad="10.99.0.1/33")
    [finding] = nftcheck.check(t, "r", text)
    line = text.split("\n")[finding.line - 1]
    assert (finding.code, finding.line) == ("NP311", 7)
    assert line[finding.column - 1:].startswith("10.99.0.1/33")
    assert "Prefix length 33" in finding.message
    [finding] = nftcheck.check(t, "r", big(8000).replace("dport 443", "dport 99999"))
    assert (finding.code, finding.line, finding.column) == ("NP311", 12, 27)


@pytest.mark.usefixtures("user_namespace")
def test_a_ruleset_that_cannot_be_split_is_a_warning_not_an_error() -> None:
    t = tools()
    items = [f"10.{i // 256}.{i % 256}.0/24" for i in range(0, 16000, 2)]
    text = GOOD.replace("\t\telements = { 10.0.0.0/24, 10.0.2.0/24 }\n",
                        "\t\telements = {\n" + ",\n".join(items) + "\n\t\t}\n")
    [finding] = nftcheck.check(t, "r", text)
    assert (finding.code, finding.severity) == ("NP390", Severity.WARNING)
    assert "run netpipe as root" in finding.hint
