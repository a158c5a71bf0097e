"""The arguments of the change commands (verify, diff, drift, deploy, rollback, lock).

Kept apart from the commands themselves so that building the parser imports nothing
heavy: ``netpipe validate`` never loads NAPALM, Nornir or the state store.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable


def target() -> str:
    """``NETPIPE_TARGET``: production (the default) or lab, for a CI runner that hosts the
    namespace lab; ``lab`` makes ``--lab`` the default of every device command."""
    return os.environ.get("NETPIPE_TARGET") or "production"


def common_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("--lab", action="store_true", default=target() == "lab",
                   help="target the namespace lab (default when NETPIPE_TARGET=lab)")
    c.add_argument("--limit", help="comma-separated devices (default: all)")
    c.add_argument("--workers", type=int, default=10, help="Nornir num_workers")
    c.set_defaults(health_wait=30.0)


def state_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("--state", choices=("fs", "git"),
                   help="state store: git (the netpipe-state branch on origin, the default "
                        "wherever there is an origin) or fs (.netpipe/state, this clone only)")
    c.add_argument("--state-dir",
                   help="fs store: its directory; git store: its branch (netpipe-state)")
    c.add_argument("--health-wait", type=float, default=30.0,
                   help="seconds to wait for routing to converge in health checks")


def change_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    plain, diffs_ = ("text", "json"), ("text", "json", "markdown")
    c = command("verify", "check adjacencies, sessions, routes and (lab) the firewall probes",
                plain)
    common_args(c)
    c.add_argument("--wait", dest="health_wait", type=float, default=30.0,
                   help="seconds to wait for routing to converge (default 30)")
    c.add_argument("--no-probes", dest="probes", action="store_false",
                   help="skip the lab's firewall probes")
    c = command("diff", "dry-run: what a change would do to each device", diffs_)
    common_args(c)
    c.add_argument("--base", help="git revision: also show the blast radius since it")
    c.add_argument("--offline", action="store_true",
                   help="no device: the intended configs against those at --base")
    c.add_argument("--out", help="where to write the diffs (default: ROOT/build/diff)")
    c = command("drift", "running vs intended config per device; exit 1 on drift", diffs_)
    common_args(c)


def deploy_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    plain = ("text", "json")
    c = command("deploy", "push with a lock, backups, canary, commit-confirm and health checks",
                plain)
    common_args(c)
    state_args(c)
    c.add_argument("--canary", help="devices to change first, alone")
    c.add_argument("--batch-size", type=int, default=1)
    c.add_argument("--confirm-timeout", type=int, default=120,
                   help="seconds before an unconfirmed commit reverts on the device")
    c.add_argument("--yes", action="store_true", help="do not ask on a terminal")
    c = command("rollback", "emergency: every device back to its last known-good config",
                plain)
    common_args(c)
    state_args(c)
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
