"""Which devices a change talks to, and how: NAPALM connection parameters and Nornir.

Production targets come from the inventory (credentials from the environment
variables it names); lab targets from the lab plan (netns transport). Either way the
change stage sees one :class:`Target` per device and runs it through Nornir's
``napalm`` connection plugin, so ``frr`` and ``ios`` follow one path.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nornir.core import Nornir
from nornir.core.configuration import Config
from nornir.core.inventory import ConnectionOptions, Defaults, Groups, Host, Hosts, Inventory
from nornir.core.plugins.connections import ConnectionPluginRegister
from nornir.plugins.runners import ThreadedRunner

from pipeline import files
from pipeline.intent.model import Host as InventoryHost
from pipeline.lab import lab


class TargetError(Exception):
    """A device cannot be targeted at all (e.g. its credentials are not set)."""


@dataclass(frozen=True)
class Target:
    name: str
    platform: str
    hostname: str
    username: str = ""
    password: str = field(default="", repr=False)
    port: int | None = None
    optional_args: Mapping[str, Any] = field(default_factory=dict)


_KNOWN_HOSTS_LIMIT = 1 << 20
_copies: dict[tuple[Path, str], Path] = {}


def _known_hosts_copy(root: Path, rel: str, host: str) -> Path:
    """A private copy of the inventory's known_hosts file, read as every repository file is
    (a regular file inside the repository, no symlink), for the drivers to load."""
    key = (root.resolve(), rel)
    if key not in _copies:
        try:
            data = files.read_bytes(root, rel, _KNOWN_HOSTS_LIMIT)
        except files.Refused as exc:
            missing = "does not exist" if exc.missing else exc.reason
            raise TargetError(f"{host}: the known_hosts file {files.shown(rel)} named in the "
                              f"inventory {missing}") from None
        folder = Path(tempfile.mkdtemp(prefix="netpipe-known-hosts-"))
        atexit.register(shutil.rmtree, folder, True)
        copy = folder / "known_hosts"
        copy.write_bytes(data)
        _copies[key] = copy
    return _copies[key]


def host_key_args(platform: str, known_hosts: Path) -> dict[str, Any]:
    """Driver options that refuse any SSH host key not in ``known_hosts``."""
    if platform == "ios":  # netmiko, through NAPALM's ios driver
        return {"ssh_strict": True, "system_host_keys": False, "alt_host_keys": True,
                "alt_key_file": str(known_hosts)}
    return {"known_hosts_file": str(known_hosts)}


def production_targets(hosts: Mapping[str, InventoryHost],
                       env: Mapping[str, str] | None = None,
                       root: Path | None = None) -> dict[str, Target]:
    """Every inventory device; raises TargetError naming the unset credential variables.

    A ``known_hosts`` file the inventory names (relative to ``root``) is what every device's
    SSH host key is checked against; a missing file is refused before any connection."""
    source = os.environ if env is None else env
    targets: dict[str, Target] = {}
    missing: set[str] = set()
    for name, host in sorted(hosts.items()):
        creds = host.data.credentials
        username = host.username or ""
        password = ""
        if creds is not None:
            for var in (creds.username_env, creds.password_env):
                if var not in source:
                    missing.add(var)
            username = source.get(creds.username_env, username)
            password = source.get(creds.password_env, "")
        napalm_opts = host.connection_options.get("napalm", {})
        extras = napalm_opts.get("extras", {}) if isinstance(napalm_opts, dict) else {}
        options = dict(extras.get("optional_args", {}))
        if host.data.known_hosts:
            known = _known_hosts_copy(root or Path("."), host.data.known_hosts, name)
            options.update(host_key_args(host.platform, known))
        targets[name] = Target(name, host.platform, host.hostname, username, password, host.port,
                               options)
    if missing:
        raise TargetError("credentials not set: export " + ", ".join(sorted(missing)))
    return targets


def lab_targets(prefix: str, devices: Iterable[str]) -> dict[str, Target]:
    """Lab routers by name (IOS switches are not emulated in the lab)."""
    targets = {}
    for device in sorted(devices):
        params = lab.napalm_params(prefix, device)
        targets[device] = Target(device, params["driver"], params["hostname"],
                                 optional_args=params["optional_args"])
    return targets


QUIET_LOGGERS = ("nornir", "napalm", "napalm_frr", "netmiko", "paramiko")


def quiet_libraries() -> None:
    """Silence the libraries' own loggers: a failed task's traceback can quote the config
    line a device rejected, secret included. netpipe reports every error itself, masked."""
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [logging.NullHandler()]
        logger.propagate = False


def nornir_for(targets: Mapping[str, Target], num_workers: int = 10) -> Nornir:
    """A Nornir object over ``targets`` (no inventory files, no log file: nothing can leak)."""
    quiet_libraries()
    ConnectionPluginRegister.auto_register()
    hosts = Hosts()
    for name, t in targets.items():
        hosts[name] = Host(
            name=name, hostname=t.hostname, username=t.username, password=t.password,
            port=t.port, platform=t.platform, data={},
            connection_options={"napalm": ConnectionOptions(
                extras={"optional_args": dict(t.optional_args)})},
        )
    return Nornir(inventory=Inventory(hosts=hosts, groups=Groups(), defaults=Defaults()),
                  config=Config(), runner=ThreadedRunner(num_workers=num_workers))
