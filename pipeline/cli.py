"""``netpipe`` command line: composes the stages, prints, and sets exit codes.

Exit codes: 0 clean, 1 findings of severity error, 2 usage or setup error,
3 device or connection failure, 4 a deploy failed and was rolled back, 5 a bug in
netpipe itself (one line; the traceback with --debug), 6 the state store failed after
devices were changed (the outcome table is printed).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import pipeline
from pipeline import cli_args
from pipeline.build import GC_THRESHOLD, Build, build
from pipeline.render import cache, output
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


def _say_reused(result: Build, linted: bool = True) -> None:
    """How much of the estate this run built (on stderr: machine formats stay clean)."""
    if result.reused:
        built = len(result.devices) - result.reused
        done = "rendered and linted" if linted else "rendered"
        print(f"netpipe: {done} {built} of {len(result.devices)} devices; "
              f"{result.reused} unchanged since an earlier build ({cache.FOLDER})",
              file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    result = build(_root(args), incremental=args.cache, texts=False)
    _leave(result)
    _say_reused(result)
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
    result = build(root, run_lint=args.lint, out_prefix=_display(out, root),
                   incremental=args.cache)
    _leave(result)
    _say_reused(result, args.lint)
    hosts: dict[str, dict[str, object]] = {}
    if result.ok:
        paths = output.write(result.rendered, out, linted=args.lint)
        if not args.lint:
            print(f"netpipe: not linted (--no-lint), as {_display(out, root)}/"
                  f"{output.UNLINTED} says; validate and deploy always lint", file=sys.stderr)
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

    validate = command("validate", "check intent, inventory and rendered configs offline")
    c = command("render", "validate, then write build/configs/<host>/<file>")
    c.add_argument("--out", help="output directory (default: ROOT/build/configs)")
    c.add_argument("--no-lint", dest="lint", action="store_false",
                   help="skip the rendered-config lint (vtysh, nft, ifupdown2, the IOS "
                        "checks) for a quick look at a template change; the intent is still "
                        "checked, the output gets an _UNLINTED note, deploy always lints")
    for each in (validate, c):
        each.add_argument("--no-cache", dest="cache", action="store_false",
                          help=f"render and lint every device again (default: reuse "
                               f"{cache.FOLDER} for devices whose inputs did not change)")
    c = command("lab", "build, remove, show the namespace lab, or reboot one of its routers",
                ("text", "json"))
    c.add_argument("action", choices=("up", "down", "status", "reboot"))
    c.add_argument("--device", help="reboot: the lab router to power-cycle")
    cli_args.change_commands(command)
    cli_args.deploy_commands(command)
    c = command("note", "post or update the diff summary on the GitLab merge request", ("text",))
    c.add_argument("--file", default="build/diff/summary.md")
    return p


HANDLERS: dict[str, str | Callable[[argparse.Namespace], int]] = {
    "validate": cmd_validate, "render": cmd_render, "note": cmd_note,
    "lab": "pipeline.cli_lab:cmd_lab", "verify": "pipeline.cli_change:cmd_verify",
    "diff": "pipeline.cli_preview:cmd_diff", "drift": "pipeline.cli_change:cmd_drift",
    "deploy": "pipeline.cli_deploy:cmd_deploy", "rollback": "pipeline.cli_deploy:cmd_rollback",
    "lock": "pipeline.cli_deploy:cmd_lock",
}
"""Each command's handler; a string names one whose module is imported only when that
command runs, so that ``validate`` starts without NAPALM, Nornir or the state store."""


_LEFT: list[object] | None = None
"""What ``validate`` and ``render`` built, left for the end of the `netpipe` process (None
in-process: a caller's results are freed as usual)."""


def _leave(result: Build) -> None:
    if _LEFT is not None:
        _LEFT.append(result)


def main(argv: Sequence[str] | None = None) -> int:
    global _LEFT
    if argv is None:  # the `netpipe` process: a batch job that ends when the command does
        gc.set_threshold(*GC_THRESHOLD)
        _LEFT = []
        try:
            code = _main(None, pipeline.STARTED)
        finally:
            # What is alive now dies with the process: without this the collector would
            # traverse the whole build once more at exit (0.3 s at 5,002 devices).
            gc.freeze()
        if _LEFT:
            # A build's millions of objects freed one by one cost 0.1 s at 5,002 devices;
            # the system takes the memory back at once. Nothing else is pending then (the
            # workers, threads and temporary folders of a build end inside it).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    return _main(argv, time.monotonic())


def _main(argv: Sequence[str] | None, started: float) -> int:
    """Run one command; ``started`` is when its clock started (the process's start for the
    `netpipe` command, so reported times are the whole command's; called in-process, now)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    args.started = started
    handler = HANDLERS.get(args.command)
    try:
        if isinstance(handler, str):  # imported when the command runs (NAPALM, Nornir …)
            module, _, name = handler.partition(":")
            handler = getattr(importlib.import_module(module), name)
        assert handler is not None
        return handler(args)
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
