"""The command list a ``configure replace`` amounts to, for platforms hier_config knows.

A unified diff of two IOS configs shows which lines differ; a switch engineer reviews what
the device will do: which lines are removed (a ``no`` of what, in which order), which
single-valued settings are simply overwritten. hier_config (the library the IOS ecosystem
uses for exactly this) computes that list from the running and the intended config. It is
a review aid computed offline: the device still applies the whole candidate with
``configure replace``, and IOS derives its own list from it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

RUNNING_FILE = {"ios": "running.conf"}
"""Platforms hier_config computes a remediation list for, and the rendered file that is
such a device's whole running config. FRR is not here: frr-reload computes and applies
the difference itself."""


def has_remediation(platform: str) -> bool:
    return platform in RUNNING_FILE


@cache
def _ios_driver() -> type[Any]:
    """hier_config's IOS driver, told about the single-valued commands netpipe's template
    writes, so that changing one reads as the new value instead of a ``no`` of the old one
    followed by the new one (the ``no switchport access vlan`` would move the port to VLAN 1
    for a moment on a real switch), and with local users removed by name. hier_config is
    imported here, when a list is computed, not by every command that imports this."""
    from hier_config.models import IdempotentCommandsRule, MatchRule, NegationSubRule
    from hier_config.platforms.cisco_ios.driver import HConfigDriverCiscoIOS
    from hier_config.platforms.driver_base import HConfigDriverRules

    def one(*prefixes: str) -> IdempotentCommandsRule:
        """A command a section holds one value of: setting it replaces the old one."""
        return IdempotentCommandsRule(
            match_rules=tuple(MatchRule(startswith=p) for p in prefixes))

    class NetpipeIOS(HConfigDriverCiscoIOS):
        @staticmethod
        def _instantiate_rules() -> HConfigDriverRules:
            rules = HConfigDriverCiscoIOS._instantiate_rules()
            single = [
                one("hostname "), one("ip domain name "), one("ip default-gateway "),
                one("enable secret "), one("snmp-server location "),
                one("snmp-server contact "),
                IdempotentCommandsRule(match_rules=(MatchRule(re_search=r"^username (\S+) "),)),
                one("interface ", "switchport access vlan "),
                one("interface ", "switchport trunk allowed vlan "),
                one("interface ", "switchport trunk native vlan "),
                one("tacacs server ", "address ipv4 "), one("tacacs server ", "key "),
                one("archive", "path "), one("archive", "maximum "),
            ]
            by_name = NegationSubRule(match_rules=(MatchRule(startswith="username "),),
                                      search=r"^no username (\S+) .*$",
                                      replace=r"no username \1")
            return rules.model_copy(update={
                "idempotent_commands": [*rules.idempotent_commands, *single],
                "negation_sub": [*rules.negation_sub, by_name]})

    return NetpipeIOS


def remediation(platform: str, running: str, intended: str) -> str:
    """The commands that take a device from ``running`` to ``intended``, in the order
    hier_config gives (removals and changes section by section), one per line with its
    section's indentation; "" when nothing differs or the platform has no driver."""
    if not has_remediation(platform):
        return ""
    from hier_config import WorkflowRemediation, get_hconfig

    driver = _ios_driver()
    flow = WorkflowRemediation(get_hconfig(driver(), running), get_hconfig(driver(), intended))
    text = flow.remediation_config_filtered_text()
    return text + "\n" if text else ""
