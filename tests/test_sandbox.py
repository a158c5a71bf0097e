"""The template environment keeps what templates legitimately do and bounds the rest
(the hostile cases in tests/hostile/test_templates.py try the rest)."""

from __future__ import annotations

import subprocess
import sys
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from jinja2.exceptions import UndefinedError

from pipeline.design import design
from pipeline.intent.parse import parse
from pipeline.render import environment as envmod
from pipeline.render.environment import ConfinedLoader, TemplateLimit, TemplateRefused, environment
from pipeline.render.render import render
from tests.conftest import REPO, copy_example


def env_with(tmp_path: Path, templates: dict[str, str]) -> envmod.BoundedEnvironment:
    folder = tmp_path / "t"
    folder.mkdir()
    for name, text in templates.items():
        (folder / name).write_text(text)
    return environment(ConfinedLoader(tmp_path, "t"))


def test_partials_macros_namespaces_and_loops_still_work(tmp_path: Path) -> None:
    env = env_with(tmp_path, {
        "_macros.j2": "{% macro vlan(v) %}vlan {{ v }};{% endmacro %}",
        "_head.j2": "! {{ title }}\n",
        "main.j2": "{% include '_head.j2' %}{% from '_macros.j2' import vlan %}"
                   "{% set ns = namespace(n=0) %}{% for v in vlans %}{{ vlan(v) }}"
                   "{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }} {{ vlans|join(',') }} "
                   "{{ range(3)|list|length }} {{ '%05d'|format(42) }} {{ 'a' ~ 'b' }}\n",
    })
    text = env.render_bounded("main.j2", title="x", vlans=[10, 20])
    assert text == "! x\nvlan 10;vlan 20;2 10,20 3 00042 ab\n"


def test_the_budget_is_per_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envmod, "MAX_WORK", 50)
    env = env_with(tmp_path, {"loop.j2": "{% for i in range(n) %}.{% endfor %}"})
    for _ in range(3):  # each render alone stays under the limit
        assert env.render_bounded("loop.j2", n=40) == "." * 40
    with pytest.raises(TemplateLimit, match="loop iterations"):
        env.render_bounded("loop.j2", n=60)


def test_loops_pay_for_every_iteration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tuple (what the design records hold) pays for its length when the loop starts; a
    list pays as it goes, since the loop may extend it: one call there adds a hundred
    iterations for one unit of work."""
    monkeypatch.setattr(envmod, "MAX_WORK", 50)
    env = env_with(tmp_path, {"loop.j2": "{% for x in items %}.{% endfor %}",
                              "grow.j2": "{% for x in items %}{% if loop.first %}"
                                         "{% set _ = items.extend(more) %}{% endif %}."
                                         "{% endfor %}"})
    assert env.render_bounded("loop.j2", items=tuple(range(50))) == "." * 50
    with pytest.raises(TemplateLimit, match="loop iterations"):
        env.render_bounded("loop.j2", items=tuple(range(51)))
    assert env.render_bounded("grow.j2", items=[0], more=list(range(40))) == "." * 41
    with pytest.raises(TemplateLimit, match="loop iterations"):
        env.render_bounded("grow.j2", items=[0], more=list(range(100)))


@pytest.mark.parametrize("busy", [
    pytest.param("{% for i in range(9999) %}{{ range(9999)|batch(1)|list|length }}"
                 "{% endfor %}", id="a-filter-over-many-items-in-a-loop"),
    pytest.param("{% for i in range(9999) %}{% for j in range(19) %}{{ ('x' * 999999)|length }}"
                 "{% endfor %}{% endfor %}", id="a-big-string-made-in-a-loop"),
])
def test_a_render_is_held_to_its_time(network: Path, monkeypatch: pytest.MonkeyPatch,
                                      busy: str) -> None:
    """Each step within the limits, a loop under the work budget whose body costs a
    millisecond (a filter over 10,000 items, a string of a million characters made) ran
    for 14 s and more. The render's CPU time is bounded too: NP203 at the loop's line."""
    monkeypatch.setattr(envmod, "MAX_SECONDS", 0.3)
    template = network / "templates" / "ios" / "running.conf.j2"
    template.write_text(template.read_text() + "! busy\n" + busy + "\n")
    line = template.read_text().count("\n")
    intent, _ = parse(network)
    assert intent is not None
    devices = {h: d for h, d in design(intent).items() if d.platform == "ios"}
    _, found = render(devices, network, intent.network.secrets, processes=1)
    assert [(f.code, f.file, f.line) for f in found] == [
        ("NP203", "templates/ios/running.conf.j2", line)]
    assert "seconds" in found[0].message


def test_the_renders_of_a_process_are_held_to_their_time(network: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Each render under its own limit, a template still costs that for every device: a
    tenth of a second at 4,500 switches is eight minutes, five seconds six hours. The
    renders of a platform in one process are held to MAX_RUN_SECONDS in all: the template
    is refused at its line, and the devices after it do not render it."""
    monkeypatch.setattr(envmod, "MAX_RUN_SECONDS", 0.1)
    template = network / "templates" / "ios" / "running.conf.j2"
    busy = "{% for i in range(9000) %}{% set x = 'x' * 99999 %}{% endfor %}"  # 50 ms
    template.write_text(template.read_text() + "! busy\n" + busy + "\n")
    line = template.read_text().count("\n")
    intent, _ = parse(network)
    assert intent is not None
    devices = {h: d for h, d in design(intent).items() if d.platform == "ios"}
    assert len(devices) >= 6
    rendered, found = render(devices, network, intent.network.secrets, processes=1)
    assert [(f.code, f.file, f.line) for f in found] == [
        ("NP203", "templates/ios/running.conf.j2", line)]
    assert "in all" in found[0].message
    assert not rendered[max(devices)].files  # the last device: not rendered at all


def test_lipsum_is_not_there(tmp_path: Path) -> None:
    """Jinja's lorem-ipsum global made a million paragraphs in one call (35 s, 1.7 GB):
    no config needs it."""
    env = env_with(tmp_path, {"l.j2": "{{ lipsum(999999)|length }}"})
    with pytest.raises(UndefinedError):
        env.render_bounded("l.j2")


def test_output_is_bounded_captured_output_included(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envmod, "MAX_OUTPUT", 1000)
    env = env_with(tmp_path, {"cap.j2": "{% set x %}{% for i in range(100) %}0123456789ab"
                                        "{% endfor %}{% endset %}{{ x|length }}"})
    with pytest.raises(TemplateLimit, match="characters"):
        env.render_bounded("cap.j2")


@pytest.mark.parametrize("call", ["l.extend(big[i])", "m.update(big[i])", "s.update(big[i])",
                                  "l.insert(0, big[i])"])
def test_a_container_grown_by_calls_stops_at_the_limit(tmp_path: Path, call: str) -> None:
    """A call costs one unit of work whatever it adds: a container grown by 600,000 items a
    call is refused when it passes the limit, not when something prints it (a loop of such
    calls and no print held 800 MB)."""
    env = env_with(tmp_path, {"grow.j2": "{% for i in range(3) %}{% set _ = " + call + " %}"
                                         "{% endfor %}done"})
    big = [range(600_000 * i, 600_000 * (i + 1)) for i in range(3)]
    big = [dict.fromkeys(b) if call.startswith("m.") else list(b) for b in big]
    grown: dict[str, object] = {"l": [], "m": {}, "s": set(), "big": big}
    if call.startswith("l.insert"):  # an item a call: the nesting grows, not the count
        assert env.render_bounded("grow.j2", **grown) == "done"
        return
    with pytest.raises(TemplateLimit, match="items"):
        env.render_bounded("grow.j2", **grown)


_GREEDY = """
import sys
from pathlib import Path
from pipeline.design import design
from pipeline.intent.parse import parse
from pipeline.render import environment, render
environment.RENDER_MEMORY = 512 << 20
root = Path(sys.argv[1])
intent, _ = parse(root)
devices = {h: d for h, d in design(intent).items() if d.platform == "ios"}
_, found = render.render(devices, root, intent.network.secrets, processes=1)
print(found[0].code, found[0].file, found[0].line, found[0].message)
peak = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
print(int(peak[0].split()[1]) // 1024)  # this process's own peak (ru_maxrss keeps the caller's)
"""


@pytest.mark.parametrize("greedy", [
    pytest.param("{{ ('\\t' * 1200).expandtabs(999999)|length }}", id="expandtabs"),
    pytest.param("{{ (['x'] * 999999)|map('center', 1200)|list|length }}", id="map-center"),
])
def test_a_render_is_held_to_its_memory(tmp_path: Path, greedy: str) -> None:
    """An operation that amplifies its inputs (a tab expanded a million times, a filter
    mapped over a million items) allocates its whole result before any size check sees
    it: 1.2 GB each here. The render's address space is capped, so it stops at the cap
    as a finding at its line (NP203), the process well below the gigabyte."""
    root = copy_example(tmp_path / "net")
    template = root / "templates" / "ios" / "running.conf.j2"
    template.write_text(template.read_text() + "! greedy\n" + greedy + "\n")
    line = template.read_text().count("\n")
    run = subprocess.run([sys.executable, "-c", _GREEDY, str(root)], capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    finding, peak = run.stdout.splitlines()
    assert finding.startswith(f"NP203 templates/ios/running.conf.j2 {line} "), finding
    assert "memory" in finding
    assert int(peak) < 900, f"peak RSS {peak} MB"


@pytest.mark.parametrize("name", ["/etc/passwd", "../t/x.j2", "a/../../x", "", "a\\b"])
def test_names_that_leave_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    env = env_with(tmp_path, {"x.j2": "x"})
    with pytest.raises(TemplateRefused) as info:
        env.get_template(name)
    assert info.value.by_name


def test_a_symlinked_template_is_refused(tmp_path: Path) -> None:
    env = env_with(tmp_path, {"x.j2": "x"})
    (tmp_path / "t" / "y.j2").symlink_to(tmp_path / "t" / "x.j2")
    with pytest.raises(TemplateRefused) as info:
        env.get_template("y.j2")
    assert not info.value.by_name and "symbolic link" in info.value.reason


@pytest.mark.parametrize("templates", [
    pytest.param({"t.j2": "{% for i in range(20) %}{% filter center(500) %}x{% endfilter %}"
                          "{{ mark() }}{% endfor %}"}, id="filter-block-amplifies"),
    pytest.param({"t.j2": "{% set f = ('x' * 500).format %}{% for i in range(20) %}"
                          "{% call f() %}{% endcall %}{{ mark() }}{% endfor %}"},
                 id="call-block-of-a-method"),
    pytest.param({"t.j2": "{% for i in range(20) %}{% include '_big.j2' without context %}"
                          "{{ mark() }}{% endfor %}", "_big.j2": "y" * 500},
                 id="include-without-context"),
    pytest.param({"t.j2": "{% for i in range(20) %}{% block b %}{{ 'z' * 500 }}{% endblock %}"
                          "{{ mark() }}{% endfor %}"}, id="block-in-a-loop"),
    pytest.param({"t.j2": "{% extends '_base.j2' %}{% block b %}{{ 'w' * 500 }}{% endblock %}",
                  "_base.j2": "{% for i in range(20) %}{{ self.b() }}{{ mark() }}{% endfor %}"},
                 id="extends-and-self"),
    pytest.param({"t.j2": "{% macro m() %}{{ caller() }}{{ caller() }}{% endmacro %}"
                          "{% for i in range(20) %}{% call m() %}{{ 'v' * 300 }}{% endcall %}"
                          "{{ mark() }}{% endfor %}"}, id="caller-twice"),
    pytest.param({"t.j2": "{% for i in range(20) %}" + "{{ 123456789 }}{{ '0123456789' }}" * 15
                          + "{{ mark() }}{% endfor %}"}, id="printed-constants"),
    pytest.param({"t.j2": "{% for i in range(20) %}{% autoescape true %}{{ '<' * 100 }}"
                          "{% endautoescape %}{{ mark() }}{% endfor %}"}, id="escaped-values"),
    pytest.param({"t.j2": "{% for i in range(20) %}" + "literal " * 70 + "{{ mark() }}"
                          "{% endfor %}"}, id="literal-text"),
])
def test_every_way_to_output_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        templates: dict[str, str]) -> None:
    """Output reaches a rendered file by literal text, printed values, filter and call
    blocks, includes, blocks and parents: each is counted as it is made, so the render
    stops at the budget (a render's text is joined in one go: a way to output that is
    not counted would be bounded only after the whole text was made)."""
    monkeypatch.setattr(envmod, "MAX_OUTPUT", 5000)
    env = env_with(tmp_path, templates)
    marks: list[int] = []
    with pytest.raises(TemplateLimit, match="characters"):
        env.render_bounded("t.j2", mark=lambda: marks.append(1) or "")
    assert len(marks) < 20  # stopped inside the first loop, not after it


def test_design_records_are_read_directly_and_everything_else_through_the_sandbox(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A field of a design record is read without the sandbox's call (counted, not timed);
    any other object, a subclass of a record, or a name that is no field goes through it,
    so what it refuses stays refused and a missing name is still an error."""
    import dataclasses

    from jinja2.exceptions import SecurityError, UndefinedError

    from pipeline.design import StaticRoute, Vlan

    calls: list[str] = []
    sandboxed = envmod.BoundedEnvironment.getattr

    def counted(self: envmod.BoundedEnvironment, obj: object, attribute: str) -> object:
        calls.append(attribute)
        return sandboxed(self, obj, attribute)

    monkeypatch.setattr(envmod.BoundedEnvironment, "getattr", counted)

    @dataclasses.dataclass(frozen=True)
    class Sub(Vlan):
        pass

    class Liar:  # answers a record's class: still the sandbox's way
        __class__ = property(lambda self: Vlan)  # type: ignore[assignment]
        name = "liar"

    env = env_with(tmp_path, {
        "r.j2": "{{ v.id }} {{ v.name }} {% for v in vlans %}{{ v.zone }}{% endfor %} "
                "{{ r.prefix.prefixlen }} {{ liar.name }}",
        "missing.j2": "{{ v.nope }}",
        "dunder.j2": "{{ v.__class__ }}",
        "fields.j2": "{{ v.__dataclass_fields__ }}",
        "keyword.j2": "{{ v.class }}",
    })
    vlan = Vlan(10, "users", "office")
    route = StaticRoute(IPv4Network("10.0.0.0/8"), "192.0.2.1", "")
    text = env.render_bounded("r.j2", v=vlan, vlans=[vlan, Sub(20, "b", "lab")], r=route,
                              liar=Liar())
    assert text == "10 users officelab 8 liar"
    assert calls == ["zone", "prefixlen", "name"]  # a subclass, an address, the liar
    for name, error in (("missing.j2", UndefinedError), ("dunder.j2", SecurityError),
                        ("fields.j2", SecurityError), ("keyword.j2", UndefinedError)):
        calls.clear()
        with pytest.raises(error):
            env.render_bounded(name, v=vlan)
        assert calls, name
