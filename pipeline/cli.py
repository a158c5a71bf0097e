"""``netpipe`` command line: composes the stages, prints, and sets exit codes.

Exit codes: 0 clean, 1 findings of severity error, 2 usage or setup error,
3 device or connection failure, 4 a deploy failed and was rolled back, 5 a bug in
netpipe itself (one line; the traceback with --debug), 6 the state store failed after
devices were changed (the outcome table is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import pipeline
from pipeline import cli_change, cli_deploy, cli_preview
from pipeline.build import Build, build
from pipeline.change.candidate import needed_secrets
from pipeline.lab import lab
from pipeline.lab.plan import LabPlan, plan
from pipeline.render import output
from pipeline.report import FORMATS, render_findings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_DEVICE, EXIT_ROLLED_BACK, EXIT_BUG = 0, 1, 2, 3, 4, 5


def _root(args: argparse.Namespace) -> Path:
    root = Path(args.root).resolve()
    if not root.is_dir():
        raise SystemExit(_usage(f"--root {args.root}: no such directory"))
    return root


def _usage(message: str) -> int:
    print(f"netpipe: {message}", file=sys.stderr)
    return EXIT_USAGE


def cmd_validate(args: argparse.Namespace) -> int:
    result = build(_root(args))
    print(render_findings(result.findings, args.format))
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def cmd_render(args: argparse.Namespace) -> int:
    root = _root(args)
    out = Path(args.out) if args.out else root / "build" / "configs"
    if not out.is_absolute():
        out = Path.cwd() / out
    try:
        output.check(out, root)
    except output.OutputRefused as exc:
        return _usage(f"render --out refused, nothing written: {exc}")
    result = build(root, out_prefix=_display(out, root))
    hosts: dict[str, dict[str, object]] = {}
    if result.ok:
        paths = output.write(result.rendered, out)
        hosts = {h: {"platform": result.rendered[h].platform,
                     "files": {n: str(p) for n, p in files.items()}}
                 for h, files in paths.items()}
    elif output.mark_stale(out, "the last render failed with findings"):
        print(f"netpipe: the previous render in {_display(out, root)} is kept and marked "
              f"stale ({output.STALE})", file=sys.stderr)
    if args.format == "json":
        print(json.dumps({"hosts": hosts, "findings": [f.as_dict() for f in result.findings]},
                         indent=2))
    elif args.format == "text":
        for host, info in hosts.items():
            files = info["files"]
            assert isinstance(files, dict)
            print(f"{host:<16} {info['platform']:<4} {', '.join(sorted(files))}")
        if hosts:
            print(f"rendered {len(hosts)} device(s) into {_display(out, root)}")
        if result.findings or not hosts:
            print(render_findings(result.findings, "text"))
    else:
        print(render_findings(result.findings, args.format))
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _lab_plan(root: Path) -> tuple[Build, LabPlan] | int:
    result = build(root, run_lint=False)
    if not result.ok or result.intent is None:
        print(render_findings(result.findings, "text"))
        return EXIT_FINDINGS
    return result, plan(result.intent, result.devices, cli_change.lab_prefix())


def _need_root() -> int | None:
    try:
        cli_change.check_lab()
    except cli_change.Refused as exc:
        return _usage(str(exc))
    return None


def cmd_lab(args: argparse.Namespace) -> int:
    if args.action == "down":
        if (code := _need_root()) is not None:
            return code
        removed = lab.down(cli_change.lab_prefix())
        print(f"lab down: removed {len(removed)} namespace(s)")
        return EXIT_OK
    planned = _lab_plan(_root(args))
    if isinstance(planned, int):
        return planned
    result, labplan = planned
    if args.action == "reboot":
        if (code := _need_root()) is not None:
            return code
        if args.device not in labplan.routers:
            return _usage(f"lab reboot: --device must name a lab router "
                          f"({', '.join(sorted(labplan.routers))})")
        lab.reboot(labplan.prefix, args.device)
        print(f"lab reboot: {args.device} powered off and booted from what it had saved")
        return EXIT_OK
    if args.action == "up":
        if (code := _need_root()) is not None:
            return code
        started = time.monotonic()
        built = lab.up(labplan, lab.lab_secrets(needed_secrets(result.rendered)))
        took = time.monotonic() - started
        state = f"built in {took:.1f} s" if built else "already up, nothing to do"
        print(f"lab up: {len(labplan.routers)} routers, {len(labplan.peers)} peers, "
              f"{len(labplan.hosts)} test hosts, {len(labplan.namespaces)} namespaces: {state}")
        return EXIT_OK
    st = lab.status(labplan)
    if args.format == "json":
        print(json.dumps(_lab_json(labplan, st), indent=2))
    else:
        print(f"lab {'up' if st.complete else 'down' if st.empty else 'INCOMPLETE'} "
              f"(prefix {labplan.prefix})")
        for device, ns in sorted(labplan.routers.items()):
            running = "frr running" if st.frr.get(ns) else "frr NOT running"
            print(f"  {device:<16} {ns:<20} {running}  "
                  f"vtysh --vty_socket {lab.rundir(labplan.prefix, ns)}")
    return EXIT_OK


def _lab_json(labplan: LabPlan, st: lab.Status) -> dict[str, object]:
    devices = {}
    for device, ns in sorted(labplan.routers.items()):
        params = lab.napalm_params(labplan.prefix, device)
        devices[device] = {"namespace": ns, "vty_socket": str(lab.rundir(labplan.prefix, ns)),
                           "exists": st.namespaces.get(ns, False),
                           "frr_running": st.frr.get(ns, False), "napalm": params}
    return {
        "prefix": labplan.prefix, "up": st.complete, "devices": devices,
        "peers": {p.name: {"namespace": p.ns, "asn": p.asn, "address": str(p.address)}
                  for p in labplan.peers},
        "hosts": {h.name: {"namespace": h.ns, "address": str(h.address), "zone": h.zone}
                  for h in labplan.hosts},
    }


def cmd_note(args: argparse.Namespace) -> int:
    from pipeline.ci.note import NoteError, post

    try:
        print(f"merge-request note {post(Path(args.file).read_text(), os.environ)}")
    except (NoteError, OSError) as exc:
        return _usage(f"note: {exc}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netpipe", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, help_: str,
                formats: Sequence[str] = FORMATS) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_)
        c.add_argument("--root", default=".", help="network repository (default: .)")
        c.add_argument("--format", choices=formats, default="text")
        c.add_argument("--debug", action="store_true",
                       help="on an internal error, print the traceback")
        return c

    command("validate", "check intent, inventory and rendered configs offline")
    c = command("render", "validate, then write build/configs/<host>/<file>")
    c.add_argument("--out", help="output directory (default: ROOT/build/configs)")
    c = command("lab", "build, remove, show the namespace lab, or reboot one of its routers",
                ("text", "json"))
    c.add_argument("action", choices=("up", "down", "status", "reboot"))
    c.add_argument("--device", help="reboot: the lab router to power-cycle")
    cli_change.add_commands(command)
    cli_deploy.add_commands(command)
    c = command("note", "post or update the diff summary on the GitLab merge request", ("text",))
    c.add_argument("--file", default="build/diff/summary.md")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    # As the `netpipe` command (argv from the process) the clock starts at netpipe's import,
    # so reported times are the whole command's; called in-process, at this call.
    started = pipeline.STARTED if argv is None else time.monotonic()
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    args.started = started
    handlers = {"validate": cmd_validate, "render": cmd_render, "lab": cmd_lab,
                "verify": cli_change.cmd_verify, "diff": cli_preview.cmd_diff,
                "deploy": cli_deploy.cmd_deploy, "rollback": cli_deploy.cmd_rollback,
                "drift": cli_change.cmd_drift, "note": cmd_note,
                "lock": cli_deploy.cmd_lock}
    try:
        return handlers[args.command](args)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    except Exception as exc:
        return _bug(exc, args.debug)


def _bug(exc: Exception, debug: bool) -> int:
    """A bug in netpipe: one line, not a traceback that could quote a secret or a file.

    The exception's message is not printed either (it may hold a value netpipe read);
    ``--debug`` shows the whole traceback to whoever runs it.
    """
    if debug:
        traceback.print_exception(exc)
    print(f"netpipe: internal error ({type(exc).__name__}): this is a bug in netpipe, not in "
          "your network; run again with --debug for the traceback and report it",
          file=sys.stderr)
    return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
