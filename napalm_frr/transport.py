"""How the driver reaches a device: one small protocol, two implementations.

* :class:`NetnsTransport` (lab): ``ip netns exec NS argv``. A network namespace shares the
  controller's filesystem, so a lab box gets directories of its own (:data:`BOX_DIRS`: its
  ``/etc/network``, ``/etc/sysctl.d``, ...): every command runs with the box's copies bind-mounted
  over those paths (in the private mount namespace ``ip netns exec`` makes), and files are read
  and written directly, under the box's root where a path is one of its own.
* :class:`SshTransport` (a real Linux host): paramiko ``exec_command`` with every argument
  ``shlex``-quoted, optionally under ``sudo -n``. File contents travel over stdin, never on a
  command line, so config text is never interpreted by a shell.

The driver only uses :class:`Transport`, so every config operation is the same on both.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# Write via a temporary file and rename, so a reader never sees half a file.
_WRITE_SCRIPT = (
    'umask 077; mkdir -p -- "$(dirname -- "$1")" && cat > "$1.tmp.$$" && mv -f -- "$1.tmp.$$" "$1"'
)
_READ_SCRIPT = '[ -e "$1" ] || exit 3; cat -- "$1"'


@dataclass(frozen=True)
class Result:
    """Outcome of one command on the device."""

    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def message(self) -> str:
        """stderr and stdout combined, as the device said it (for error reports)."""
        return "\n".join(part.strip() for part in (self.stderr, self.stdout) if part.strip())


class TransportError(Exception):
    """The device could not be reached or the command could not be started."""


class Transport(Protocol):
    """What the driver needs from a device connection."""

    description: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def is_alive(self) -> bool: ...

    def run(
        self, argv: Sequence[str], input: str | None = None, timeout: float | None = None
    ) -> Result: ...

    def write_file(self, path: str, text: str) -> None: ...

    def read_file(self, path: str) -> str | None:
        """File content, or None if it does not exist."""
        ...


BOX_DIRS: dict[str, str] = {
    # path on a box: how the lab box's own copy starts ("copy": this machine's, as the package
    # installed it; "empty": nothing, e.g. what /run holds at boot; "file": one file, bind-mounted
    # alone, starting as this machine's)
    "/etc/network": "copy",  # ifupdown2's interfaces file and its own configuration
    "/run/network": "empty",  # ifupdown2's lock
    "/var/tmp/network": "empty",  # ifupdown2's state: which interfaces it brought up
    "/etc/sysctl.d": "empty",
    "/etc/systemd/system": "empty",  # enabled units (the lab's systemctl stand-in)
    "/etc/resolv.conf": "file",  # a file of its own, starting as this machine's
    "/etc/chrony": "empty",
    "/run/chrony": "empty",  # chronyd's pid file
    "/var/lib/chrony": "empty",  # its drift file
    "/etc/snmp": "empty",
    "/run/snmpd": "empty",  # snmpd's pid file and log (the lab's stand-in for systemd)
    "/var/lib/snmp": "empty",  # snmpd's persistent state (engine boots)
    "/etc/rsyslog.d": "empty",
    "/run/rsyslog": "empty",  # rsyslogd's pid file, main config and socket (lab)
    "/etc/dnsmasq.d": "empty",  # the DHCP relay's file
    "/run/dnsmasq": "empty",  # its pid file (lab)
}
"""The directories a lab box has of its own: the files netpipe deploys live there, so two lab
routers never share an ``/etc/network/interfaces`` and the machine's own is never touched."""

# $1 the box's root, then its directories up to "--", then the command. The mounts live in the
# mount namespace `ip netns exec` made for this one command (and the daemons it starts).
_BOX_VIEW = r"""root=$1; shift
while [ "$1" != -- ]; do
  d=$1; how=$2; shift 2
  if [ "$how" = file ]; then
    if [ ! -e "$root$d" ]; then
      mkdir -p "${root}${d%/*}" && { cp "$d" "$root$d" 2>/dev/null || : > "$root$d"; } || exit 97
    fi
    [ -e "$d" ] && mount --bind "$root$d" "$d" || exit 97
    continue
  fi
  if [ ! -d "$root$d" ]; then
    mkdir -p "$root$d" || exit 97
    if [ "$how" = copy ] && [ -d "$d" ]; then cp -a "$d/." "$root$d/" || exit 97; fi
  fi
  { [ -d "$d" ] || mkdir -p "$d"; } && mount --bind "$root$d" "$d" || exit 97
done
shift
exec "$@"
"""


class NetnsTransport:
    """Commands run inside a local network namespace (the lab), with the box's own directories."""

    def __init__(self, netns: str, timeout: float = 60.0, root: str | None = None) -> None:
        if not netns:
            raise ValueError("netns transport needs optional_args['netns']")
        self.netns = netns
        self.timeout = timeout
        self.root = (root or f"/run/netpipe/{netns}/root").rstrip("/")
        self.description = f"netns {netns}"
        self._open = False

    def box_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as run in the box: in its namespace, with its own directories."""
        dirs = [word for item in BOX_DIRS.items() for word in item]
        return ["ip", "netns", "exec", self.netns, "sh", "-c", _BOX_VIEW, "sh", self.root,
                *dirs, "--", *argv]

    def host_path(self, path: str) -> Path:
        """Where a path of the box is on this machine (its own directories are under root)."""
        for box_dir in BOX_DIRS:
            if path == box_dir or path.startswith(box_dir + "/"):
                return Path(self.root + path)
        return Path(path)

    def open(self) -> None:
        if not Path("/run/netns", self.netns).exists():
            raise TransportError(f"network namespace {self.netns} does not exist")
        self._open = True

    def close(self) -> None:
        self._open = False

    def is_alive(self) -> bool:
        return self._open and Path("/run/netns", self.netns).exists()

    def run(
        self, argv: Sequence[str], input: str | None = None, timeout: float | None = None
    ) -> Result:
        cmd = self.box_argv(argv)
        try:
            proc = subprocess.run(
                cmd,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout or self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TransportError(f"{self.description}: {shlex.join(argv)}: {exc}") from exc
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def write_file(self, path: str, text: str) -> None:
        target = self.host_path(path)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_file(self, path: str) -> str | None:
        try:
            return self.host_path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None


class SshTransport:
    """Commands run on a Linux host over SSH (paramiko), optionally through ``sudo -n``."""

    def __init__(
        self,
        hostname: str,
        username: str,
        password: str | None = None,
        *,
        port: int = 22,
        key_file: str | None = None,
        sudo: bool = False,
        timeout: float = 60.0,
        known_hosts_file: str | None = None,
    ) -> None:
        self.hostname = hostname
        self.username = username
        self.password = password or None
        self.port = port
        self.key_file = key_file
        self.sudo = sudo
        self.timeout = timeout
        self.known_hosts_file = known_hosts_file
        self.description = f"ssh {username}@{hostname}:{port}"
        self._client: Any = None

    def open(self) -> None:
        import paramiko  # imported lazily: the lab never needs it

        client = paramiko.SSHClient()
        # Strict either way: a host key not in the known_hosts file (the given one, else the
        # user's) is refused, never added; a changed key is refused by paramiko itself.
        try:
            if self.known_hosts_file:
                client.load_host_keys(self.known_hosts_file)
            else:
                client.load_system_host_keys()
        except OSError as exc:
            raise TransportError(f"{self.description}: known_hosts: {exc}") from exc
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                key_filename=self.key_file,
                look_for_keys=self.key_file is None and self.password is None,
                allow_agent=self.key_file is None and self.password is None,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
            )
        except (paramiko.SSHException, OSError) as exc:
            client.close()
            raise TransportError(f"{self.description}: {exc}") from exc
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def is_alive(self) -> bool:
        if self._client is None:
            return False
        transport = self._client.get_transport()
        return bool(transport is not None and transport.is_active())

    def command_line(self, argv: Sequence[str]) -> str:
        """The exact remote command line: every word quoted, ``sudo -n --`` if configured."""
        words = ["sudo", "-n", "--", *argv] if self.sudo else list(argv)
        return shlex.join(words)

    def run(
        self, argv: Sequence[str], input: str | None = None, timeout: float | None = None
    ) -> Result:
        if self._client is None:
            raise TransportError(f"{self.description}: not connected")
        limit = timeout or self.timeout
        try:
            transport = self._client.get_transport()
            chan = transport.open_session(timeout=limit)
            chan.settimeout(limit)
            chan.exec_command(self.command_line(argv))
            if input is not None:
                chan.sendall(input.encode("utf-8"))
            chan.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + limit
            while True:
                if chan.recv_ready():
                    out += chan.recv(65536)
                elif chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                elif chan.exit_status_ready() and not (
                    chan.recv_ready() or chan.recv_stderr_ready()
                ):
                    break
                elif time.monotonic() > deadline:
                    chan.close()
                    raise TransportError(f"{self.description}: timeout after {limit}s")
                else:
                    time.sleep(0.005)
            rc = chan.recv_exit_status()
            chan.close()
        except TransportError:
            raise
        except Exception as exc:  # paramiko raises several unrelated types
            raise TransportError(f"{self.description}: {shlex.join(argv)}: {exc}") from exc
        return Result(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def write_file(self, path: str, text: str) -> None:
        result = self.run(["sh", "-c", _WRITE_SCRIPT, "sh", path], input=text)
        if not result.ok:
            raise TransportError(f"{self.description}: writing {path} failed: {result.message}")

    def read_file(self, path: str) -> str | None:
        result = self.run(["sh", "-c", _READ_SCRIPT, "sh", path])
        if result.rc == 3:
            return None
        if not result.ok:
            raise TransportError(f"{self.description}: reading {path} failed: {result.message}")
        return result.stdout
