"""Run FRRouting daemons inside a lab namespace, with all their state in one private directory.

Measured on Debian 12 / FRR 8.4 (see design.md §4):

* Each daemon is started as ``ip netns exec NS /usr/lib/frr/<daemon> -d -F traditional -P 0
  --vty_socket DIR -z DIR/zserv.api -i DIR/<daemon>.pid --log file:DIR/frr.log -f /dev/null``.
  ``-z`` makes every daemon reach *this* namespace's zebra; ``-P 0`` disables the TCP vty so
  namespaces never fight over ports; ``-f /dev/null`` stops daemons from reading the host's
  ``/etc/frr`` per-daemon files.
* The daemons start as root and drop to user ``frr`` (``-u root -g root`` is refused because root is
  not in group ``frrvty``), so DIR is chowned to ``frr:frr`` and every ancestor must be
  world-traversable (a pytest ``tmp_path`` is not: use e.g. ``/tmp/np-...``).
* DIR gets a ``vtysh.conf`` with ``service integrated-vtysh-config`` first; otherwise
  ``frr-reload.py`` writes per-daemon files into ``/etc/frr``. DIR also doubles as frr-reload's
  ``--confdir``/``--rundir`` and vtysh's ``--config_dir``: ``DIR/frr.conf`` is the startup config.
* A fresh DIR starts with an empty ``frr.conf`` so the first deploy is a real change; after the
  daemons are up, ``vtysh -b`` loads ``DIR/frr.conf`` (the startup config) into them.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline import system
from pipeline.lab.netns import NetnsError, ns_exec, run

FRR_SBIN = Path("/usr/lib/frr")
FRR_RELOAD = Path(system.FRR_RELOAD.path)
DEFAULT_DAEMONS: tuple[str, ...] = ("zebra", "staticd", "ospfd", "bgpd")
VTYSH_CONF = "service integrated-vtysh-config\n"
FRR_USER = "frr"


class FrrError(RuntimeError):
    """FRR could not be started, stopped or queried; the message says why."""


def lab_missing() -> str:
    """What the lab lacks on this machine, by file and package ("" if nothing)."""
    return system.describe_missing(system.LAB)


def _frr_ids() -> tuple[int, int] | None:
    try:
        return pwd.getpwnam(FRR_USER).pw_uid, grp.getgrnam(FRR_USER).gr_gid
    except KeyError:
        return None


def prepare_rundir(rundir: str | os.PathLike[str]) -> Path:
    """Create ``rundir`` with ``vtysh.conf`` and an empty ``frr.conf`` (kept if present).

    Ownership goes to ``frr:frr`` because the daemons drop to that user before creating their
    sockets and pid files there.
    """
    path = Path(rundir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    for ancestor in path.parents:
        if not ancestor.stat().st_mode & stat.S_IXOTH:
            raise FrrError(
                f"{ancestor} is not traversable by user {FRR_USER}; put the FRR run directory "
                "under a world-traversable path such as /tmp or /run"
            )
    (path / "vtysh.conf").write_text(VTYSH_CONF)
    conf = path / "frr.conf"
    if not conf.exists():
        conf.write_text("")
    os.chmod(path, 0o755)
    ids = _frr_ids()
    if ids is not None and os.geteuid() == 0:
        for p in (path, path / "vtysh.conf", conf):
            os.chown(p, *ids)
    return path


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_our_daemon(pid: int, daemon: str, rundir: Path) -> bool:
    """Guard against pid reuse: the process must be ``daemon`` started for ``rundir``."""
    argv = _cmdline(pid)
    if not argv or Path(argv[0]).name != daemon:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and str(rundir / f"{daemon}.pid") in argv


def frr_pids(rundir: str | os.PathLike[str]) -> dict[str, int]:
    """Live daemons of ``rundir`` by name (from their pid files, checked against /proc)."""
    path = Path(rundir).resolve()
    pids: dict[str, int] = {}
    for pidfile in sorted(path.glob("*.pid")):
        daemon = pidfile.stem
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
        if _is_our_daemon(pid, daemon, path):
            pids[daemon] = pid
    return pids


def frr_running(rundir: str | os.PathLike[str]) -> bool:
    """True if this run directory's zebra is alive."""
    return "zebra" in frr_pids(rundir)


def _wait_for(path: Path, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise FrrError(f"{what}: {path} did not appear within {timeout}s\n{tail}")
        time.sleep(0.02)


def start_frr(
    ns: str,
    rundir: str | os.PathLike[str],
    daemons: Sequence[str] = DEFAULT_DAEMONS,
    *,
    timeout: float = 10.0,
) -> dict[str, int]:
    """Start ``daemons`` (zebra first) inside ``ns`` and load ``rundir/frr.conf``; return pids."""
    path = prepare_rundir(rundir)
    if frr_running(path):
        raise FrrError(f"FRR already running for {path}")
    order = ["zebra", *[d for d in daemons if d != "zebra"]]
    log = path / "frr.log"
    for daemon in order:
        binary = FRR_SBIN / daemon
        if not binary.is_file():
            raise FrrError(f"FRR daemon {binary} is not installed")
        (path / f"{daemon}.vty").unlink(missing_ok=True)
        argv = [
            str(binary), "-d", "-F", "traditional", "-P", "0",
            "--vty_socket", str(path),
            "-z", str(path / "zserv.api"),
            "-i", str(path / f"{daemon}.pid"),
            "--log", f"file:{log}",
            "-f", "/dev/null",
        ]  # fmt: skip
        try:
            ns_exec(ns, argv, timeout=timeout)
        except NetnsError as exc:
            stop_frr(path)
            raise FrrError(f"{daemon} failed to start in {ns}: {exc}") from exc
        _wait_for(path / f"{daemon}.vty", timeout, f"{daemon} in {ns}", log)
    try:
        ns_exec(ns, ["vtysh", "--vty_socket", str(path), "--config_dir", str(path), "-b"])
    except NetnsError as exc:
        stop_frr(path)
        raise FrrError(f"loading {path / 'frr.conf'} failed: {exc}") from exc
    return frr_pids(path)


def stop_frr(rundir: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
    """Stop this run directory's daemons by pid (SIGTERM, then SIGKILL). Idempotent."""
    path = Path(rundir).resolve()
    pids = frr_pids(path)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while pids and time.monotonic() < deadline:
            pids = {d: p for d, p in pids.items() if _is_our_daemon(p, d, path)}
            time.sleep(0.02)
        if not pids:
            break
    for pidfile in path.glob("*.pid"):
        pidfile.unlink(missing_ok=True)


def vtysh(rundir: str | os.PathLike[str], *commands: str, timeout: float = 30.0) -> str:
    """Run vtysh commands against this run directory's daemons; return stdout."""
    path = Path(rundir).resolve()
    argv = ["vtysh", "--vty_socket", str(path), "--config_dir", str(path)]
    for command in commands:
        argv += ["-c", command]
    return run(argv, timeout=timeout).stdout


def frr_reload(
    ns: str, rundir: str | os.PathLike[str], config_file: str | os.PathLike[str], *, test: bool
) -> str:
    """Run ``frr-reload.py --test|--reload`` inside ``ns`` for this run directory; return stdout."""
    path = str(Path(rundir).resolve())
    argv = [
        str(FRR_RELOAD), "--test" if test else "--reload", "--stdout",
        "--vty_socket", path, "--confdir", path, "--rundir", path, str(config_file),
    ]  # fmt: skip
    return ns_exec(ns, argv).stdout
