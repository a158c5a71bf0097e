"""NAPALM driver for Linux hosts running FRRouting and nftables (platform ``frr``).

Two config targets per device, handled as one candidate (see :mod:`napalm_frr.bundle`):

* ``frr.conf``: checked with ``vtysh -C -f`` at load time, compared with ``frr-reload.py --test``
  (the source of truth for "is there a change"), applied with ``frr-reload.py --reload``.
  Lines that can never converge (``hostname``, ``frr version``/``frr defaults``, positive
  ``ip forwarding``) are handled as described in :mod:`napalm_frr.frrconf`. The hostname is
  never pushed: ``get_facts()['hostname']`` reports the one declared by the last committed
  frr.conf (kept in the state directory), else the host's.
* ``nftables.conf``: only ``table inet netpipe``; checked with ``nft -c -f`` inside the device,
  compared in canonical form, applied atomically (see :mod:`napalm_frr.nft`).

and the box's own files (see :mod:`napalm_frr.boxfiles`):

* ``interfaces``: ``/etc/network/interfaces``, checked with ``ifup -a -s -i`` at load time,
  applied with ``ifreload -a`` (which removes what left the file), verified with ``ifquery -c``.
* ``sysctl.conf``: ``/etc/sysctl.d/90-netpipe.conf``, applied with ``sysctl -p``, verified by
  reading each key back from the kernel.
* router services: ``resolv.conf`` (``/etc/resolv.conf``), ``chrony.conf``, ``snmpd.conf``,
  ``rsyslog.conf`` (``/etc/rsyslog.d/90-netpipe.conf``), each checked with its daemon's own
  parser where it has one, applied by restarting the daemon, verified by its running.

Commits back up every target into the device's state directory first and restore all if
anything fails; ``commit_config(revert_in=N)`` starts a detached timer *on the device* that
restores the backup unless ``confirm_commit()`` comes first (see :mod:`napalm_frr.device`).

optional_args:

==================  =============================================================================
``transport``       ``"ssh"`` (default) or ``"netns"`` (lab)
``netns``           namespace name (netns transport)
``root_dir``        netns: where the lab box keeps its own directories (``transport.BOX_DIRS``;
                    default ``/run/netpipe/<netns>/root``)
``vty_socket``      FRR vty socket directory (default ``/var/run/frr``)
``confdir``         FRR config directory for vtysh/frr-reload (default: ``vty_socket`` for netns,
                    ``/etc/frr`` for ssh)
``rundir``          frr-reload ``--rundir`` (default: ``vty_socket``)
``state_dir``       driver state on the device (default ``/var/lib/netpipe`` for ssh,
                    ``/run/netpipe/<netns>`` for netns)
``frr_reload``      path of frr-reload.py (default ``/usr/lib/frr/frr-reload.py``)
``port``            ssh port (default 22)
``key_file``        ssh private key file
``sudo``            run every command through ``sudo -n`` (ssh)
``known_hosts_file``  verify the host key strictly against this file (ssh); without it against
                    the user's ``~/.ssh/known_hosts``. An unknown key is always refused
``nft_file``        the persisted netpipe ruleset the boot hook loads (default
                    ``/etc/nftables.d/netpipe.nft`` for ssh, ``CONFDIR/nftables.conf`` for netns)
``boot_hook``       ``"systemd"`` (default for ssh): install ``netpipe-boot.service`` (in
                    ``systemd_dir``, default ``/etc/systemd/system``) so a commit never
                    confirmed is reverted at boot; ``"none"`` (default for netns: the lab
                    replays ``STATE/boot.sh`` itself)
``services``        how a daemon whose box file changed (chrony, snmpd, rsyslog) is restarted:
                    ``"systemd"`` (default for ssh: ``systemctl restart``), ``"lab"`` (default
                    for netns: the driver starts it itself, see ``boxfiles.SERVICE``)
==================  =============================================================================
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from napalm.base import NetworkDriver, helpers
from napalm.base.exceptions import (
    CommitError,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)

from napalm_frr import boxfiles, bundle, device, frrconf, getters, nft
from napalm_frr.bundle import FRR_CONF, NFT_CONF
from napalm_frr.transport import NetnsTransport, Result, SshTransport, Transport, TransportError

_VENDOR = "FRRouting"


class FrrDriver(NetworkDriver):  # type: ignore[misc]  # napalm ships no type information
    """NAPALM driver for Linux + FRRouting + nftables."""

    def __init__(
        self,
        hostname: str,
        username: str = "",
        password: str = "",
        timeout: int = 60,
        optional_args: dict[str, Any] | None = None,
    ) -> None:
        self.hostname = hostname
        self.username = username
        self.password = password
        self.timeout = timeout
        opts = dict(optional_args or {})
        self.transport_name = str(opts.get("transport", "ssh"))
        self.transport: Transport
        if self.transport_name == "netns":
            netns = str(opts.get("netns") or "")
            root = opts.get("root_dir")
            self.transport = NetnsTransport(netns, timeout=timeout,
                                            root=str(root) if root else None)
            vty_socket = str(opts.get("vty_socket", "/var/run/frr"))
            confdir = str(opts.get("confdir", vty_socket))
            state_dir = str(opts.get("state_dir", f"/run/netpipe/{netns}"))
            nft_file = str(opts.get("nft_file", f"{confdir.rstrip('/')}/nftables.conf"))
            boot_hook = str(opts.get("boot_hook", "none"))
            services = str(opts.get("services", "lab"))
        elif self.transport_name == "ssh":
            self.transport = SshTransport(
                hostname,
                username,
                password,
                port=int(opts.get("port", 22)),
                key_file=opts.get("key_file"),
                sudo=bool(opts.get("sudo", False)),
                timeout=timeout,
                known_hosts_file=opts.get("known_hosts_file"),
            )
            vty_socket = str(opts.get("vty_socket", "/var/run/frr"))
            confdir = str(opts.get("confdir", "/etc/frr"))
            state_dir = str(opts.get("state_dir", "/var/lib/netpipe"))
            nft_file = str(opts.get("nft_file", "/etc/nftables.d/netpipe.nft"))
            boot_hook = str(opts.get("boot_hook", "systemd"))
            services = str(opts.get("services", "systemd"))
        else:
            raise ValueError(f"unknown transport {self.transport_name!r} (ssh or netns)")
        self.paths = device.DevicePaths(
            vty_socket=vty_socket,
            confdir=confdir,
            rundir=str(opts.get("rundir", vty_socket)),
            state_dir=state_dir,
            frr_reload=str(opts.get("frr_reload", "/usr/lib/frr/frr-reload.py")),
            nft_file=nft_file,
            services=services,
        )
        if services not in ("systemd", "lab"):
            raise ValueError(f"unknown services {services!r} (systemd or lab)")
        if boot_hook not in ("systemd", "none"):
            raise ValueError(f"unknown boot_hook {boot_hook!r} (systemd or none)")
        self.systemd_dir = str(opts.get("systemd_dir", "/etc/systemd/system")) \
            if boot_hook == "systemd" else ""
        # Each driver instance has a candidate folder of its own: a diff running beside a
        # deploy must never discard the candidate the deploy is committing.
        self._candidate_dir = self.paths.state("candidate", secrets.token_hex(6))
        self.reverted_at_open: list[str] = []  # stale commits open() found and reverted
        self._candidate: dict[str, str] | None = None  # target -> effective candidate text
        self._canonical_nft: str | None = None  # canonical listing of the nftables candidate
        self._hostname: str | None = None  # FRR's (unchangeable) hostname, read once
        self._merge = False

    # ------------------------------------------------------------------ connection

    def open(self) -> None:
        try:
            self.transport.open()
            version = self._run(self.paths.vtysh_argv("show version"))
        except TransportError as exc:
            raise ConnectionException(str(exc)) from exc
        if not version.ok:
            self.transport.close()
            raise ConnectionException(
                f"{self.transport.description}: FRR not reachable: {version.message}"
            )
        # Private (umask 077): backups and candidates hold secrets such as BGP passwords.
        # A commit left unconfirmed by a reboot without the boot hook, or by a killed timer,
        # is reverted here, before anything else can be done with the device.
        try:
            opened = self._run(["sh", "-c", device.open_script(self.paths)])
        except TransportError as exc:
            raise ConnectionException(str(exc)) from exc
        if not opened.ok:
            raise ConnectionException(f"cannot create state dir: {opened.message}")
        self.reverted_at_open = [x for x in opened.stdout.splitlines() if x.startswith("reverted")]

    def close(self) -> None:
        self.transport.close()

    def is_alive(self) -> dict[str, bool]:
        return {"is_alive": self.transport.is_alive()}

    # ------------------------------------------------------------------ helpers

    def _run(
        self, argv: list[str], input: str | None = None, timeout: float | None = None
    ) -> Result:
        return self.transport.run(argv, input=input, timeout=timeout)

    def _vtysh(self, *commands: str) -> str:
        result = self._run(self.paths.vtysh_argv(*commands))
        if not result.ok:
            raise CommitError(f"vtysh {' / '.join(commands)} failed: {result.message}")
        return result.stdout

    def _vtysh_json(self, command: str) -> Any:
        out = self._vtysh(command).strip()
        return json.loads(out) if out else {}

    def _running_frr(self) -> str:
        running = frrconf.clean_running(self._vtysh("show running-config"))
        self._hostname = frrconf.hostname_of(running)
        return running

    def _running_hostname(self) -> str | None:
        """FRR's hostname never changes through config (see frrconf), so one read suffices."""
        if self._hostname is None:
            self._running_frr()
        return self._hostname

    def _write_then(self, path: str, text: str, argv: list[str]) -> Result:
        """Write ``text`` to ``path`` on the device, then run ``argv``: one round trip."""
        return self._run(["sh", "-c", device.WRITE_THEN_EXEC, "sh", path, *argv], input=text)

    def _frr_reload(self, text: str, *, test: bool) -> Result:
        """frr-reload.py on the prepared form of ``text`` (see frrconf.prepare_candidate)."""
        path = f"{self._candidate_dir}/frr.prepared.conf"
        prepared = frrconf.prepare_candidate(text, self._running_hostname())
        if test:
            return self._write_then(path, prepared, self.paths.reload_argv(path, test=True))
        return self._run(["sh", "-c", device.reload_keeping_saved(self.paths), "sh", path,
                          *self.paths.reload_argv(path, test=False)], input=prepared)

    def _frr_changes(self, text: str) -> list[str]:
        """What frr-reload.py --test would change to reach ``text`` (empty: in sync)."""
        result = self._frr_reload(text, test=True)
        if not result.ok:
            raise CommitError(f"frr-reload.py --test failed: {result.message}")
        return frrconf.reload_changes(result.stdout)

    # ------------------------------------------------------------------ candidates

    def load_replace_candidate(
        self, filename: str | None = None, config: str | None = None
    ) -> None:
        """Load a bundle (``config`` text or ``filename``: bundle file or directory)."""
        self._load(filename, config, merge=False)

    def load_merge_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        """Additive merge: the fragment is applied on top of the running config of each target."""
        self._load(filename, config, merge=True)

    def _load(self, filename: str | None, config: str | None, *, merge: bool) -> None:
        exc_type = MergeConfigException if merge else ReplaceConfigException
        try:
            if filename is not None:
                path = Path(filename)
                files = (
                    bundle.read_bundle_dir(path)
                    if path.is_dir()
                    else bundle.split_bundle(path.read_text(encoding="utf-8"))
                )
            elif config is not None:
                files = bundle.split_bundle(config)
            else:
                raise bundle.BundleError("neither filename nor config given")
        except (OSError, bundle.BundleError) as exc:
            raise exc_type(str(exc)) from exc
        candidate: dict[str, str] = {}
        canonical_nft = None
        try:
            if FRR_CONF in files:
                text = files[FRR_CONF]
                if merge:
                    try:
                        text = frrconf.merge_candidate(self._running_frr(), text)
                    except ValueError as exc:
                        raise exc_type(str(exc)) from exc
                self._check_frr(text, exc_type)
                candidate[FRR_CONF] = text
            if NFT_CONF in files:
                text = files[NFT_CONF]
                if merge:
                    text = nft.merge_text(nft.list_table(self.transport), text)
                canonical_nft = self._check_nft(text, exc_type)
                candidate[NFT_CONF] = text
            for box in boxfiles.FILES:
                if box.name in files:
                    if merge:
                        raise exc_type(f"{box.name}: a merge candidate holds frr.conf and "
                                       "nftables.conf only (a box file is replaced whole)")
                    text = files[box.name]
                    wanted = boxfiles.normal_sysctl(text) if box.name == boxfiles.SYSCTL \
                        else text
                    if self._running_box(box.name) == wanted:
                        continue  # what runs already: left alone (not applied, not backed up)
                    self._check_box(box.name, text, exc_type)
                    candidate[box.name] = text
        except (TransportError, nft.NftError, CommitError) as exc:
            raise exc_type(str(exc)) from exc
        self._candidate = candidate
        self._canonical_nft = canonical_nft
        self._merge = merge

    def _check_frr(self, text: str, exc_type: type[Exception]) -> None:
        path = f"{self._candidate_dir}/{FRR_CONF}"
        argv = [self.paths.vtysh, "--config_dir", self.paths.confdir, "-C", "-f", path]
        check = self._write_then(path, text, argv)
        if not check.ok:
            raise exc_type(f"frr.conf rejected by vtysh -C: {check.message}")

    def _check_nft(self, text: str, exc_type: type[Exception]) -> str:
        """``nft -c`` inside the device, then the canonical form from a scratch namespace."""
        path = f"{self._candidate_dir}/{NFT_CONF}"
        check = self._write_then(path, text, ["nft", "-c", "-f", path])
        if not check.ok:
            raise exc_type(f"nftables.conf rejected by nft -c: {check.message}")
        try:
            return nft.canonicalise(self.transport, path, text)
        except nft.NftError as exc:
            raise exc_type(f"nftables.conf rejected: {exc}") from exc

    def _check_box(self, name: str, text: str, exc_type: type[Exception]) -> None:
        """Write a box file's candidate to the device and check it with its own tool."""
        path = f"{self._candidate_dir}/{name}"
        errors = boxfiles.sysctl_errors(text) if name == boxfiles.SYSCTL else []
        if errors:
            raise exc_type(f"{name} rejected: {'; '.join(errors)}")
        argv = [*boxfiles.CHECKS[name], path] if name in boxfiles.CHECKS and text.strip() \
            else ["true"]
        check = self._write_then(path, text, argv)
        if not check.ok:
            raise exc_type(f"{name} rejected by {argv[0]}: {check.message}")

    def _running_box(self, name: str) -> str:
        """What runs of a box file (see device.running_box_script)."""
        result = self._run(["sh", "-c", device.running_box_script(self.paths), "sh", name,
                            boxfiles.BY_NAME[name].path])
        if not result.ok:
            raise CommitError(f"reading the running {name} failed: {result.message}")
        return result.stdout

    def _box_mismatch(self, name: str, wanted: str) -> str:
        """"" if what runs of a box file is ``wanted``, else what differs."""
        if name == boxfiles.INTERFACES:
            applied = self.paths.state("applied", name)
            if self._running_box(name) != wanted:
                return "the applied interfaces file is not the candidate"
            if not wanted.strip():
                return ""
            check = self._run(["ifquery", "-a", "-c", "-i", applied])
            if check.ok:
                return ""
            failed = [" ".join(x.split()) for x in check.stdout.splitlines()
                      if x.rstrip().endswith("[fail]")]
            return "the kernel differs from it (ifquery -c): " + \
                ("; ".join(failed) or check.message)
        running = self._running_box(name)
        if name == boxfiles.SYSCTL:
            wanted = boxfiles.normal_sysctl(wanted)
        if running != wanted:
            return "\n" + frrconf.unified(running.splitlines(), wanted.splitlines(), name)
        if name in boxfiles.SERVICES:
            state = self._run(["sh", "-c", device.service_state_script(self.paths), "sh",
                               boxfiles.SERVICES[name], name, boxfiles.BY_NAME[name].path])
            return state.stdout.strip() or ("" if state.ok else state.message)
        return ""

    def discard_config(self) -> None:
        self._candidate = None
        self._canonical_nft = None
        self._merge = False
        self._run(["rm", "-rf", "--", self._candidate_dir])

    # ------------------------------------------------------------------ compare

    def compare_config(self) -> str:
        """Unified diff running -> candidate for each target; empty when in sync."""
        if not self._candidate:
            return ""
        parts = []
        try:
            if FRR_CONF in self._candidate:
                text = self._candidate[FRR_CONF]
                changes = self._frr_changes(text)
                if changes:
                    running = self._running_frr()
                    parts.append(frrconf.readable_diff(running, text, changes, FRR_CONF))
            if self._canonical_nft is not None:
                running_nft = nft.list_table(self.transport)
                wanted = self._canonical_nft.splitlines()
                parts.append(frrconf.unified(running_nft.splitlines(), wanted, NFT_CONF))
            for box in boxfiles.FILES:
                if box.name in self._candidate:
                    text = self._candidate[box.name]
                    if box.name == boxfiles.SYSCTL:
                        text = boxfiles.normal_sysctl(text)
                    parts.append(frrconf.unified(self._running_box(box.name).splitlines(),
                                                 text.splitlines(), box.name))
        except (TransportError, nft.NftError) as exc:
            raise CommitError(f"compare failed: {exc}") from exc
        return "".join(parts)

    # ------------------------------------------------------------------ commit

    def has_pending_commit(self) -> bool:
        probe = self._run(
            ["sh", "-c", '[ -e "$1" ] || [ -e "$1.reverting" ]', "sh", self.paths.pending]
        )
        return probe.ok

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        """Back up; arm the revert timer; apply nft, then FRR; verify; undo on error.

        Only the running state changes: what the box boots from is written by
        ``confirm_commit()``, which a commit without ``revert_in`` does at its end. The timer
        is armed for every commit (its deadline: ``revert_in``, or the command timeout while a
        final commit is being applied), so a controller dying mid-commit gets the device back.
        """
        if self.has_pending_commit():
            raise CommitError("a commit-confirm is pending: confirm_commit() or rollback() first")
        if not self._candidate:
            raise CommitError("no candidate loaded")
        if revert_in is not None and int(revert_in) < 1:
            raise CommitError("revert_in must be at least 1 second")
        candidate = self._candidate
        try:
            self._install_scripts()
            self._backup()
        except (TransportError, CommitError) as exc:
            raise CommitError(f"backup failed, nothing was changed: {exc}") from exc
        try:
            # Armed before applying (deadline: revert_in plus the command timeout).
            self._start_timer(int(revert_in or 0) + int(self.timeout))
            errors = self._apply(candidate, self._canonical_nft)
            if revert_in is not None and not errors:
                self._set_deadline(int(revert_in))  # counted from the end of the commit
        except (TransportError, nft.NftError, CommitError) as exc:
            errors = [str(exc)]
        if errors:
            restore = []
            try:
                self._cancel_timer(self.paths.state("pending.failed"))
            except (TransportError, CommitError) as exc:
                restore.append(f"cancelling the revert timer: {exc}")
            restore += self._restore()
            detail = "; ".join(errors)
            if restore:
                raise CommitError(f"{detail}; RESTORE ALSO FAILED: {'; '.join(restore)}")
            raise CommitError(f"{detail} (device restored to its previous configuration)")
        hostname = frrconf.hostname_of(candidate.get(FRR_CONF, ""))
        record = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "message": message,
            "hostname": hostname or self._read_record().get("hostname"),
            "targets": sorted(candidate),
            "revert_in": revert_in,
        }
        self.transport.write_file(self.paths.state("committed.json"), json.dumps(record) + "\n")
        self.discard_config()
        if revert_in is None:
            self.confirm_commit()

    def _install_scripts(self) -> None:
        """restore.sh, boot.sh and (boot_hook systemd) the unit that runs it, in one round trip."""
        files = [
            self.paths.state("restore.sh"), device.restore_script(self.paths),
            self.paths.state("boot.sh"), device.boot_script(self.paths),
        ]  # fmt: skip
        if self.systemd_dir:
            unit = f"{self.systemd_dir.rstrip('/')}/{device.UNIT}"
            files += [unit, device.boot_unit(self.paths),
                      "--link", unit, f"{self.systemd_dir.rstrip('/')}/sysinit.target.wants/"
                                      f"{device.UNIT}"]
        result = self._run(["sh", "-c", device.WRITE_FILES, "sh", *files])
        if not result.ok:
            raise CommitError(f"installing the device's restore and boot scripts failed: "
                              f"{result.message}")

    def _backup(self) -> None:
        """Both running targets and the boot files into the state dir, by one device script."""
        result = self._run(
            [
                "sh", "-c", device.backup_script(nft.FAMILY, nft.TABLE), "sh",
                self.paths.state_dir, self.paths.saved_frr, self.paths.nft_file,
                self._candidate_dir, *self.paths.vtysh_argv(),
            ],
        )  # fmt: skip
        if not result.ok:
            raise CommitError(result.message or f"backup script failed (rc={result.rc})")

    def _apply(self, candidate: dict[str, str], wanted_nft: str | None) -> list[str]:
        """Apply every target and verify it converged; return error messages (empty: ok).

        The ruleset, FRR, then the interfaces and kernel settings (per interface keys need
        the interface). FRR takes config for interfaces that do not exist yet, and an
        address an older frr.conf owned is removed by frr-reload before ifreload puts it in
        place, so a router whose addresses move from frr.conf to its interfaces file keeps
        them."""
        if wanted_nft is not None:
            path = f"{self._candidate_dir}/nftables.apply"
            result = self._write_then(path, nft.replace_text(wanted_nft), ["nft", "-f", path])
            if not result.ok:
                return [f"nft -f failed: {result.message}"]
        if FRR_CONF in candidate:
            result = self._frr_reload(candidate[FRR_CONF], test=False)
            if not result.ok:
                return [f"frr-reload.py --reload failed: {result.message}"]
        for box in boxfiles.FILES:
            if box.name in candidate:
                result = self._run(["sh", "-c", device.apply_box_script(self.paths), "sh",
                                    box.name, f"{self._candidate_dir}/{box.name}", box.path])
                if not result.ok:
                    return [f"applying {box.name} failed: {result.message}"]
        # Verify: the device must now be exactly the candidate.
        errors: list[str] = []
        for box in boxfiles.FILES:
            if box.name in candidate:
                mismatch = self._box_mismatch(box.name, candidate[box.name])
                if mismatch:
                    errors.append(f"{box.name} did not converge to the candidate: {mismatch}")
        if FRR_CONF in candidate:
            left = self._frr_changes(candidate[FRR_CONF])
            if left:
                errors.append("FRR did not converge to the candidate: " + " | ".join(left))
        if wanted_nft is not None:
            now = nft.list_table(self.transport)
            if now != wanted_nft:
                delta = frrconf.unified(now.splitlines(), wanted_nft.splitlines(), NFT_CONF)
                errors.append(f"nftables did not converge to the candidate:\n{delta}")
        return errors

    def _restore(self) -> list[str]:
        """Run the device's restore script and verify; return error messages (empty: ok)."""
        errors = []
        try:
            result = self._run(["sh", self.paths.state("restore.sh")])
        except TransportError as exc:
            return [f"device unreachable, restore.sh not run ({exc}); a pending revert timer "
                    "on the device still restores it"]  # fmt: skip
        if not result.ok:
            errors.append(f"restore.sh failed: {result.message}")
        try:
            check = self._run(
                self.paths.reload_argv(self.paths.state("backup", FRR_CONF), test=True)
            )
            if not check.ok or frrconf.reload_changes(check.stdout):
                errors.append("FRR differs from the backup after restore")
            backup_nft = self.transport.read_file(self.paths.state("backup", NFT_CONF)) or ""
            if nft.list_table(self.transport) != backup_nft:
                errors.append("nftables differs from the backup after restore")
            for box in boxfiles.FILES:
                backup = self.transport.read_file(self.paths.state("backup", "files", box.name))
                if backup is not None:
                    mismatch = self._box_mismatch(box.name, backup)
                    if mismatch:
                        errors.append(f"{box.name} differs from the backup after restore: "
                                      f"{mismatch}")
        except (nft.NftError, TransportError, CommitError) as exc:
            errors.append(str(exc))
        return errors

    def _set_deadline(self, seconds: int) -> None:
        revert_at = self.paths.state("revert-at")
        result = self._run(["sh", "-c", device.SET_DEADLINE, "sh", revert_at, str(seconds)])
        if not result.ok:
            raise TransportError(f"could not set the revert deadline: {result.message}")

    def _start_timer(self, seconds: int) -> None:
        result = self._run(
            [
                "sh", "-c", device.START_TIMER, "sh", self.paths.state("revert-timer.sh"),
                self.paths.pending, self.paths.state("revert-at"), str(seconds),
            ],
            input=device.timer_script(self.paths),
        )  # fmt: skip
        if not result.ok or not result.stdout.strip().isdigit():
            raise TransportError(f"could not start the revert timer: {result.message}")

    def _cancel_timer(self, claim: str) -> bool:
        """Claim the pending marker and kill the timer; False if nothing was pending."""
        result = self._run(["sh", "-c", device.cancel_script(self.paths), "sh",
                            self.paths.pending, claim])
        if result.rc == 3:
            return False
        if not result.ok:
            raise CommitError(f"could not cancel the revert timer: {result.message}")
        return True

    def confirm_commit(self) -> None:
        """Make a commit final: cancel the device's revert timer, then write what the box boots
        from (FRR's saved frr.conf and the persisted nftables ruleset) from what it runs."""
        result = self._run(["sh", "-c", device.confirm_script(self.paths)])
        if result.rc == 3:
            raise CommitError(
                "no pending commit to confirm (the revert timer may already have restored it)"
            )
        if result.rc == 4:
            raise CommitError("confirmed, but writing the boot configuration failed: a reboot "
                              f"would bring back the previous config ({result.message})")
        if not result.ok:
            raise CommitError(f"confirm failed: {result.message}")

    def rollback(self) -> None:
        """Pending commit: revert now and cancel the timer. Else: restore the last backup."""
        reverting = self.paths.state("pending.reverting")
        if not self._cancel_timer(self.paths.state("pending.rollback")):
            # If the timer is restoring right now, let it finish instead of racing it.
            deadline = time.monotonic() + self.timeout
            while self._run(["test", "-e", reverting]).ok:
                if time.monotonic() > deadline:
                    raise CommitError("the revert timer's restore did not finish in time")
                time.sleep(0.2)
        if self.transport.read_file(self.paths.state("backup", FRR_CONF)) is None:
            raise CommitError("nothing to roll back: no backup on the device")
        errors = self._restore()
        if errors:
            raise CommitError("rollback failed: " + "; ".join(errors))

    # ------------------------------------------------------------------ getters

    def _read_record(self) -> dict[str, Any]:
        text = self.transport.read_file(self.paths.state("committed.json"))
        try:
            data = json.loads(text) if text else {}
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    def get_config(
        self,
        retrieve: str = "all",
        full: bool = False,
        sanitized: bool = False,
        format: str = "text",
    ) -> dict[str, str]:
        """Configs as bundles (marker-delimited, like candidates).

        ``running``: every target (a box file as applied; sysctl values as the kernel has them).
        ``startup``: what the box boots from, ``CONFDIR/frr.conf``, the persisted netpipe
        ruleset and the box files at their paths (all written at confirm). ``candidate``: the loaded
        candidate. ``full`` changes nothing: FRR
        8.4 has no ``show running-config all``.
        """
        if format != "text":
            raise NotImplementedError(f"format={format!r}: only 'text' is supported")
        if retrieve not in ("all", "running", "startup", "candidate"):
            raise ValueError(f"retrieve={retrieve!r}")
        configs = {"running": "", "startup": "", "candidate": ""}
        if retrieve in ("all", "running"):
            running = {FRR_CONF: self._running_frr(), NFT_CONF: nft.list_table(self.transport)}
            running.update({box.name: self._running_box(box.name) for box in boxfiles.FILES})
            configs["running"] = bundle.join_bundle(running)
        if retrieve in ("all", "startup"):
            saved = {FRR_CONF: self.transport.read_file(self.paths.saved_frr) or ""}
            persisted = self.transport.read_file(self.paths.nft_file) if self.paths.nft_file \
                else None
            if persisted is not None:
                saved[NFT_CONF] = persisted.removeprefix(nft.REPLACE_PREAMBLE)
            for box in boxfiles.FILES:
                saved[box.name] = self.transport.read_file(box.path) or ""
            configs["startup"] = bundle.join_bundle(saved) if any(saved.values()) else ""
        if retrieve in ("all", "candidate") and self._candidate:
            configs["candidate"] = bundle.join_bundle(self._candidate)
        if sanitized:
            return dict(helpers.sanitize_configs(configs, frrconf.SANITIZE_FILTERS))
        return configs

    def _ip_json(self, *args: str) -> list[dict[str, Any]]:
        result = self._run(["ip", "-j", *args])
        if not result.ok:
            raise CommitError(f"ip -j {' '.join(args)} failed: {result.message}")
        data = json.loads(result.stdout or "[]")
        return data if isinstance(data, list) else []

    def get_facts(self) -> dict[str, Any]:
        uptime = self._run(["cat", "/proc/uptime"])
        host = self._run(["uname", "-n"])
        machine_id = self.transport.read_file("/etc/machine-id") or ""
        hostname = self._read_record().get("hostname") or host.stdout.strip()
        return {
            "uptime": float(uptime.stdout.split()[0]) if uptime.ok else -1.0,
            "vendor": _VENDOR,
            "model": "Linux",
            "os_version": getters.os_version(self._vtysh("show version")),
            "serial_number": machine_id.strip(),
            "hostname": str(hostname),
            "fqdn": str(hostname),
            "interface_list": sorted(str(link["ifname"]) for link in self._ip_json("link", "show")),
        }

    def get_interfaces(self) -> dict[str, dict[str, Any]]:
        return getters.interfaces(
            self._ip_json("link", "show"), self._vtysh_json("show interface json")
        )

    def get_interfaces_ip(self) -> dict[str, dict[str, dict[str, Any]]]:
        return getters.interfaces_ip(self._ip_json("addr", "show"))

    def get_bgp_neighbors(self) -> dict[str, dict[str, Any]]:
        return getters.bgp_neighbors(
            self._vtysh_json("show bgp vrf all summary json"),
            self._vtysh_json("show bgp vrf all neighbors json"),
        )

    def get_ospf_neighbors(self) -> dict[str, dict[str, Any]]:
        """OSPFv2 adjacencies (not part of NAPALM's base API)::

            {"global": {"neighbors": {"<router id>": {
                "address": "10.99.0.1", "interface": "eth1", "state": "Full",
                "role": "DR" | "Backup" | "DROther" | "", "area": "0.0.0.0",
                "priority": 1, "is_up": True}}}}

        One entry per neighbour router id (with parallel links the last adjacency listed wins).
        """
        return getters.ospf_neighbors(self._vtysh_json("show ip ospf neighbor detail json"))

    def cli(self, commands: list[str], encoding: str = "text") -> dict[str, str]:
        """Run vtysh commands (``show ...``); output per command."""
        if encoding != "text":
            raise NotImplementedError("only encoding='text' is supported")
        return {command: self._vtysh(command) for command in commands}
