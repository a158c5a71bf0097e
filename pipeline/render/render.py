"""Render every device's config files, byte-identical for the same input.

Each platform has a template directory ``templates/<platform>/``; every ``NAME.j2``
in it (not starting with ``_``) renders to ``build/configs/<host>/NAME``. A network
repository without ``templates/`` uses the templates shipped with netpipe.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import TemplateSyntaxError

from pipeline import files, pool
from pipeline.design import Device
from pipeline.findings import Finding, Loc, clip
from pipeline.render.environment import (
    BoundedEnvironment,
    ConfinedLoader,
    InjectionError,
    TemplateLimit,
    TemplateRefused,
    UndeclaredSecret,
    environment,
    memory_cap,
)
from pipeline.secrets import PLACEHOLDER, placeholder

SHIPPED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATES = "templates"


@dataclass(frozen=True)
class Rendered:
    host: str
    platform: str
    files: dict[str, str]  # file name -> text


def template_source(root: Path) -> tuple[Path, str]:
    """(base, folder) of the templates: the repository's ``templates/`` when it has one (a
    real folder, never a symlink: files.Refused otherwise), else the shipped ones."""
    if files.kind(root, TEMPLATES) is None:
        return SHIPPED_TEMPLATES, ""
    if files.kind(root, TEMPLATES) != "folder":
        files.listdir(root, TEMPLATES)  # raises Refused with the reason
    return root, TEMPLATES


def template_root(root: Path) -> Path:
    base, folder = template_source(root)
    return base / folder if folder else base


def _template_loc(exc: BaseException, root: Path, fallback: str) -> Loc:
    """Where in a template an error happened (Jinja rewrites tracebacks to template lines)."""
    if isinstance(exc, (TemplateSyntaxError, TemplateLimit)) and exc.filename and exc.lineno:
        return Loc(_rel(Path(exc.filename), root), exc.lineno)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return Loc(_rel(Path(frame.filename), root), frame.lineno or 0)
    return Loc(fallback)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _names(base: Path, folder: str) -> list[str]:
    """The templates a platform renders: ``*.j2`` not starting with ``_``.

    Raises Refused for a name that is not plain (it would be printed raw in findings)."""
    try:
        names = files.listdir(base, folder)
    except files.Refused as exc:
        if exc.missing:
            return []
        raise
    for name in names:
        if not files.plain_name(name):
            raise files.Refused(f"{folder}/{files.shown(name)}", "has a file name with "
                                "characters other than letters, digits, '.', '_' and '-'")
    return [n for n in names if n.endswith(".j2") and not n.startswith("_")]


def _refusal(exc: files.Refused, root: Path, base: Path) -> Finding:
    rel = exc.rel if base == root else _rel(base / exc.rel, root)
    return Finding.at(Loc(rel), "NP014", f"{rel} {exc.reason}",
                      "templates are regular files inside templates/, never symbolic links")


Outcome = list[tuple[str, str | None, list[Finding]]]
"""One device's templates: (template, text or None, findings), in template order."""
SPENT = ("NP014", "NP203")
"""A template refused or over a limit: the same for every device, said once."""
_SPELL = "templates spell the device facts; they do not compute"


@dataclass(frozen=True)
class _Renderer:
    """Renders a share of the devices; a worker process inherits it (and compiles each
    platform's templates once, on first use)."""

    devices: Mapping[str, Device]
    root: Path
    base: Path
    folder: str
    secrets: Mapping[str, str] | None
    names: Mapping[str, list[str]]
    envs: dict[str, BoundedEnvironment] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)
    spent: set[tuple[str, str]] = field(default_factory=set)
    """(platform, template) refused or over a limit in this process: not rendered for its
    later devices (a process takes its devices in order, so what it skips comes after
    the first device that hit it, whose finding the replay keeps). A limit can take
    seconds to reach (the memory cap); once per device, that was hours at 4,500 switches."""

    def env(self, platform: str) -> BoundedEnvironment:
        if platform not in self.envs:
            self.envs[platform] = environment(ConfinedLoader(self.base, self.tfolder(platform)),
                                              self.secrets)
        return self.envs[platform]

    def tfolder(self, platform: str) -> str:
        return f"{self.folder}/{platform}" if self.folder else platform

    def __call__(self, hosts: Sequence[str]) -> list[Outcome]:
        """A share of the devices, rendered under the memory cap: what the process has by
        then (the pool's shared memory, the results so far) plus what a render may add."""
        with memory_cap():
            return [self.device(host) for host in hosts]

    def compile(self) -> None:
        """Compile every template now, so that forked workers inherit them compiled rather
        than each compiling its own. One that fails is left to the device that renders
        it first (its finding is made there, as without this)."""
        for platform, tnames in self.names.items():
            for tname in tnames:
                try:
                    self.env(platform).get_template(tname)
                except Exception:  # reported by the render itself
                    continue

    def shown(self, platform: str) -> str:
        """The platform's template folder as findings name it."""
        if platform not in self.folders:
            self.folders[platform] = _rel(self.base / self.tfolder(platform), self.root)
        return self.folders[platform]

    def device(self, host: str) -> Outcome:
        device = self.devices[host]
        env = self.env(device.platform)
        shown = self.shown(device.platform)
        outcome: Outcome = []
        for tname in self.names[device.platform]:
            if (device.platform, tname) in self.spent:
                continue
            found: list[Finding] = []
            text = _render_one(env, tname, device, host, f"{shown}/{tname}", self.root,
                               self.base, found)
            if text is not None and not _placeholders_declared(
                    text, self.secrets or {}, env, tname, f"{shown}/{tname}", host, found):
                text = None
            if text is None and any(f.code in SPENT for f in found):
                self.spent.add((device.platform, tname))
            outcome.append((tname, text, found))
        return outcome


def render(devices: dict[str, Device], root: Path, secrets: Mapping[str, str] | None = None,
           *, processes: int | None = None) -> tuple[dict[str, Rendered], list[Finding]]:
    """Every device's files from its platform's templates; ``secrets`` are the declared ones
    (name -> kind): a template may name no other.

    Devices render in worker processes (:mod:`pipeline.pool`; ``processes``
    overrides how many); the outcome is replayed in device order, so files and findings
    are the same as from one process: a template refused or over a limit is reported
    for the first device that hit it, and no later device renders it."""
    try:
        base, folder = template_source(root)
    except files.Refused as exc:
        return {}, [_refusal(exc, root, root)]
    findings: list[Finding] = []
    names: dict[str, list[str]] = {}
    todo: list[str] = []
    for name, device in devices.items():
        tfolder = f"{folder}/{device.platform}" if folder else device.platform
        if device.platform not in names:
            try:
                names[device.platform] = _names(base, tfolder)
            except files.Refused as exc:
                findings.append(_refusal(exc, root, base))
                names[device.platform] = []
                continue
            if not names[device.platform]:
                findings.append(Finding.at(Loc(_rel(base / tfolder, root)), "NP201",
                                           f"no templates for platform {device.platform!r}",
                                           f"add {device.platform}/<file>.j2 templates"))
        if names[device.platform]:
            todo.append(name)
    job = _Renderer(devices, root, base, folder, secrets, names)
    job.compile()
    outcomes = [o for part in pool.run(job, todo, processes=processes) for o in part]
    result: dict[str, Rendered] = {}
    spent: set[tuple[str, str]] = set()
    for name, outcome in zip(todo, outcomes, strict=True):
        platform = devices[name].platform
        rendered: dict[str, str] = {}
        for tname, text, found in outcome:
            if (platform, tname) in spent:
                continue
            findings += found
            if text is not None:
                rendered[tname.removesuffix(".j2")] = text
            elif any(f.code in SPENT for f in found):
                spent.add((platform, tname))
        result[name] = Rendered(name, platform, rendered)
    return result, findings


def _render_one(env: BoundedEnvironment, tname: str, device: Device, host: str, shown: str,
                root: Path, base: Path, findings: list[Finding]) -> str | None:
    """One template for one device, or a finding at the template's line.

    Whatever a template raises is the template's doing (or the data's, which the rules
    have already checked), so every exception is a finding here, never a crash.
    """
    try:
        return env.render_bounded(tname, d=device, fw=device.firewall)
    except TemplateRefused as exc:
        loc = _template_loc(exc, root, shown) if exc.by_name else Loc(_rel(base / exc.rel, root))
        findings.append(Finding.at(loc, "NP014", f"{host}: template {exc.rel} {exc.reason}",
                                   "templates are regular files inside the template folder, "
                                   "named by paths that stay inside it"))
    except UndeclaredSecret as exc:
        findings.append(Finding.at(_template_loc(exc, root, shown), "NP030", f"{host}: {exc}",
                                   "declare it in intent/network.yaml under secrets:, or use "
                                   "a secret that is declared"))
    except InjectionError as exc:
        findings.append(Finding.at(_template_loc(exc, root, shown), "NP202", f"{host}: {exc}",
                                   "intent strings must be single-line text"))
    except TemplateLimit as exc:
        findings.append(Finding.at(_template_loc(exc, root, shown), "NP203",
                                   f"{host}: template limit: {clip(exc)}", _SPELL))
    except MemoryError as exc:  # at the render's memory cap (environment.memory_cap)
        findings.append(Finding.at(_template_loc(exc, root, shown), "NP203",
                                   f"{host}: template limit: more memory than a render may "
                                   "use", _SPELL))
    except Exception as exc:  # any template error is a finding (see the docstring)
        findings.append(Finding.at(_template_loc(exc, root, shown), "NP201",
                                   f"{host}: template error: {type(exc).__name__}: "
                                   f"{clip(exc)}",
                                   "fix the template (undefined names are errors)"))
    return None


def _placeholders_declared(text: str, declared: Mapping[str, str], env: BoundedEnvironment,
                           tname: str, shown: str, host: str, findings: list[Finding]) -> bool:
    """Every placeholder in a rendered file names a declared secret (a placeholder written
    as literal template text passes no filter, so it is checked here)."""
    undeclared = sorted({n for n in PLACEHOLDER.findall(text) if n not in declared})
    for name in undeclared:
        line = 0
        source = env.loader.get_source(env, tname)[0] if env.loader else ""
        for number, row in enumerate(source.splitlines(), start=1):
            if placeholder(name) in row:
                line = number
                break
        findings.append(Finding.at(Loc(shown, line), "NP030",
                                   f"{host}: secret {name} is not declared under secrets: in "
                                   "intent/network.yaml", "a template names only declared "
                                   "secrets, through the secret filter"))
    return not undeclared


def write(rendered: dict[str, Rendered], out: Path) -> dict[str, dict[str, Path]]:
    """Write ``out/<host>/<file>``, replacing what a previous render left there."""
    if out.exists():
        shutil.rmtree(out)
    paths: dict[str, dict[str, Path]] = {}
    for host, item in sorted(rendered.items()):
        hdir = out / host
        hdir.mkdir(parents=True, exist_ok=True)
        paths[host] = {}
        for name, text in sorted(item.files.items()):
            path = hdir / name
            path.write_text(text, encoding="utf-8")
            paths[host][name] = path
    return paths
