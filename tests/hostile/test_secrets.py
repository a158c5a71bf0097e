"""Hostile secrets: naming what is not declared, planting placeholders, and values that
would add config lines. Run through ``netpipe diff`` against production targets: the
path that fills secrets in before a device is contacted (the harness traps any contact)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.harness import Case, cases_ids, run

NETWORK = "intent/network.yaml"
TOPOLOGY = "intent/topology.yaml"
FIREWALL = "intent/firewall.yaml"
IOS = "templates/ios/running.conf.j2"
FRR = "templates/frr/frr.conf.j2"
DIFF = ("diff",)


def replace(rel: str, old: str, new: str) -> object:
    return lambda net: net.replace(rel, old, new)


def template(text: str, rel: str = IOS) -> object:
    return lambda net: net.append(rel, f"{text}\n")


NAMING = [
    Case("community-names-login", "community_secret: NETPIPE_PASSWORD (the device login)",
         replace(NETWORK, "community_secret: SNMP_RO_COMMUNITY", "community_secret: "
                 "NETPIPE_PASSWORD"), "NP030", NETWORK, "community_secret", DIFF),
    Case("tacacs-names-ci-token", "key_secret: CI_JOB_TOKEN",
         replace(NETWORK, "key_secret: TACACS_KEY", "key_secret: CI_JOB_TOKEN"), "NP030",
         NETWORK, "key_secret", DIFF),
    Case("bgp-names-username", "password_secret: NETPIPE_USERNAME",
         replace(TOPOLOGY, "password_secret: BGP_ISP_PASSWORD", "password_secret: "
                 "NETPIPE_USERNAME"), "NP030", TOPOLOGY, "password_secret", DIFF),
    Case("bgp-wrong-kind", "the TACACS key used as a BGP password",
         replace(TOPOLOGY, "password_secret: BGP_ISP_PASSWORD", "password_secret: TACACS_KEY"),
         "NP030", TOPOLOGY, "password_secret", DIFF),
    Case("declare-login", "the device login declared as a config secret",
         replace(NETWORK, "  BGP_ISP_PASSWORD: bgp_password", "  BGP_ISP_PASSWORD: bgp_password"
                 "\n  NETPIPE_PASSWORD: local_password"), "NP030", NETWORK,
         "NETPIPE_PASSWORD: local", DIFF),
    Case("declare-unknown-kind", "a secret declared with a made-up kind",
         replace(NETWORK, "  TACACS_KEY: tacacs_key", "  TACACS_KEY: anything"), "NP011",
         NETWORK, "TACACS_KEY: anything", DIFF),
    Case("declare-lowercase", "a secret named like no environment variable",
         replace(NETWORK, "  TACACS_KEY: tacacs_key", "  TACACS_KEY: tacacs_key\n"
                 "  path: tacacs_key"), "NP011", NETWORK, "path: tacacs", DIFF),
    Case("placeholder-description", "<secret:NETPIPE_PASSWORD> in a link description",
         replace(TOPOLOGY, "description: WAN gent-hq}", "description: "
                 "'x <secret:NETPIPE_PASSWORD>'}"), "NP031", TOPOLOGY, "secret:", DIFF),
    Case("placeholder-banner", "<secret:CI_JOB_TOKEN> in the banner",
         replace(NETWORK, "banner: Authorised access only. Vandaele Foods network operations.",
                 "banner: 'token <secret:CI_JOB_TOKEN>'"), "NP031", NETWORK, "banner", DIFF),
    Case("placeholder-key", "a placeholder as a zone name",
         replace(FIREWALL, "  cameras: {description: IP cameras}",
                 "  '<secret:NETPIPE_PASSWORD>': {description: IP cameras}"), "NP031",
         FIREWALL, "secret:", DIFF),
    Case("placeholder-declared-in-text", "a declared secret's placeholder in a description",
         replace(TOPOLOGY, "description: WAN gent-hq}", "description: "
                 "'<secret:SNMP_RO_COMMUNITY>'}"), "NP031", TOPOLOGY, "secret:", DIFF),
    Case("template-filter-ci-token", "{{ 'CI_JOB_TOKEN' | secret }} in a template",
         template("snmp-server contact {{ 'CI_JOB_TOKEN' | secret }}"), "NP030", IOS,
         "CI_JOB_TOKEN", DIFF),
    Case("template-filter-login", "{{ 'NETPIPE_PASSWORD' | secret }} in the FRR template",
         template("! {{ 'NETPIPE_PASSWORD' | secret }}", FRR), "NP030", FRR, "NETPIPE_PASSWORD",
         DIFF),
    Case("template-filter-computed", "a secret name computed from device data",
         template("! {{ (d.name|upper|replace('-', '_')) | secret }}"), "NP030", IOS, "upper",
         DIFF),
    Case("template-literal", "a literal <secret:NETPIPE_PASSWORD> in template text",
         template("username evil secret <secret:NETPIPE_PASSWORD>"), "NP030", IOS,
         "username evil", DIFF),
    Case("template-concatenated", "a placeholder built by concatenation",
         template("username evil secret {{ '<secret:' ~ 'NETPIPE_PASSWORD>' }}"), "NP202", IOS,
         "username evil", DIFF),
    Case("template-split", "a placeholder split across two printed values",
         template("username evil secret {{ '<secr' }}{{ 'et:NETPIPE_PASSWORD>' }}"), "NP030",
         IOS, None, DIFF),
]

DECLARED = {"SNMP_RO_COMMUNITY": "  SNMP_RO_COMMUNITY: snmp_community",
            "TACACS_KEY": "  TACACS_KEY: tacacs_key",
            "BGP_ISP_PASSWORD": "  BGP_ISP_PASSWORD: bgp_password"}


def bad_value(cid: str, what: str, name: str, value: str) -> Case:
    """A secret whose value would break or extend the config: exit 2, nothing touched, the
    finding at the declaration, the value nowhere in the output."""
    return Case(f"value-{cid}", what, lambda net: None, "NP032", NETWORK,
                DECLARED[name].strip(), DIFF, exit=2, env={name: value}, leak=(value,))


VALUES = [
    bad_value("newline", "an SNMP community with a newline and a user after it",
              "SNMP_RO_COMMUNITY", "x\nusername evil privilege 15 secret y"),
    bad_value("cr", "a TACACS key with a CR", "TACACS_KEY", "tacacskey\rno aaa new-model"),
    bad_value("tab", "a BGP password with a tab", "BGP_ISP_PASSWORD", "bgppass\tword"),
    bad_value("escape", "a community with an ESC sequence", "SNMP_RO_COMMUNITY",
              "public\x1b[2Jpublic"),
    bad_value("line-separator", "a TACACS key with U+2028", "TACACS_KEY", "tacacs\u2028key"),
    bad_value("space", "a BGP password with a space", "BGP_ISP_PASSWORD", "bgp password"),
    bad_value("question", "a community with '?' (IOS help)", "SNMP_RO_COMMUNITY", "public?ro"),
    bad_value("quote", "a TACACS key with a double quote", "TACACS_KEY", 'tacacs"key'),
    bad_value("too-long", "a 40-character community", "SNMP_RO_COMMUNITY", "c" * 40),
    bad_value("empty", "an empty BGP password", "BGP_ISP_PASSWORD", ""),
    bad_value("non-ascii", "a TACACS key with a non-ASCII letter", "TACACS_KEY", "tacacsképass"),
    bad_value("placeholder", "a value that is another secret's placeholder",
              "SNMP_RO_COMMUNITY", "<secret:NETPIPE_PASSWORD>"),
    bad_value("backslash", "a BGP password ending in a backslash", "BGP_ISP_PASSWORD",
              "bgppassword\\"),
]

CASES = NAMING + VALUES


@pytest.mark.parametrize("case", CASES, ids=cases_ids(CASES))
def test_hostile_secrets(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(case, tmp_path, monkeypatch, capsys).exit in (1, 2)  # refused, never a bug (5)


def test_fitting_values_pass_the_same_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """The checks are not a wall: with fitting values the same command gets as far as the
    device stage (here: the trap, which records the attempt and stops it)."""
    from pipeline.cli import main
    from tests.conftest import copy_example
    from tests.hostile.harness import SECRETS, _trap_devices

    root = copy_example(tmp_path / "net")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    contacted = _trap_devices(monkeypatch)
    main(["diff", "--root", str(root)])
    assert contacted, "validation stopped a network whose secrets all fit"
