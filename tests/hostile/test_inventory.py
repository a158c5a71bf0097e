"""Hostile inventory: where the device login is sent, and what a connection may do on the
runner (run a command through an ssh config's ProxyCommand, log the session to a file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.harness import Case, cases_ids, run

HOSTS = "inventory/hosts.yaml"
GROUPS = "inventory/groups.yaml"
DEFAULTS = "inventory/defaults.yaml"


def replace(rel: str, old: str, new: str) -> object:
    return lambda net: net.replace(rel, old, new)


def option(text: str) -> object:
    return replace(GROUPS, "optional_args: {transport: ssh, sudo: true}",
                   f"optional_args: {{transport: ssh, sudo: true, {text}}}")


CASES = [
    Case("hostname-outside", "a router's address moved outside the network",
         replace(HOSTS, "hostname: 10.255.255.3", "hostname: 203.0.113.66"), "NP023", HOSTS,
         "203.0.113.66", ("diff",)),
    Case("hostname-isp-peer", "a router's address set to the ISP's side of the uplink",
         replace(HOSTS, "hostname: 10.255.255.3", "hostname: 198.51.100.1"), "NP023", HOSTS,
         "198.51.100.1", ("diff",)),
    Case("hostname-foreign-name", "a switch reached through a name outside the domain",
         replace(HOSTS, "hostname: 10.3.99.11", "hostname: collect.attacker.example"), "NP023",
         HOSTS, "attacker", ("diff",)),
    Case("hostname-shell", "a hostname with shell syntax",
         replace(HOSTS, "hostname: 10.3.99.11", "hostname: '10.3.99.11;id'"), "NP023", HOSTS,
         "10.3.99.11;id", ("diff",)),
    Case("ssh-config-proxycommand", "an ssh config whose ProxyCommand would run on the runner",
         option("ssh_config_file: inventory/ssh_config"), "NP011", GROUPS, "ssh_config_file",
         ("diff",)),
    Case("session-log", "a session log that would write configs, secrets and all, to a file",
         option("session_log: build/session.log"), "NP011", GROUPS, "session_log", ("diff",)),
    Case("netns-transport", "the lab's netns transport on a production device",
         replace(GROUPS, "optional_args: {transport: ssh, sudo: true}",
                 "optional_args: {transport: netns, netns: ci}"), "NP011", GROUPS, "netns",
         ("diff",)),
    Case("frr-reload-path", "frr_reload pointed at another program", option("frr_reload: /bin/sh"),
         "NP011", GROUPS, "frr_reload", ("diff",)),
    Case("netmiko-options", "connection options for another plugin",
         replace(GROUPS, "  connection_options:\n    napalm:\n      extras:\n        "
                 "optional_args: {transport: ssh, sudo: true}",
                 "  connection_options:\n    netmiko: {extras: {session_log: x.log}}"),
         "NP011", GROUPS, "netmiko", ("diff",)),
    Case("password-in-optional-args", "a password among the driver options",
         option("secret: enable123"), "NP020", GROUPS, "secret: enable123", ("diff",)),
]


@pytest.mark.parametrize("case", CASES, ids=cases_ids(CASES))
def test_hostile_inventory(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(case, tmp_path, monkeypatch, capsys).exit in (1, 2)  # refused, never a bug (5)
