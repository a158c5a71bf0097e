"""`make bench`: netpipe against the raw floor and Ansible on generated estates.

    .venv/bin/python -m benchmarks.bench_estate [--sizes 1000,2000,5000] [--runs 3]
        [--ansible .venv-bench/bin/ansible-playbook] [--ansible-devices 100]
        [--plot-python .venv-bench/bin/python] [--write docs/benchmarks.md]

Every figure is wall time of a fresh process on a generated estate (benchmarks/estate.py),
median, min and max of ``--runs`` runs:

* ``validate``: ``netpipe validate --no-cache`` as an engineer runs it (start-up included),
  and the same work phase by phase in one process: load, rules, design, render, the
  Python lint, then the vtysh/nft checks on their own. Peak RSS is the largest process.
* ``one VLAN``: ``netpipe validate`` after a full one, with one VLAN added at one site.
* ``build``: the build of ``netpipe render --no-lint`` in a fresh process, the collector
  set as the CLI sets it: load, the rules alongside the design (two processes), render;
  compared with the floor, and so are the load and render phases above.
* ``floor``: libyaml's loader reading every file (no marks, no checks) and plain Jinja
  rendering the same templates with the same device records in two processes.
* ``ansible``: ansible-core's ``template`` module rendering the same IOS template for
  ``--ansible-devices`` switches (a bench-only virtualenv; ``make bench`` makes it).

The results go to the ``bench_estate`` section of docs/benchmarks.md and a PNG plot next
to it. Nothing here is part of ``make test``; tests never time anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import sections

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench_estate: begin -->", "<!-- bench_estate: end -->"
PLOT = "docs/benchmarks-estate.png"
TARGETS = {"validate_5000": 15.0, "rss_mb": 1024.0, "external_5000": 30.0, "startup": 0.5,
           "incremental_5000": 2.0, "floor_ratio": 1.5, "ansible_ratio": 50.0}


# --------------------------------------------------------------------------- one process


def _cpu() -> float:
    """CPU seconds of this process and of its children so far (forked workers, vtysh, nft):
    what the work costs whatever else the shared machine runs."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _rss_mb() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def phases(root: Path) -> dict[str, float]:
    """The offline pipeline phase by phase, in this process (cache off), with the garbage
    collector set as ``build`` sets it: off for the load, the rules and the design, then
    what they made frozen for the render and the lint."""
    import gc

    from pipeline.build import GC_THRESHOLD
    from pipeline.design import design
    from pipeline.intent.parse import parse
    from pipeline.intent.rules import check
    from pipeline.render.lint import lint
    from pipeline.render.render import render

    gc.set_threshold(*GC_THRESHOLD)
    out: dict[str, float] = {}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        start, cpu = time.perf_counter(), _cpu()
        result = work()
        out[name] = time.perf_counter() - start
        out[f"cpu_{name}"] = _cpu() - cpu
        return result

    gc.disable()
    intent, findings = timed("load", lambda: parse(root))
    assert intent is not None and not findings, findings[:3]
    assert not timed("rules", lambda: [f for f in check(intent) if f.is_error])
    devices = timed("design", lambda: design(intent))
    gc.freeze()
    gc.enable()
    rendered, problems = timed("render", lambda: render(devices, root, intent.network.secrets))
    assert not problems, problems[:3]
    ios = {h: r for h, r in rendered.items() if r.platform == "ios"}
    frr = {h: r for h, r in rendered.items() if r.platform != "ios"}
    assert not timed("lint", lambda: lint(ios))
    out["rss_offline_mb"] = _rss_mb()
    assert not timed("external", lambda: lint(frr))
    out["offline"] = sum(out[k] for k in ("load", "rules", "design", "render", "lint"))
    out["cpu_offline"] = sum(out[f"cpu_{k}"] for k in ("load", "rules", "design", "render",
                                                      "lint"))
    out["rss_mb"] = _rss_mb()
    gc.unfreeze()  # as build thaws at its end
    return out


def built(root: Path) -> dict[str, float]:
    """``build`` without lint, as ``netpipe render --no-lint`` runs it (the files not
    written): load, then the rules alongside the design, then render (the phases above run
    one after another). The collector is set as the CLI sets it, for the whole command: a
    ``build`` called with the default thresholds restores them at its end, and the first
    collection after that traverses the whole build (0.3-0.6 s at 5,002 devices), which the
    `netpipe` process never does (it leaves its heap to the system at exit)."""
    from pipeline.build import batch_gc, build

    with batch_gc():  # the old thresholds back after the clock stops
        start, cpu = time.perf_counter(), _cpu()
        result = build(root, run_lint=False)
        figures = {"build": time.perf_counter() - start, "cpu_build": _cpu() - cpu}
    assert result.ok, result.findings[:3]
    return figures


def _floor_render(share: Sequence[tuple[str, Any]]) -> int:
    return sum(len(_FLOOR_ENVS[d.platform].get_template(t).render(d=d, fw=d.firewall))
               for _, d in share for t in _FLOOR_NAMES[d.platform])


_FLOOR_ENVS: dict[str, Any] = {}
_FLOOR_NAMES: dict[str, list[str]] = {}


def floor(root: Path) -> dict[str, float]:
    """libyaml's loader on every file, and plain Jinja over two processes rendering the
    device records netpipe designed (designing them is not timed), with the garbage
    collector set as netpipe's ``build`` sets it (off while reading, on for the render):
    the floor gets the same advantage."""
    import gc

    import yaml
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from pipeline import pool
    from pipeline.build import GC_THRESHOLD
    from pipeline.design import design
    from pipeline.intent.parse import parse
    from pipeline.render import environment as nenv
    from pipeline.render.render import SHIPPED_TEMPLATES
    from pipeline.secrets import placeholder

    gc.set_threshold(*GC_THRESHOLD)
    intent, _ = parse(root)
    assert intent is not None
    devices = list(design(intent).items())
    for plat in ("frr", "ios"):
        env = Environment(loader=FileSystemLoader(str(SHIPPED_TEMPLATES / plat)),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=True, autoescape=False)
        env.filters.update(secret=placeholder, **nenv.TEXT_FILTERS)
        _FLOOR_ENVS[plat] = env
        _FLOOR_NAMES[plat] = sorted(p.name for p in (SHIPPED_TEMPLATES / plat).glob("*.j2"))
    gc.freeze()
    gc.disable()  # as netpipe's build reads its intent
    start = time.perf_counter()
    for path in sorted([*root.glob("intent/**/*.yaml"), *root.glob("inventory/*.yaml")]):
        yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    loaded = time.perf_counter()
    gc.enable()
    chars = sum(pool.run(_floor_render, devices, processes=2))
    done = time.perf_counter()
    gc.unfreeze()  # as build thaws at its end
    assert chars > 0
    return {"load": loaded - start, "render": done - loaded, "floor": done - start}


# --------------------------------------------------------------------------- measuring


def _run(argv: list[str], cwd: Path = REPO, env: dict[str, str] | None = None
         ) -> tuple[float, str]:
    """(wall seconds, stdout and stderr) of a command that must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n"
                           f"{proc.stderr}")
    return wall, proc.stdout + proc.stderr


def _netpipe(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def _helper(kind: str, root: Path) -> dict[str, float]:
    _, out = _run([sys.executable, "-m", "benchmarks.bench_estate", "--helper", kind,
                      str(root)])
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def _validate_rss(root: Path) -> tuple[float, float, float]:
    """Wall time, peak RSS and CPU seconds of `netpipe validate --no-cache` (os.wait4 on
    the process: its children, the workers and the checkers, are in its figures)."""
    start = time.perf_counter()
    proc = subprocess.Popen(_netpipe("validate", "--root", str(root), "--no-cache"), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"validate failed on {root}: exit {proc.returncode}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def _ansible(playbook: str, root: Path, count: int) -> float:
    """Seconds for ansible-core's template module to render ``count`` switches' IOS config
    from the same template and device records (as JSON host variables)."""
    import dataclasses
    from ipaddress import IPv4Address, IPv4Interface, IPv4Network

    from pipeline.build import build
    from pipeline.render.render import SHIPPED_TEMPLATES

    result = build(root, run_lint=False)
    switches = [d for d in result.devices.values() if d.platform == "ios"][:count]

    def plain(value: Any) -> Any:
        if isinstance(value, IPv4Interface):
            return {"ip": str(value.ip), "netmask": str(value.netmask), "text": str(value)}
        if isinstance(value, IPv4Network):
            return {"network_address": str(value.network_address),
                    "hostmask": str(value.hostmask), "prefixlen": value.prefixlen}
        if isinstance(value, IPv4Address):
            return str(value)
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [plain(v) for v in value]
        return value

    work = Path(tempfile.mkdtemp(prefix="netpipe-ansible-"))
    try:
        (work / "host_vars").mkdir()
        (work / "filter_plugins").mkdir()
        (work / "out").mkdir()
        (work / "filter_plugins" / "netpipe.py").write_text(
            "class FilterModule:\n    def filters(self):\n"
            "        return {'secret': lambda name: f'<secret:{name}>'}\n")
        shutil.copy(SHIPPED_TEMPLATES / "ios" / "running.conf.j2", work / "running.conf.j2")
        for d in switches:
            (work / "host_vars" / f"{d.name}.json").write_text(json.dumps({"d": plain(d)}))
        (work / "hosts.ini").write_text("[switches]\n" + "".join(
            f"{d.name} ansible_connection=local ansible_python_interpreter="
            f"{Path(playbook).parent / 'python'}\n" for d in switches))
        (work / "play.yml").write_text(
            "- hosts: switches\n  gather_facts: false\n  tasks:\n"
            "    - ansible.builtin.template:\n        src: running.conf.j2\n"
            "        dest: \"out/{{ inventory_hostname }}.conf\"\n"
            "        lstrip_blocks: true\n        trim_blocks: true\n")
        env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False",
               "ANSIBLE_FORKS": str(os.cpu_count() or 2), "ANSIBLE_NOCOLOR": "1"}
        wall, _ = _run([playbook, "-i", "hosts.ini", "play.yml"], cwd=work, env=env)
        rendered = sorted((work / "out").glob("*.conf"))
        assert len(rendered) == len(switches), f"ansible rendered {len(rendered)}"
        return wall
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure(sizes: list[int], runs: int, ansible: str | None, ansible_devices: int
            ) -> dict[str, Any]:
    from benchmarks.estate import add_vlan, generate

    results: dict[str, Any] = {"sizes": {}, "load_start": os.getloadavg()[0]}
    for size in sizes:
        base = Path(tempfile.mkdtemp(prefix=f"netpipe-bench-{size}-"))
        try:
            estate = generate(base / "net", size)
            row: dict[str, Any] = {"devices": estate.devices, "machine_load": os.getloadavg()[0]}
            cli, rss, cpu = zip(*(_validate_rss(estate.root) for _ in range(runs)), strict=True)
            row["validate_cli"], row["rss_cli_mb"] = _stats(list(cli)), max(rss)
            row["cpu_cli"] = _stats(list(cpu))
            parts = [_helper("phases", estate.root) for _ in range(runs)]
            for key in parts[0]:
                row[key] = _stats([p[key] for p in parts])
            builds = [_helper("build", estate.root) for _ in range(runs)]
            row["build"] = _stats([b["build"] for b in builds])
            row["cpu_build"] = _stats([b["cpu_build"] for b in builds])
            floors = [_helper("floor", estate.root) for _ in range(runs)]
            for key in ("floor", "load", "render"):
                row["floor" if key == "floor" else f"floor_{key}"] = _stats(
                    [f[key] for f in floors])
            incremental = []
            for run in range(runs):
                _run(_netpipe("validate", "--root", str(estate.root)))  # a full, cached build
                add_vlan(estate.root, site=run, vlan=95)
                wall, out = _run(_netpipe("validate", "--root", str(estate.root)))
                assert "rendered and linted 2 of" in out, out
                incremental.append(wall)
            row["incremental"] = _stats(incremental)
            if ansible and size == sizes[0]:
                count = min(ansible_devices, estate.switches)
                walls = [_ansible(ansible, estate.root, count) for _ in range(runs)]
                results["ansible"] = {"devices": count, **_stats(walls)}
            results["sizes"][str(size)] = row
            row["machine_load"] = max(row["machine_load"], os.getloadavg()[0])
            print(f"{size}: {json.dumps(row)}", file=sys.stderr)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    startup = []
    for _ in range(max(runs, 5) + 1):  # the first one reads the files from disk: dropped
        wall, _ = _run([sys.executable, "-c", "import pipeline.cli as c; c.parser()"])
        startup.append(wall)
    results["startup"] = _stats(startup[1:])
    return results


# --------------------------------------------------------------------------- reporting


def _versions() -> dict[str, str]:
    import jinja2
    import pydantic
    import yaml

    def tool(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        except OSError:
            return "not installed"
        return out.strip().splitlines()[0] if out.strip() else "?"

    return {"python": platform.python_version(), "pyyaml": yaml.__version__,
            "libyaml": str(getattr(yaml, "__with_libyaml__", False)),
            "jinja2": jinja2.__version__, "pydantic": pydantic.__version__,
            "frr": tool(["dpkg-query", "-W", "-f", "${Version}", "frr"]),
            "nft": tool(["nft", "--version"])}


def _machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem = int(info.readline().split()[1]) // 1024
    return (f"{cpu}, {len(os.sched_getaffinity(0))} cores, {mem} MB RAM, "
            f"{platform.system()} {platform.release()}")


def _cell(stats: dict[str, float]) -> str:
    return f"{stats['median']:.2f} s ({stats['min']:.2f}-{stats['max']:.2f})"


def report(results: dict[str, Any], command: str, ansible_version: str) -> str:
    sizes = results["sizes"]
    rows = []
    for row in sizes.values():
        rows.append(
            f"| {row['devices']:,} | {_cell(row['validate_cli'])} | {_cell(row['offline'])} | "
            f"{_cell(row['load'])} | {_cell(row['rules'])} | {_cell(row['design'])} | "
            f"{_cell(row['render'])} | {_cell(row['lint'])} | {_cell(row['external'])} | "
            f"{row['rss_cli_mb']:.0f} MB | {_cell(row['incremental'])} | {_cell(row['build'])} | "
            f"{_cell(row['floor'])}: {row['floor_load']['median']:.2f} + "
            f"{row['floor_render']['median']:.2f} |")
    versions = _versions()
    lines = [
        BEGIN,
        f"## A generated estate: {min(r['devices'] for r in sizes.values()):,} to "
        f"{max(r['devices'] for r in sizes.values()):,} devices",
        "",
        f"Measured with `{command}` on {_machine()}, load average "
        f"{results['load_start']:.1f} at the start and {os.getloadavg()[0]:.1f} at the end (a "
        "machine shared with other work: the wall times move with it). Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f", ansible-core {ansible_version}. Estates from `benchmarks/estate.py` (sites of "
        "one FRR core and nine IOS switches, WAN links to two hubs, 13 zones, 40 rules; zones "
        "declare their aggregates). Each cell: median (min-max) of "
        f"{results['runs']} runs, each a fresh process.",
        "",
        "| devices | `validate` (CLI, all checks) | offline (load..Python lint) | load | rules | "
        "design | render | Python lint | vtysh + nft | peak RSS | one VLAN (CLI) | "
        "`render --no-lint` (build) | floor: its load + render |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
        *rows,
        "",
        "CPU seconds of the same runs (the process and its children: workers, vtysh, "
        "nft), which the load of a shared machine does not inflate; on an idle machine with "
        "two cores the wall time of the parallel parts approaches half of it. The last column "
        "is the machine's 1-minute load average (the higher of its values before and after "
        "that size's runs): above 2, other work shared the two cores and the wall times "
        "above are inflated by it:",
        "",
        "| devices | `validate` CLI | offline | load | rules | design | render | Python lint | "
        "vtysh + nft | machine load |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {r['devices']:,} | {r['cpu_cli']['median']:.1f} s | "
          + " | ".join(f"{r['cpu_' + k]['median']:.1f} s" for k in
                       ("offline", "load", "rules", "design", "render", "lint", "external"))
          + f" | {r.get('machine_load', 0.0):.1f} |" for r in sizes.values()),
        "",
        f"![time and memory against device count]({Path(PLOT).name})",
        "",
        *_verdicts(results),
        END,
    ]
    return "\n".join(lines)


def _verdicts(results: dict[str, Any]) -> list[str]:
    sizes = results["sizes"]
    largest = sizes[max(sizes, key=int)]
    n = largest["devices"]
    start = results["startup"]["median"]
    offline = largest["offline"]["median"]
    rss = largest["rss_cli_mb"]
    external = largest["external"]["median"]
    incremental = largest["incremental"]["median"]
    load_render = largest["build"]["median"]
    ratio = load_render / largest["floor"]["median"]
    both = largest["load"]["median"] + largest["render"]["median"]
    floor_both = largest["floor_load"]["median"] + largest["floor_render"]["median"]
    phased = both / floor_both

    def verdict(ok: bool, text: str) -> str:
        return f"- {'met' if ok else 'MISSED'}: {text}"

    out = ["Targets (in the benchmark only; tests count operations, never time):", "",
           verdict(offline <= TARGETS["validate_5000"],
                   f"`validate` offline part at {n:,} devices {offline:.1f} s, "
                   f"{largest['cpu_offline']['median']:.1f} CPU seconds (target 15 s)"),
           verdict(rss <= TARGETS["rss_mb"], f"peak RSS {rss:.0f} MB (target 1 GB)"),
           verdict(external <= TARGETS["external_5000"],
                   f"vtysh and nft checks {external:.1f} s more, "
                   f"{largest['cpu_external']['median']:.1f} CPU seconds (target 30 s)"),
           verdict(start <= TARGETS["startup"],
                   f"CLI start-up {start:.2f} s (`import pipeline.cli` and the parser; "
                   "target 0.5 s)"),
           verdict(incremental <= TARGETS["incremental_5000"],
                   f"one VLAN changed at one site, validated and re-rendered: "
                   f"{incremental:.1f} s (target 2 s)"),
           verdict(phased <= TARGETS["floor_ratio"],
                   f"load + render (netpipe's load and render phases: marks, schema, "
                   f"sandbox; the floor's: bare loader, plain Jinja) {both:.2f} s = "
                   f"{phased:.1f}x the raw floor {floor_both:.2f} s (target 1.5x)"),
           verdict(ratio <= TARGETS["floor_ratio"],
                   f"load + rules + design + render (`render --no-lint`, the rules "
                   f"alongside the design; the floor runs neither) {load_render:.1f} s = "
                   f"{ratio:.1f}x the raw floor {largest['floor']['median']:.2f} s "
                   "(target 1.5x)")]
    if "ansible" in results:
        a = results["ansible"]
        per_ansible = a["median"] / a["devices"]
        per_netpipe = largest["validate_cli"]["median"] / n
        out.append(verdict(per_ansible / per_netpipe >= TARGETS["ansible_ratio"],
                           f"Ansible `template` {per_ansible * 1000:.0f} ms per device "
                           f"({a['devices']} switches), netpipe `validate` "
                           f"{per_netpipe * 1000:.1f} ms per device at {n:,} devices, every "
                           "check included: "
                           f"{per_ansible / per_netpipe:.0f}x (target 50x)"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ansible", help="ansible-playbook of a bench-only virtualenv")
    parser.add_argument("--ansible-devices", type=int, default=100)
    parser.add_argument("--plot-python", help="a python with matplotlib, for the PNG")
    parser.add_argument("--write", help="replace the bench_estate section of this file")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--helper", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.helper:
        kind, root = args.helper
        helpers = {"phases": phases, "build": built, "floor": floor}
        print(json.dumps(helpers[kind](Path(root))))
        return 0
    for tool in ("ansible", "plot_python"):  # ansible runs in a folder of its own
        if getattr(args, tool):
            setattr(args, tool, str(Path(getattr(args, tool)).absolute()))
    sizes = [int(s) for s in args.sizes.split(",")]
    results = measure(sizes, args.runs, args.ansible, args.ansible_devices)
    results["runs"] = args.runs
    ansible_version = "not measured"
    if args.ansible:
        out = subprocess.run([args.ansible, "--version"], capture_output=True, text=True,
                             check=False).stdout
        ansible_version = out.split("[core ", 1)[-1].split("]", 1)[0] if out else "?"
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    command = "make bench" if args.write else " ".join(sys.argv)
    section = report(results, command, ansible_version)
    print(section)
    if args.plot_python:
        data = REPO / "build" / "bench-estate.json"
        data.parent.mkdir(exist_ok=True)
        data.write_text(json.dumps(results))
        subprocess.run([args.plot_python, str(REPO / "benchmarks" / "plot.py"), str(data),
                        str(REPO / PLOT)], check=True)
    if args.write:
        sections.replace(Path(args.write), BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
