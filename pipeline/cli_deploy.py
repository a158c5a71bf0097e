"""``netpipe deploy | rollback | lock``: parses, calls the change stage, prints.

Which deployment to undo, which intent verifies a rollback and how a device's outcome is
classified are decided in ``pipeline.change`` (``history``, ``outcome``); this module only
turns arguments into those calls and their results into output and exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.build import build
from pipeline.change.deploy import Deployment
from pipeline.change.endstate import end_state
from pipeline.change.history import DEPLOYMENT_ID
from pipeline.change.journal import EXIT_ROLLED_BACK, DeployResult, Health, who
from pipeline.change.revision import RevisionError, deployed_revision, resolve, tree_at
from pipeline.change.rollback import Rollback, Verifier
from pipeline.change.seal import Sealer, SealError
from pipeline.change.store import LockHeld
from pipeline.change.targets import Target, TargetError, lab_targets, nornir_for
from pipeline.change.targets import production_targets as prod_targets
from pipeline.cli_change import (
    EXIT_OK,
    EXIT_USAGE,
    Context,
    Refused,
    _guard,
    _health,
    _platforms,
    _progress,
    _say_skipped,
    _store,
    check_lab,
    context,
    lab_prefix,
    say,
)
from pipeline.intent.parse import load_inventory
from pipeline.lab import lab
from pipeline.report import render_findings


def _print_result(result: DeployResult, args: argparse.Namespace, kind: str) -> None:
    took = time.monotonic() - args.started
    fmt = args.format
    if fmt == "json":
        print(json.dumps({
            "id": result.id, "exit_code": result.exit_code, "message": result.message,
            "batches": result.batches, "devices": result.devices(),
            "health": result.health.as_dict() if result.health else None,
            "store_error": result.store_error or None, "seconds": round(took, 1),
        }, indent=2))
        return
    if result.outcomes:
        say("")
        say("device           config      detail")
    for line in result.lines():
        say(line)
    # After a rolled-back batch the report shows the network *before* the revert: the
    # message names what failed, the end state says where the network is now.
    if (result.health is not None and not result.health.ok
            and result.exit_code != EXIT_ROLLED_BACK):
        say(result.health.text())
    state = end_state(result.outcomes, kind)
    if state and (result.exit_code != EXIT_OK or kind != "deploy"):
        say(state)
    if result.id:
        say(f"{kind} took {took:.1f} s (wall clock, the whole command)")


def _confirm(args: argparse.Namespace, ctx: Context) -> bool:
    if args.yes or not sys.stdin.isatty():
        return True
    answer = input(f"deploy to {len(ctx.targets)} device(s)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _sealer(lab_mode: bool) -> Sealer:
    try:
        return Sealer.for_lab() if lab_mode else Sealer.from_env()
    except SealError as exc:
        raise Refused(str(exc)) from None


def _deploy(args: argparse.Namespace, root: Path, ctx: Context, *, kind: str,
            revision: str, label: str, canary: list[str]) -> int:
    assert ctx.health is not None
    _say_skipped(ctx.skipped, say)
    unknown = [h for h in canary if h not in ctx.targets]
    if unknown:
        raise Refused(f"--canary names untargeted device(s): {', '.join(unknown)}")
    deployment = Deployment(
        nr=nornir_for(ctx.targets, args.workers), store=_store(args, root),
        configs=ctx.configs, platforms=_platforms(ctx), secrets=ctx.secrets,
        health=ctx.health, revision=revision, seal=_sealer(args.lab), revision_label=label,
        say=say, canary=canary, batch_size=args.batch_size,
        confirm_timeout=args.confirm_timeout, kind=kind)
    with _progress(f"{kind} in progress"):
        outcome = deployment.run()
    _print_result(outcome, args, kind)
    return outcome.exit_code


def cmd_deploy(args: argparse.Namespace) -> int:
    def run() -> int:
        root = Path(args.root).resolve()
        ctx = context(args, root)
        if not _confirm(args, ctx):
            say("not deployed")
            return EXIT_USAGE
        sha, label = deployed_revision(root)
        canary = [h.strip() for h in (args.canary or "").split(",") if h.strip()]
        return _deploy(args, root, ctx, kind="deploy", revision=sha, label=label,
                       canary=canary)

    return _guard(run)


def cmd_rollback(args: argparse.Namespace) -> int:
    return _guard(lambda: _rollback(args))


def _rollback(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    if args.to and not DEPLOYMENT_ID.fullmatch(args.to):
        return _rollback_to_revision(args, root, args.to)
    store = _store(args, root)
    hosts = sorted({h for r in store.deployments() for h in r.get("backups") or []})
    if args.lab:
        check_lab()
        targets = lab_targets(lab_prefix(), hosts)
        secret_source: Callable[[set[str]], dict[str, str]] = lab.lab_secrets
    else:
        inventory, findings = load_inventory(root)
        if findings:
            print(render_findings(findings, "text"))
            raise Refused("the inventory does not load")
        try:
            targets = prod_targets(inventory, root=root)
        except TargetError as exc:
            raise Refused(str(exc)) from None
        secret_source = _env_secrets
    limit = [h.strip() for h in (args.limit or "").split(",") if h.strip()]
    rollback = Rollback(nornir_for(targets, args.workers), store, _sealer(args.lab),
                        secret_source, _verifier(root, targets, args), say, args.force, limit,
                        args.to, "offline: origin unreachable" if args.offline else "")
    with _progress("rollback in progress"):
        outcome = rollback.run()
    _print_result(outcome, args, "rollback")
    if args.offline:
        say("offline: this rollback is recorded in the local netpipe-state branch only; the "
            "next netpipe run that reaches origin merges it there")
    return outcome.exit_code


def _env_secrets(names: set[str]) -> dict[str, str]:
    return {n: os.environ[n] for n in names if n in os.environ}


def _rollback_to_revision(args: argparse.Namespace, root: Path, rev: str) -> int:
    """``--to <git revision>``: render that intent and deploy it with the usual safety;
    the record keeps the commit id the revision named at this moment."""
    try:
        sha = resolve(root, rev)
        tree = tree_at(root, sha)
    except RevisionError as exc:
        raise Refused(str(exc)) from None
    with tree:
        old = build(Path(tree.name))
        if not old.ok:
            print(render_findings(old.findings, "text"))
            raise Refused(f"the intent at {rev} does not validate")
        ctx = context(args, root, old)
        label = rev if rev.startswith(sha[:7]) else f"{rev} = {sha[:12]}"
        return _deploy(args, root, ctx, kind="rollback-to", revision=sha, label=label,
                       canary=[])


def _verifier(root: Path, targets: dict[str, Target], args: argparse.Namespace) -> Verifier:
    """A health check for the intent at a revision, built only when the rollback knows it."""

    def verifier(revision: str | None) -> tuple[Health | None, str]:
        if revision is None:
            return None, ("no intent is known to describe the restored configs (they predate "
                          "netpipe's records, or the deployment before left devices in an "
                          "unknown state); run `netpipe verify` against the right revision")
        try:
            tree = tree_at(root, revision)
        except RevisionError as exc:
            return None, f"the intent at {revision[:12]} cannot be read: {exc}"
        with tree:
            intent = build(Path(tree.name), run_lint=False)
        if not intent.ok:
            return None, f"the intent at {revision[:12]} does not validate"
        return _health(intent, targets, args.health_wait, args.lab), ""

    return verifier


def cmd_lock(args: argparse.Namespace) -> int:
    """Who holds the network lock; ``--break`` removes a stale one (recorded)."""
    def run() -> int:
        store = _store(args, Path(args.root).resolve())
        info = store.break_lock(who()) if args.break_ else store.lock_info()
        if info is None:
            say("the network is not locked")
        elif args.break_:
            say(f"broke the lock of {info.holder} (since {info.since}, {info.reason}); recorded")
        else:
            say(str(LockHeld(info)).replace("the network is locked", "locked", 1))
        return EXIT_OK

    return _guard(run)
