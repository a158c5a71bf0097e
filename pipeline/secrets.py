"""Secrets stay out of every artifact.

Templates render a secret as a placeholder naming its environment variable
(``<secret:TACACS_KEY>``). Only the deploy step resolves placeholders, in memory,
right before a config goes to a device; everything written to disk, logged, diffed
or posted to a merge request carries the placeholder or a mask.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"<secret:([A-Z][A-Z0-9_]{1,63})>")
MASK = "<secret:masked>"


def placeholder(name: str) -> str:
    return f"<secret:{name}>"


class MissingSecret(KeyError):
    """A config needs a secret whose environment variable is not set."""


def resolve(text: str, env: Mapping[str, str] | None = None) -> str:
    """Replace every placeholder by its value from ``env`` (default: the environment)."""
    source = os.environ if env is None else env

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in source:
            raise MissingSecret(name)
        return source[name]

    return PLACEHOLDER.sub(value, text)


def mask(text: str, values: Mapping[str, str] | None = None) -> str:
    """Hide placeholders and any known secret value that slipped into ``text``."""
    text = PLACEHOLDER.sub(MASK, text)
    for secret in sorted((values or {}).values(), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def unresolve(text: str, values: Mapping[str, str]) -> str:
    """Known secret values back to placeholders: backups of running configs hold no secret
    and are filled in again, from the environment, when restored."""
    for name, secret in sorted(values.items(), key=lambda kv: len(kv[1]), reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, placeholder(name))
    return text
