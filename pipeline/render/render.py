"""Render every device's config files, byte-identical for the same input.

Each platform has a template directory ``templates/<platform>/``; every ``NAME.j2``
in it (not starting with ``_``) renders to ``build/configs/<host>/NAME``. A network
repository without ``templates/`` uses the templates shipped with netpipe.
"""

from __future__ import annotations

import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from pipeline.design import Device
from pipeline.findings import Finding, Loc
from pipeline.render.environment import InjectionError, environment

SHIPPED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Rendered:
    host: str
    platform: str
    files: dict[str, str]  # file name -> text


def template_root(root: Path) -> Path:
    local = root / "templates"
    return local if local.is_dir() else SHIPPED_TEMPLATES


def _template_loc(exc: BaseException, root: Path, fallback: str) -> Loc:
    """Where in a template an error happened (Jinja rewrites tracebacks to template lines)."""
    if isinstance(exc, TemplateSyntaxError) and exc.filename:
        return Loc(_rel(Path(exc.filename), root), exc.lineno or 0)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return Loc(_rel(Path(frame.filename), root), frame.lineno or 0)
    return Loc(fallback)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def render(devices: dict[str, Device], root: Path) -> tuple[dict[str, Rendered], list[Finding]]:
    troot = template_root(root)
    findings: list[Finding] = []
    result: dict[str, Rendered] = {}
    envs: dict[str, SandboxedEnvironment] = {}
    for name, device in devices.items():
        tdir = troot / device.platform
        templates = sorted(p for p in tdir.glob("*.j2") if not p.name.startswith("_"))
        if not templates:
            findings.append(Finding.at(Loc(_rel(tdir, root)), "NP201",
                                       f"no templates for platform {device.platform!r}",
                                       f"add {device.platform}/<file>.j2 templates"))
            continue
        env = envs.setdefault(device.platform, environment([tdir]))
        files: dict[str, str] = {}
        for path in templates:
            try:
                text = env.get_template(path.name).render(d=device, fw=device.firewall)
            except InjectionError as exc:
                findings.append(Finding.at(_template_loc(exc, root, _rel(path, root)), "NP202",
                                           f"{name}: {exc}",
                                           "intent strings must be single-line text"))
                continue
            except (TemplateError, TypeError, ValueError, AttributeError) as exc:
                findings.append(Finding.at(_template_loc(exc, root, _rel(path, root)), "NP201",
                                           f"{name}: template error: {exc}",
                                           "fix the template (undefined names are errors)"))
                continue
            files[path.name.removesuffix(".j2")] = text
        result[name] = Rendered(name, device.platform, files)
    return result, findings


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
