"""``netpipe diff | drift | verify``, and what every change command shares: the context
(validate, pick targets, fill secrets before any device is touched), the state store, the
health check and refusals (see ``pipeline.cli`` for exit codes; deploy, rollback and lock
are in ``pipeline.cli_deploy``)."""

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
from pipeline.change.journal import Health
from pipeline.change.store import Store, StoreError, default_kind, open_store
from pipeline.change.targets import Target, TargetError, lab_targets, nornir_for
from pipeline.change.targets import production_targets as prod_targets
from pipeline.cli_args import target
from pipeline.findings import Finding
from pipeline.lab import frr, lab
from pipeline.lab.plan import plan
from pipeline.owned import OutputRefused
from pipeline.report import render_findings
from pipeline.secrets import BadSecret, MissingSecret, ios_hash_problem
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
    """A rich spinner under the step lines on a terminal; plain lines only in CI. Asks
    the real stdout: rich counts FORCE_COLOR (set in many CI setups) as a terminal, and a
    spinner in a job log is a page of escape codes."""
    if console.is_terminal and sys.stdout.isatty():
        return console.status(what)
    return contextlib.nullcontext()


def lab_prefix() -> str:
    return os.environ.get("NETPIPE_LAB_PREFIX", "npl-")


TARGETS = ("production", "lab")


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
    login = network.ios_login
    if login is not None:  # the template says `secret 9`: the value must be that hash
        for name in (login.enable_hash_secret, login.break_glass.hash_secret):
            if (name in values and name not in dict(problems)
                    and (why := ios_hash_problem(values[name], login.hash_type)) is not None):
                problems.append((name, why))
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


def diff_out(args: argparse.Namespace, root: Path) -> Path:
    """Where ``diff`` writes, refused before anything is built or contacted."""
    out = Path(args.out) if args.out else root / "build" / "diff"
    if not out.is_absolute():
        out = Path.cwd() / out
    try:
        diffs.check_out(out, root)
    except OutputRefused as exc:
        raise Refused(f"diff --out refused, nothing written: {exc}") from None
    return out


def _run_diff(args: argparse.Namespace, drift: bool) -> int:
    root = Path(args.root).resolve()
    out = None if drift else diff_out(args, root)
    ctx = context(args, root)
    nr = nornir_for(ctx.targets, args.workers)
    report = diffs.run_diff(nr, ctx.configs, _platforms(ctx), ctx.secrets, commands=True)
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
    if out is not None:
        diffs.write(report, out, extra, md_extra)
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


# --------------------------------------------------------------------------- errors


def guard(run: Callable[[], int]) -> int:
    """Refusals and store errors become exit 2 with their message."""
    return _guard(run)


def _guard(run: Callable[[], int]) -> int:
    try:
        if target() not in TARGETS:
            raise Refused(f"NETPIPE_TARGET={target()!r}: use one of {', '.join(TARGETS)}")
        return run()
    except (Refused, StoreError, BadSecret) as exc:
        print(f"netpipe: {exc}", file=sys.stderr)
        if isinstance(exc, StoreError) and ("reach" in str(exc) or "cannot push" in str(exc)):
            print("netpipe: origin is unreachable; in an emergency `netpipe rollback --offline`"
                  " works from this clone's copy of the state", file=sys.stderr)
        return EXIT_USAGE
