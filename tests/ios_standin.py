"""An IOS SSH STAND-IN: a paramiko SSH server on 127.0.0.1 that speaks just enough Cisco IOS
for NAPALM's real ``ios`` driver (netmiko underneath) to load, compare, commit with a revert
timer, confirm, revert and read configs, and that records every command it is sent.

It is a stand-in, not IOS: it holds a running config, a startup config and a flash file
system; ``configure replace`` swaps the running config for a file's text as it is (no
parsing, no defaults), ``show archive config differences`` is a plain line diff, a revert
timer counts ``seconds_per_minute`` seconds per IOS minute. A candidate holding the line
``! stand-in: reject`` is refused the way IOS refuses a replace it cannot apply ("The original
configuration has been successfully restored"). Nothing here proves how a real switch
behaves; it proves everything netpipe and NAPALM do up to the SSH transport.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import re
import shlex
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from pipeline.change.targets import Target, host_key_args

REJECT = "! stand-in: reject"
FREE = 100_000_000


@dataclass
class Pending:
    user: str
    minutes: int
    archive: str
    timer: threading.Timer


@dataclass
class Device:
    """The switch's state, shared by every session (SSH shell and SCP)."""

    hostname: str
    running: str
    username: str = "netops"
    password: str = "s3cret-pw"
    seconds_per_minute: float = 60.0
    startup: str = ""
    flash: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    pending: Pending | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.startup = self.startup or self.running

    # -- the CLI

    def prompt(self, config: bool) -> str:
        return f"{self.hostname}(config)#" if config else f"{self.hostname}#"

    def execute(self, line: str, config: bool) -> tuple[str, bool]:
        """(output, config mode after) for one command line."""
        with self.lock:
            cmd = line.strip()
            if cmd:
                self.commands.append(cmd)
            if config:
                if cmd in ("end", "exit"):
                    return "", False
                return "", True  # config lines are accepted and ignored (file prompt quiet…)
            return self._exec(cmd), cmd in ("configure terminal", "conf t")

    def _exec(self, cmd: str) -> str:
        if cmd == "" or cmd.startswith(("terminal ", "configure terminal", "conf t")):
            return ""
        if cmd == "show version":
            return f"Cisco IOS Software STAND-IN\n{self.hostname} uptime is 1 day"
        if cmd == "show archive":
            return ("The maximum archive configurations allowed is 10.\n"
                    "The next archive file will be named flash:/archive-1\n"
                    " Archive #  Name\n   1        flash:/archive-0 <- Most Recent")
        if cmd == "show archive config rollback timer":
            return self._timer_text()
        if cmd.startswith("show running-config | inc"):
            wanted = cmd.split("inc", 1)[1].strip()
            return "\n".join(x for x in self.running.splitlines() if wanted in x)
        if cmd == "show running-config":
            return (f"Building configuration...\n\nCurrent configuration : "
                    f"{len(self.running)} bytes\n{self.running}")
        if cmd == "show startup-config":
            return f"Using {len(self.startup)} out of 262144 bytes\n{self.startup}"
        if cmd.startswith("dir"):
            return self._dir(cmd[3:].strip())
        if cmd.startswith("verify /md5 "):
            path = cmd.split(" ", 2)[2]
            name = _name(path)
            if name not in self.flash:
                return f"%Error opening {path} (No such file or directory)"
            digest = hashlib.md5(self.flash[name].encode(), usedforsecurity=False).hexdigest()
            return f".MD5 of {path} Done!\nverify /md5 ({path}) = {digest}"
        if cmd.startswith("copy "):
            return self._copy(*cmd.split()[1:3])
        if cmd.startswith("show archive config differences "):
            return self._differences(cmd.split()[-1])
        if cmd.startswith("configure replace "):
            return self._replace(cmd)
        if cmd == "configure confirm":
            if self.pending is not None:
                self.pending.timer.cancel()
                self.pending = None
            return ""
        if cmd == "configure revert now":
            self._revert()
            return "Rollback Done"
        if cmd in ("write memory", "write mem", "copy running-config startup-config"):
            self.startup = self.running
            return "Building configuration...\n[OK]"
        return f"{cmd}\n^\n% Invalid input detected at '^' marker."

    def _timer_text(self) -> str:
        if self.pending is None:
            return "No Rollback Confirmed Change pending"
        return ("Time configured       : 12:00:00 UTC Sat Nov 28 2026\n"
                "Timer type            : absolute\n"
                f"Timer value           : {self.pending.minutes} min\n"
                f"User: {self.pending.user}")

    def _dir(self, path: str) -> str:
        name = _name(path)
        if not name:
            listing = "\n".join(_entry(i, n, t)
                                for i, (n, t) in enumerate(sorted(self.flash.items()), 1))
            return f"Directory of flash:/\n\n{listing}\n\n{_SPACE}"
        if name not in self.flash:
            return f"%Error opening {path} (No such file or directory)"
        return f"Directory of {path}\n\n{_entry(1, name, self.flash[name])}\n\n{_SPACE}"

    def _copy(self, src: str, dst: str) -> str:
        if src == "running-config":
            text = self.running
        elif src == "null:":
            text = ""
        elif _name(src) in self.flash:
            text = self.flash[_name(src)]
        else:
            return f"%Error opening {src} (No such file or directory)"
        if dst in ("startup-config", "nvram:startup-config"):
            self.startup = text
        elif dst == "running-config":
            self.running = text
        else:
            self.flash[_name(dst)] = text
        return f"{len(text)} bytes copied"

    def _differences(self, path: str) -> str:
        name = _name(path)
        if name not in self.flash:
            return f"%Error opening {path} (No such file or directory)"
        diff = [x for x in difflib.ndiff(_lines(self.running), _lines(self.flash[name]))
                if x[:1] in "+-"]
        if not diff:
            return "!Contextual Config Diffs:\n!No changes were found"
        return "!Contextual Config Diffs:\n" + "\n".join(x[0] + x[2:] for x in diff)

    def _replace(self, cmd: str) -> str:
        words = cmd.split()
        path = words[2]
        name = _name(path)
        if name not in self.flash:
            return f"%Error opening {path} (No such file or directory)"
        text = self.flash[name]
        if REJECT in text.splitlines():
            return ("Total number of passes: 1\nRollback Done\n\n%Failed to apply command "
                    "'! stand-in: reject'\nThe original configuration has been successfully "
                    "restored.")
        if self.pending is not None:
            return "% Configuration session already in progress"
        archive = self.running
        self.running = text
        if "timer" in words:
            minutes = int(words[words.index("timer") + 1])
            timer = threading.Timer(minutes * self.seconds_per_minute, self._revert)
            timer.daemon = True
            self.pending = Pending(self.username, minutes, archive, timer)
            timer.start()
        return "Total number of passes: 1\nRollback Done"

    def _revert(self) -> None:
        with self.lock:
            if self.pending is not None:
                self.pending.timer.cancel()
                self.running = self.pending.archive
                self.pending = None


_SPACE = f"{FREE * 2} bytes total ({FREE} bytes free)"


def _entry(index: int, name: str, text: str) -> str:
    return f"  {index:>3}  -rw-  {len(text):>8}  Nov 28 2026 12:00:00 +00:00  {name}"


def _name(path: str) -> str:
    return path.split(":", 1)[-1].lstrip("/") if ":" in path else path.lstrip("/")


def _lines(text: str) -> list[str]:
    return [x.rstrip() for x in text.splitlines() if x.strip() and not x.startswith("!")]


class _Server(paramiko.ServerInterface):
    def __init__(self, device: Device) -> None:
        self.device = device
        self.exec_command: bytes | None = None
        self.ready = threading.Event()

    def check_auth_password(self, username: str, password: str) -> int:
        ok = (username, password) == (self.device.username, self.device.password)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else \
            paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args: object) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self.ready.set()
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.exec_command = command
        self.ready.set()
        return True


class Standin:
    """The stand-in listening on 127.0.0.1:<port> until closed."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.host_key = paramiko.Ed25519Key.generate() if hasattr(
            paramiko.Ed25519Key, "generate") else paramiko.RSAKey.generate(2048)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}"

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.device.pending is not None:
            self.device.pending.timer.cancel()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._session, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _session(self, client: socket.socket) -> None:
        transport = paramiko.Transport(client)
        transport.add_server_key(self.host_key)
        server = _Server(self.device)
        try:
            transport.start_server(server=server)
            while transport.is_active() and not self._stop.is_set():
                channel = transport.accept(timeout=1)
                if channel is None:
                    continue
                server.ready.wait(10)
                command, server.exec_command = server.exec_command, None
                server.ready.clear()
                if command is not None:
                    threading.Thread(target=self._exec, args=(channel, command),
                                     daemon=True).start()
                else:
                    threading.Thread(target=self._shell, args=(channel,), daemon=True).start()
        except (paramiko.SSHException, EOFError, OSError):
            pass

    def _shell(self, channel: paramiko.Channel) -> None:
        """An interactive CLI: echo every line, answer it, print the prompt."""
        config = False
        buffer = ""
        try:
            channel.sendall(f"\r\n{self.device.prompt(config)}".encode())
            while not channel.closed:
                data = channel.recv(65536)
                if not data:
                    return
                buffer += data.decode(errors="replace").replace("\x00", "")
                while (end := re.search(r"\r\n|\r|\n", buffer)) is not None:
                    line, buffer = buffer[:end.start()], buffer[end.end():]
                    output, config = self.device.execute(line, config)
                    text = f"{line}\r\n" + (output.replace("\n", "\r\n") + "\r\n" if output
                                            else "")
                    channel.sendall((text + self.device.prompt(config)).encode())
        except (OSError, EOFError, paramiko.SSHException):
            return

    def _exec(self, channel: paramiko.Channel, command: bytes) -> None:
        """``scp -t <path>``: receive one file into flash (the sink side of the protocol)."""
        words = shlex.split(command.decode())
        if words[:1] != ["scp"] or "-t" not in words:
            channel.send_exit_status(127)
            channel.close()
            return
        path = words[-1]
        try:
            channel.sendall(b"\x00")
            header = b""
            while not header.endswith(b"\n"):
                header += channel.recv(1)
            _mode, size, _file = header.decode().strip().split(" ", 2)
            channel.sendall(b"\x00")
            data = b""
            while len(data) < int(size) + 1:
                chunk = channel.recv(int(size) + 1 - len(data))
                if not chunk:
                    break
                data += chunk
            if len(data) < int(size):
                return  # an upload cut short leaves no file behind
            with self.device.lock:
                self.device.commands.append(f"scp {path}")
                self.device.flash[_name(path)] = data[:int(size)].decode()
            channel.sendall(b"\x00")
            channel.send_exit_status(0)
        except (OSError, EOFError, paramiko.SSHException):
            return  # the client hung up mid-upload: a switch drops the session too
        finally:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                channel.close()


def target(server: Standin, folder: Path) -> Target:
    """How netpipe reaches the stand-in: NAPALM's real ios driver over SSH to 127.0.0.1,
    its host key checked against a known_hosts file of its own in ``folder``."""
    device = server.device
    known = folder / f"{device.hostname}.known_hosts"
    known.write_text(server.known_hosts_line() + "\n")
    return Target(device.hostname, "ios", "127.0.0.1", device.username, device.password,
                  server.port, {"dest_file_system": "flash:", **host_key_args("ios", known)})


@contextlib.contextmanager
def standin(device: Device) -> Iterator[Standin]:
    server = Standin(device)
    try:
        yield server
    finally:
        server.close()

