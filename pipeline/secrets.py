"""Secrets stay out of every artifact, and only declared secrets reach a device.

Templates render a secret as a placeholder naming its environment variable
(``<secret:TACACS_KEY>``). Only the deploy step resolves placeholders, in memory,
right before a config goes to a device; everything written to disk, logged, diffed
or posted to a merge request carries the placeholder or a mask.

A network declares once which variables it may use as secrets, and of which kind
(``secrets:`` in ``intent/network.yaml``); anything else in the environment (the
device logins, the CI job token) can never be named by intent or templates. Before
substitution every value is checked against its kind: a newline in an SNMP community
would add config lines of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"<secret:([A-Z][A-Z0-9_]{1,63})>")
MASK = "<secret:masked>"

_SAFE = "A-Za-z0-9!#%&()*+,\\-./:;=@\\[\\]_{}~"
_SAFE_TEXT = "letters, digits and ! # % & ( ) * + , - . / : ; = @ [ ] _ { } ~"


@dataclass(frozen=True)
class Kind:
    """What a secret is for, and what the device syntax lets it hold."""

    what: str
    allowed: re.Pattern[str]
    allowed_text: str
    max_length: int


KINDS: dict[str, Kind] = {
    "snmp_community": Kind("an SNMP community", re.compile(f"[{_SAFE}]+"), _SAFE_TEXT, 32),
    "tacacs_key": Kind("a TACACS+ key", re.compile(f"[{_SAFE}]+"), _SAFE_TEXT, 64),
    "bgp_password": Kind("a BGP (TCP-MD5) password", re.compile(f"[{_SAFE}]+"), _SAFE_TEXT, 80),
    "local_password": Kind("a local user's password", re.compile(f"[{_SAFE}]+"), _SAFE_TEXT,
                           64),
    "password_hash": Kind("a password hash ($9$…, $8$…)",
                          re.compile(r"\$[0-9a-z]{1,2}\$[A-Za-z0-9./$]+"),
                          "'$', a type, '$', then letters, digits, '.', '/' and '$'", 256),
}
"""Every kind a secret may be declared as (``secrets: {NAME: kind}`` in network.yaml)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def placeholder(name: str) -> str:
    return f"<secret:{name}>"


IOS_HASH = re.compile(r"^\$(?P<type>[89])\$[./0-9A-Za-z]{14}\$[./0-9A-Za-z]{43}$")


def ios_hash_problem(value: str, hash_type: int) -> str | None:
    """Why ``value`` is not an IOS type ``hash_type`` secret hash (None: it is one).

    Hashes are made offline and kept in the secret store; a plain password here would
    otherwise reach the device, which refuses it in the middle of a replace."""
    m = IOS_HASH.match(value)
    if m is None:
        return f"is not an IOS type {hash_type} hash ($%d$<14 chars>$<43 chars>)" % hash_type
    if int(m["type"]) != hash_type:
        return f"is a type {m['type']} hash, the intent says type {hash_type}"
    return None


class MissingSecret(KeyError):
    """A config needs a secret whose environment variable is not set."""


class BadSecret(ValueError):
    """A secret's value cannot go into a config; the message names it, never the value."""


def problem(kind: str, value: str) -> str | None:
    """Why ``value`` cannot be a secret of ``kind`` (never quoting it), or None."""
    spec = KINDS.get(kind)
    if not value:
        return "is empty"
    if _CONTROL.search(value):
        return "holds a control character or line break (it would add config lines)"
    if spec is None:
        return f"is declared with the unknown kind {kind!r}"
    if len(value) > spec.max_length:
        return f"is longer than the {spec.max_length} characters {spec.what} may have"
    if not spec.allowed.fullmatch(value):
        return f"holds a character {spec.what} may not hold here (allowed: {spec.allowed_text})"
    return None


def check(values: Mapping[str, str], declared: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, problem) for every value that is undeclared or does not fit its kind."""
    problems = []
    for name in sorted(values):
        if name not in declared:
            problems.append((name, "is not declared under secrets: in intent/network.yaml"))
        elif (why := problem(declared[name], values[name])) is not None:
            problems.append((name, why))
    return problems


def resolve(text: str, env: Mapping[str, str] | None = None) -> str:
    """Replace every placeholder by its value from ``env`` (default: the environment)."""
    source = os.environ if env is None else env

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in source:
            raise MissingSecret(name)
        if not source[name] or _CONTROL.search(source[name]):  # whatever the path, never a line
            raise BadSecret(f"secret {name} is empty or holds a control character or line "
                            "break")
        return source[name]

    return PLACEHOLDER.sub(value, text)


def mask(text: str, values: Mapping[str, str] | None = None) -> str:
    """Hide placeholders and any known secret value that slipped into ``text``."""
    text = PLACEHOLDER.sub(MASK, text)
    for secret in sorted((values or {}).values(), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text

