"""``netpipe diff | deploy | rollback | drift``: composes build, targets, store and the
change stage, prints, and sets exit codes (see ``pipeline.cli``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import napalm
from rich.console import Console

from pipeline.build import Build, build
from pipeline.change import diff as diffs
from pipeline.change.candidate import candidate, needed_secrets
from pipeline.change.deploy import Deployment
from pipeline.change.history import DEPLOYMENT_ID
from pipeline.change.journal import DeployResult, Health, who
from pipeline.change.revision import RevisionError, deployed_revision, resolve, tree_at
from pipeline.change.rollback import Rollback, Verifier
from pipeline.change.seal import Sealer, SealError
from pipeline.change.store import LockHeld, Store, StoreError, default_kind, open_store
from pipeline.change.targets import Target, TargetError, lab_targets, nornir_for
from pipeline.change.targets import production_targets as prod_targets
from pipeline.findings import Finding
from pipeline.intent.parse import load_inventory
from pipeline.lab import frr, lab
from pipeline.lab.plan import plan
from pipeline.report import render_findings
from pipeline.secrets import BadSecret, MissingSecret
from pipeline.secrets import check as check_secret_values
from pipeline.verify.checks import Observer, expectations
from pipeline.verify.run import Report, verify

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_DEVICE = 0, 1, 2, 3
console = Console(highlight=False, soft_wrap=True)


class Refused(Exception):
    """A usage or setup problem: exit 2 with this message, nothing touched."""


def say(message: str) -> None:
    console.print(message, markup=False)


def _progress(what: str) -> contextlib.AbstractContextManager[object]:
    """A rich spinner under the step lines on a terminal; plain lines only in CI."""
    if console.is_terminal:
        return console.status(what)
    return contextlib.nullcontext()


def lab_prefix() -> str:
    return os.environ.get("NETPIPE_LAB_PREFIX", "npl-")


@dataclass
class Context:
    root: Path
    result: Build
    targets: dict[str, Target]
    secrets: dict[str, str]
    configs: dict[str, str]
    health: Health | None
    skipped: dict[str, str]  # devices not targeted, and why


def _driver(t: Target) -> Observer:
    drv = napalm.get_network_driver(t.platform)(t.hostname, t.username, t.password,
                                                optional_args=dict(t.optional_args))
    drv.open()
    return drv  # type: ignore[no-any-return]


def _health(result: Build, targets: Mapping[str, Target], wait: float,
            lab_mode: bool) -> Health:
    assert result.intent is not None
    expect = {d: e for d, e in expectations(result.intent, result.devices).items()
              if d in targets}
    labplan = plan(result.intent, result.devices, lab_prefix()) if lab_mode else None
    firewall = next((d.firewall for d in result.devices.values() if d.firewall), None)

    def health(*, probes: bool, settled: Callable[[Report], bool] | None = None) -> Report:
        opened: dict[str, Observer] = {}

        def connect(device: str) -> Observer:
            if device not in opened:
                opened[device] = _driver(targets[device])
            return opened[device]

        try:
            return verify(expect, connect, wait=wait, settled=settled,
                          lab=labplan if probes else None, firewall=firewall)
        finally:
            for drv in opened.values():
                drv.close()  # type: ignore[attr-defined]

    return health


def _limit(targets: dict[str, Target], limit: str | None) -> dict[str, Target]:
    if not limit:
        return targets
    wanted = [h.strip() for h in limit.split(",") if h.strip()]
    unknown = [h for h in wanted if h not in targets]
    if unknown:
        raise Refused(f"--limit names unknown or untargeted device(s): {', '.join(unknown)}")
    return {h: targets[h] for h in wanted}


def _secrets(names: set[str], lab_mode: bool) -> dict[str, str]:
    if lab_mode:
        return lab.lab_secrets(names)
    missing = sorted(n for n in names if n not in os.environ)
    if missing:
        raise Refused("secrets not set: export " + ", ".join(missing))
    return {n: os.environ[n] for n in names}


def check_lab() -> None:
    """The lab needs root (network namespaces) and FRR."""
    if os.geteuid() != 0:
        raise Refused("the lab needs root (network namespaces); run with sudo")
    if missing := frr.lab_missing():
        raise Refused(f"the lab cannot run here: {missing}")


def context(args: argparse.Namespace, root: Path, result: Build | None = None) -> Context:
    """Validate, pick targets, fill secrets: everything before any device is touched."""
    result = result or build(root)
    if not result.ok or result.intent is None:
        print(render_findings(result.findings, "text"))
        raise SystemExit(EXIT_FINDINGS)
    skipped: dict[str, str] = {}
    if args.lab:
        check_lab()
        labplan = plan(result.intent, result.devices, lab_prefix())
        running = lab.status(labplan).frr
        if not all(running.get(ns) for ns in labplan.routers.values()):
            raise Refused("the lab is not up: run `netpipe lab up` first")
        targets = lab_targets(labplan.prefix, labplan.routers)
        skipped = {h: "not emulated in the lab (ios)" for h in result.devices
                   if h not in targets}
    else:
        try:
            targets = prod_targets(result.intent.hosts, root=root)
        except TargetError as exc:
            raise Refused(str(exc)) from None
    targets = _limit(targets, args.limit)
    rendered = {h: result.rendered[h] for h in targets}
    secrets = _secrets(needed_secrets(rendered), args.lab)
    _check_secrets(result, secrets)
    try:
        configs = {h: candidate(rendered[h], secrets) for h in targets}
    except MissingSecret as exc:
        raise Refused(f"secret {exc} is not set") from None
    wait: float = args.health_wait
    return Context(root, result, targets, secrets, configs,
                   _health(result, targets, wait, args.lab), skipped)


def _check_secrets(result: Build, values: Mapping[str, str]) -> None:
    """Every secret a config needs is declared and its value fits its kind, before any is
    filled in: findings at the declarations (NP032), naming variables, never values."""
    assert result.intent is not None
    network = result.intent.network
    problems = check_secret_values(values, network.secrets)
    if problems:
        print(render_findings([Finding.at(
            network.at_entry("secrets", name), "NP032", f"secret {name} {why}",
            "fix the variable's value in the CI/CD settings or the environment; nothing was "
            "sent to any device") for name, why in problems], "text"))
        raise Refused("secret values unfit for a config: "
                      + ", ".join(name for name, _ in problems) + "; no device was touched")


def _say_skipped(skipped: Mapping[str, str], out: Callable[[str], None]) -> None:
    by_reason: dict[str, list[str]] = {}
    for host, why in sorted(skipped.items()):
        by_reason.setdefault(why, []).append(host)
    for why, hosts in by_reason.items():
        out(f"skipped, {why}: {', '.join(hosts)}")


def _store(args: argparse.Namespace, root: Path) -> Store:
    """The network's one state store (see ``store.default_kind``); a local-only one is
    announced on stderr every time."""
    kind, warning = default_kind(root, args.state or os.environ.get("NETPIPE_STATE") or None)
    if warning:
        print(f"netpipe: {warning}", file=sys.stderr)
    return open_store(root, kind, args.state_dir, offline=getattr(args, "offline", False))


def _platforms(ctx: Context) -> dict[str, str]:
    return {h: t.platform for h, t in ctx.targets.items()}


# --------------------------------------------------------------------------- diff / drift


def _run_diff(args: argparse.Namespace, drift: bool) -> int:
    root = Path(args.root).resolve()
    ctx = context(args, root)
    nr = nornir_for(ctx.targets, args.workers)
    report = diffs.run_diff(nr, ctx.configs, _platforms(ctx), ctx.secrets)
    extra: dict[str, object] = {}
    md_extra = ""
    if getattr(args, "base", None):
        from pipeline.change.blast import BlastError, blast_radius

        try:
            radius = blast_radius(root, args.base, ctx.result)
        except BlastError as exc:
            raise Refused(str(exc)) from None
        extra["blast_radius"] = radius.as_dict()
        md_extra = "\n" + radius.markdown()
    if ctx.skipped:
        extra["skipped"] = ctx.skipped
    if not drift:
        diffs.write(report, Path(args.out) if args.out else root / "build" / "diff", extra,
                    md_extra)
    if args.format == "json":
        print(diffs.as_json(report, extra))
    elif args.format == "markdown":
        print(diffs.as_markdown(report, "netpipe drift" if drift else "netpipe diff") + md_extra)
    else:
        print(diffs.as_text(report))
        _say_skipped(ctx.skipped, print)
        if md_extra:
            print(md_extra)
    if any(not d.reachable or d.error for d in report.values()):
        bad = sorted(h for h, d in report.items() if not d.reachable or d.error)
        print(f"netpipe: could not diff {', '.join(bad)}", file=sys.stderr)
        return EXIT_DEVICE
    if drift and any(d.changed for d in report.values()):
        return EXIT_FINDINGS
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    return _guard(lambda: _run_diff(args, drift=False))


def cmd_drift(args: argparse.Namespace) -> int:
    return _guard(lambda: _run_diff(args, drift=True))


# --------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace) -> int:
    def run() -> int:
        ctx = context(args, Path(args.root).resolve())
        assert ctx.health is not None
        report = ctx.health(probes=args.lab and args.probes)
        print(json.dumps(report.as_dict(), indent=2) if args.format == "json"
              else report.text())
        return EXIT_OK if report.ok else EXIT_FINDINGS

    return _guard(run)


# --------------------------------------------------------------------------- deploy / rollback


def _print_result(result: DeployResult, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({
            "id": result.id, "exit_code": result.exit_code, "message": result.message,
            "batches": result.batches, "devices": result.devices(),
            "health": result.health.as_dict() if result.health else None,
            "store_error": result.store_error or None,
        }, indent=2))
        return
    if result.outcomes:
        say("")
        say("device           config      detail")
    for line in result.lines():
        say(line)
    if result.health is not None and not result.health.ok:
        say(result.health.text())


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
    _print_result(outcome, args.format)
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
    _print_result(outcome, args.format)
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


def guard(run: Callable[[], int]) -> int:
    """Refusals and store errors become exit 2 with their message."""
    return _guard(run)


def _guard(run: Callable[[], int]) -> int:
    try:
        return run()
    except (Refused, StoreError, BadSecret) as exc:
        print(f"netpipe: {exc}", file=sys.stderr)
        if isinstance(exc, StoreError) and ("reach" in str(exc) or "cannot push" in str(exc)):
            print("netpipe: origin is unreachable; in an emergency `netpipe rollback --offline`"
                  " works from this clone's copy of the state", file=sys.stderr)
        return EXIT_USAGE


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


# --------------------------------------------------------------------------- arguments


def add_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    def common(c: argparse.ArgumentParser) -> None:
        c.add_argument("--lab", action="store_true", help="target the namespace lab")
        c.add_argument("--limit", help="comma-separated devices (default: all)")
        c.add_argument("--workers", type=int, default=10, help="Nornir num_workers")
        c.set_defaults(health_wait=30.0)

    def state(c: argparse.ArgumentParser) -> None:
        c.add_argument("--state", choices=("fs", "git"),
                       help="state store: fs (default, .netpipe/state) or git (a branch)")
        c.add_argument("--state-dir",
                       help="fs store: its directory; git store: its branch (netpipe-state)")
        c.add_argument("--health-wait", type=float, default=30.0,
                       help="seconds to wait for routing to converge in health checks")

    plain, diffs_ = ("text", "json"), ("text", "json", "markdown")
    c = command("verify", "check adjacencies, sessions, routes and (lab) the firewall probes",
                plain)
    common(c)
    c.add_argument("--wait", dest="health_wait", type=float, default=30.0,
                   help="seconds to wait for routing to converge (default 30)")
    c.add_argument("--no-probes", dest="probes", action="store_false",
                   help="skip the lab's firewall probes")
    c = command("diff", "dry-run: what a change would do to each device", diffs_)
    common(c)
    c.add_argument("--base", help="git revision: also show the blast radius since it")
    c.add_argument("--offline", action="store_true",
                   help="no device: the intended configs against those at --base")
    c.add_argument("--out", help="where to write the diffs (default: ROOT/build/diff)")
    c = command("drift", "running vs intended config per device; exit 1 on drift", diffs_)
    common(c)
    c = command("deploy", "push with a lock, backups, canary, commit-confirm and health checks",
                plain)
    common(c)
    state(c)
    c.add_argument("--canary", help="devices to change first, alone")
    c.add_argument("--batch-size", type=int, default=1)
    c.add_argument("--confirm-timeout", type=int, default=120,
                   help="seconds before an unconfirmed commit reverts on the device")
    c.add_argument("--yes", action="store_true", help="do not ask on a terminal")
    c = command("rollback", "emergency: every device back to its last known-good config",
                plain)
    common(c)
    state(c)
    c.add_argument("--last-known-good", action="store_true",
                   help="restore the backups of the last deployment (the default)")
    c.add_argument("--to", help="a deployment id: restore the backups taken before it; a git "
                                "revision: render that intent and deploy it")
    c.add_argument("--force", action="store_true",
                   help="break the network lock first (recorded): a running deploy stops")
    c.add_argument("--offline", action="store_true",
                   help="origin is unreachable: work from this clone's copy of the state "
                        "branch and merge the record into origin on the next run")
    c.set_defaults(batch_size=100, confirm_timeout=120, canary=None, yes=True)
    c = command("lock", "show who holds the network lock, or --break a stale one", ("text",))
    c.add_argument("--break", dest="break_", action="store_true")
    c.add_argument("--state", choices=("fs", "git"))
    c.add_argument("--state-dir")
