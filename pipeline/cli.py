"""``netpipe`` command line: composes the stages, prints, and sets exit codes.

Exit codes: 0 clean, 1 findings of severity error, 2 usage or setup error,
3 device or connection failure, 4 a deploy failed and was rolled back.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.build import build
from pipeline.render.render import write
from pipeline.report import FORMATS, render_findings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_DEVICE, EXIT_ROLLED_BACK = 0, 1, 2, 3, 4


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
    result = build(root, out_prefix=_display(out, root))
    hosts: dict[str, dict[str, object]] = {}
    if result.ok:
        paths = write(result.rendered, out)
        hosts = {h: {"platform": result.rendered[h].platform,
                     "files": {n: str(p) for n, p in files.items()}}
                 for h, files in paths.items()}
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netpipe", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_)
        c.add_argument("--root", default=".", help="network repository (default: .)")
        c.add_argument("--format", choices=FORMATS, default="text")
        return c

    command("validate", "check intent, inventory and rendered configs offline")
    c = command("render", "validate, then write build/configs/<host>/<file>")
    c.add_argument("--out", help="output directory (default: ROOT/build/configs)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    handlers = {"validate": cmd_validate, "render": cmd_render}
    try:
        return handlers[args.command](args)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
