"""Hostile templates: sandbox escapes, resource use, and reading what is not a template."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.harness import Case, Net, cases_ids, run

IOS = "templates/ios/running.conf.j2"
FRR = "templates/frr/frr.conf.j2"
NFT = "templates/frr/nftables.conf.j2"


def line(text: str, rel: str = IOS) -> object:
    """Append one template line (marked so the harness finds it) to a template."""
    return lambda net: net.append(rel, f"! hostile\n{text}\n")


def tcase(cid: str, what: str, text: str, code: str, rel: str = IOS) -> Case:
    return Case(cid, what, line(text, rel), code, rel, text.split("\n")[0][:40])


ESCAPES = [
    ("mro-subclasses", "''.__class__.__mro__[1].__subclasses__()",
     "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("cycler-globals", "cycler.__init__.__globals__.os", "{{ cycler.__init__.__globals__.os }}"),
    ("lipsum-globals", "lipsum.__globals__", "{{ lipsum.__globals__['os'].popen('id') }}"),
    ("joiner-init", "joiner.__init__", "{{ joiner.__init__.__globals__ }}"),
    ("namespace-init", "namespace.__init__", "{{ namespace.__init__.__globals__ }}"),
    ("device-class", "d.__class__", "{{ d.__class__.__init__.__globals__ }}"),
    ("self-context", "self._TemplateReference__context", "{{ self._TemplateReference__context }}"),
    ("format-attribute", "str.format reaching attributes", "{{ '{0.__class__}'.format(d) }}"),
    ("format-map", "str.format_map", "{{ '{x.__class__}'.format_map({'x': d}) }}"),
    ("range-self", "range.__self__", "{{ range.__self__ }}"),
    ("request-config", "Flask-style globals", "{{ config.items() }}"),
    ("getattr-filter", "attr filter to a dunder", "{{ d|attr('__class__') }}"),
    ("dict-mutation", "os.environ through a dict", "{{ d.__dict__ }}"),
]

RESOURCES = [
    ("str-times-huge", "'x' * 10**10", "{{ 'x' * 10**10 }}"),
    ("list-times-huge", "[1] * 10**9", "{{ ([1] * 10**9)|length }}"),
    ("power-tower", "10**(10**10)", "{{ 10**(10**10) }}"),
    ("power-bits", "2**5000", "{{ 2**5000 }}"),
    ("range-huge", "range(10**7)", "{{ range(10**7)|list|length }}"),
    ("range-over-limit", "range(100000)", "{% for i in range(100000) %}{% endfor %}"),
    ("nested-loops", "two nested loops of 10,000",
     "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"),
    ("loop-over-string", "a loop over a million-character string, twice nested",
     "{% set s = 'x' * 900000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"),
    ("center-huge", "'x'|center(10**9)", "{{ 'x'|center(10**9) }}"),
    ("method-center-huge", "'x'.center(10**9)", "{{ 'x'.center(10**9) }}"),
    ("printf-width", "'%999999999s' % 1", "{{ '%999999999s' % 1 }}"),
    ("format-filter-width", "'%*s'|format(10**9, 1)", "{{ '%*s'|format(999999999, 1) }}"),
    ("brace-format-width", "'{:>999999999}'.format(1)", "{{ '{:>999999999}'.format(1) }}"),
    ("namespace-doubling", "a string doubled 40 times through a namespace",
     "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}{{ ns.s|length }}"),
    ("macro-recursion", "a macro calling itself without end",
     "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}"),
    ("macro-doubling", "a recursive macro doubling its argument",
     "{% macro r(s) %}{{ r(s ~ s) }}{% endmacro %}{{ r('xy') }}"),
    ("join-amplify", "a big separator joined many times",
     "{{ (['a'] * 9000)|join('x' * 9000) }}"),
    ("replace-amplify", "replace that multiplies a string",
     "{{ ('a' * 5000)|replace('a', 'b' * 5000) }}"),
    ("list-append-loop", "appending to a list until the budget ends",
     "{% set l = [] %}{% for i in range(10000) %}{% for j in range(10000) %}"
     "{{ l.append(i) }}{% endfor %}{% endfor %}"),
    ("list-extend-loop", "a list grown by a million items a call (each call one unit of work)",
     "{% set big = [0] * 999999 %}{% set l = [] %}{% for i in range(100) %}"
     "{% set _ = l.extend(big) %}{% endfor %}"),
    ("expandtabs-amplify", "3,000 tabs each expanded to a million spaces (3 GB at once)",
     "{{ ('\\t' * 3000).expandtabs(999999)|length }}"),
    ("map-amplify", "a filter mapped over a million items (3 GB, each item under the limit)",
     "{{ (['x'] * 999999)|map('center', 3000)|list|length }}"),
    ("recursive-loop", "a recursive for loop",
     "{% for x in [[1]] recursive %}{{ loop(x) }}{% endfor %}"),
    ("captured-output", "output captured in a block set, 500,000 times",
     "{% set big %}{% for i in range(10000) %}{% for j in range(50) %}" + "y" * 100
     + "{% endfor %}{% endfor %}{% endset %}{{ big|length }}"),
    ("deep-expression", "an expression nested 5,000 deep", "{{ " + "(" * 5000 + "1"
     + ")" * 5000 + " }}"),
    ("zero-division", "1/0", "{{ 1 / 0 }}"),
    ("self-include", "a template including itself", "{% include 'running.conf.j2' %}"),
    ("syntax-error", "an unclosed tag", "{% if %}"),
    ("undefined-name", "a name the device does not have", "{{ d.no_such_thing }}"),
    ("newline-literal", "a value with a newline built in the template",
     "{{ 'description x\\nusername evil' }}"),
]


def _symlink_template(target: str) -> object:
    def mutate(net: Net) -> None:
        dest = target.format(outside=net.outside, canary=net.canary)
        net.symlink(IOS, dest)
    return mutate


def _include_symlink(net: Net) -> None:
    net.symlink("templates/ios/_evil.j2", net.canary)
    net.append(IOS, "! hostile\n{% include '_evil.j2' %}\n")


def _template_dir_symlink(net: Net) -> None:
    fake = net.outside / "templates"
    (fake / "ios").mkdir(parents=True)
    (fake / "ios" / "running.conf.j2").symlink_to(net.canary)
    net.symlink("templates", fake)


def _platform_dir_symlink(net: Net) -> None:
    net.symlink("templates/frr", net.outside)


def _fifo_template(net: Net) -> None:
    net.fifo(NFT)


def _huge_template(net: Net) -> None:
    net.append(IOS, "!" + "x" * 300_000 + "\n")


def _binary_template(net: Net) -> None:
    net.write(IOS, b"hostname \xff\xfe\n")


CASES = [tcase(f"escape-{cid}", what, text, "NP201") for cid, what, text in ESCAPES]
CASES += [tcase(f"resource-{cid}", what, text, "NP203" if cid not in (
    "zero-division", "syntax-error",
    "undefined-name") else "NP201") for cid, what, text in RESOURCES
    if cid != "newline-literal"]
CASES += [
    tcase("newline-literal", "a value with a newline built in the template",
          "{{ 'description x\\nusername evil' }}", "NP202"),
    tcase("frr-escape", "an escape in the FRR template", "{{ d.__class__ }}", "NP201", FRR),
    tcase("nft-loop", "nested loops in the nftables template",
          "{% for a in range(9000) %}{% for b in range(9000) %}{% endfor %}{% endfor %}", "NP203",
          NFT),
    tcase("include-absolute", "{% include '/proc/self/environ' %}",
          "{% include '/proc/self/environ' %}", "NP014"),
    tcase("include-dotdot", "{% include '../../intent/network.yaml' %}",
          "{% include '../../intent/network.yaml' %}", "NP014"),
    tcase("include-git", "{% include '../../.git/config' %}",
          "{% include '../../.git/config' %}", "NP014"),
    tcase("import-outside", "{% import '../frr/../../../../etc/passwd' as x %}",
          "{% import '../frr/../../../../etc/passwd' as x %}", "NP014"),
    tcase("extends-outside", "{% extends '/etc/passwd' %}", "{% extends '/etc/passwd' %}",
          "NP014"),
    tcase("self-extends", "a template extending itself", "{% extends 'running.conf.j2' %}",
          "NP203"),
    tcase("self-import", "a template importing itself with its context",
          "{% import 'running.conf.j2' as me with context %}", "NP203"),
    tcase("include-missing", "an include of a template that is not there",
          "{% include 'nothere.j2' %}", "NP201"),
    Case("template-symlink-environ", "the IOS template a symlink to /proc/self/environ",
         _symlink_template("/proc/self/environ"), "NP014", IOS),
    Case("template-symlink-outside", "the IOS template a symlink to a file outside",
         _symlink_template("{canary}"), "NP014", IOS),
    Case("template-symlink-inside", "the IOS template a symlink to a file inside the repo",
         _symlink_template("../../intent/network.yaml"), "NP014", IOS),
    Case("include-a-symlink", "an include of a symlink to a file outside", _include_symlink,
         "NP014", "templates/ios/_evil.j2"),
    Case("templates-dir-symlink", "templates/ a symlink to a folder outside",
         _template_dir_symlink, "NP014", "templates"),
    Case("platform-dir-symlink", "templates/frr a symlink to a folder outside",
         _platform_dir_symlink, "NP014", "templates/frr"),
    Case("template-fifo", "a template that is a FIFO", _fifo_template, "NP014", NFT),
    Case("template-huge", "a template over 256 KiB", _huge_template, "NP014", IOS),
    Case("template-not-utf8", "a template that is not UTF-8", _binary_template, "NP014", IOS),
]


@pytest.mark.parametrize("case", CASES, ids=cases_ids(CASES))
def test_hostile_templates(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(case, tmp_path, monkeypatch, capsys).exit in (1, 2)  # refused, never a bug (5)
