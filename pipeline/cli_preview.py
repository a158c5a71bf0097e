"""``netpipe diff --offline --base REV``: the merge-request preview with no device.

Parses nothing itself and decides nothing: builds the working tree, asks
``pipeline.change.offline`` for the per-device diff of intended configs and the blast
radius, writes ``build/diff/`` (``summary.md`` is the merge-request note) and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline import cli_args, cli_change
from pipeline.build import build
from pipeline.change import diff as diffs
from pipeline.change.offline import PreviewError, preview
from pipeline.report import render_findings

EXIT_OK, EXIT_FINDINGS = 0, 1
NO_DEVICE = ("No device was contacted: both sides are rendered from intent, secrets stay "
             "placeholders. The live diff against the running devices is the deploy job's "
             "first step.")


def cmd_diff(args: argparse.Namespace) -> int:
    """``netpipe diff``: offline with ``--offline``, else against the devices."""
    if not args.offline:
        return cli_change.cmd_diff(args)
    return cli_change.guard(lambda: _offline(args))


def _offline(args: argparse.Namespace) -> int:
    if not args.base:
        raise cli_change.Refused("--offline needs --base REV: the revision to compare with")
    if args.lab and cli_args.target() != "lab":
        raise cli_change.Refused("--offline contacts no device; drop --lab")
    root = Path(args.root).resolve()
    out = cli_change.diff_out(args, root)
    result = build(root)
    if not result.ok:
        print(render_findings(result.findings, "text"))
        return EXIT_FINDINGS
    try:
        found = preview(root, args.base, result)
    except PreviewError as exc:
        raise cli_change.Refused(str(exc)) from None
    hosts = found.hosts
    if args.limit:
        wanted = {h.strip() for h in args.limit.split(",") if h.strip()}
        if unknown := sorted(wanted - hosts.keys()):
            raise cli_change.Refused(f"--limit names unknown device(s): {', '.join(unknown)}")
        hosts = {h: d for h, d in hosts.items() if h in wanted}
    title = f"netpipe diff --offline: intended configs, {found.head} against {found.base[:12]}"
    notes = [n for n in (found.note, NO_DEVICE) if n]
    extra: dict[str, object] = {"offline": True, "base": found.base, "head": found.head,
                                "notes": notes, "blast_radius": found.radius.as_dict()}
    markdown = "\n" + found.radius.markdown() + "".join(f"\n> {n}\n" for n in notes)
    diffs.write(hosts, out, extra, markdown, title)
    if args.format == "json":
        print(diffs.as_json(hosts, extra))
    elif args.format == "markdown":
        print(diffs.as_markdown(hosts, title) + markdown)
    else:
        print(f"{title}\n")
        print(diffs.as_text(hosts))
        print()
        print(found.radius.text())
        for note in notes:
            print(note)
        print(f"merge-request note: {_shown(out / 'summary.md', root)}")
    return EXIT_OK


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
