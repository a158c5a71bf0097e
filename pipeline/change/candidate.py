"""The text a device gets: rendered files joined per platform, secrets filled in memory.

This is the only place placeholders become secret values; everything that leaves
the process goes through ``masking.redact`` (diffs, reports) or is sealed (backups).
"""

from __future__ import annotations

from collections.abc import Mapping

from napalm_frr.bundle import join_bundle
from pipeline.render.render import Rendered
from pipeline.secrets import PLACEHOLDER, resolve

IOS_FILE = "running.conf"


def needed_secrets(rendered: Mapping[str, Rendered]) -> set[str]:
    return {m for r in rendered.values() for t in r.files.values() for m in PLACEHOLDER.findall(t)}


def device_text(item: Rendered) -> str:
    """One config text per device, still with placeholders."""
    if item.platform == "frr":
        return join_bundle(item.files)
    return item.files[IOS_FILE]


def candidate(item: Rendered, secrets: Mapping[str, str]) -> str:
    """The config to load on the device; raises MissingSecret for an unset variable."""
    return resolve(device_text(item), secrets)
