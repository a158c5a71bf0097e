"""Masking by position: the value on a secret-bearing line is hidden whatever it is.

Masking known values (``secrets.mask``) misses every secret nobody told us about: the old
value of a rotated ``BGP_ISP_PASSWORD`` still running on a device, an IOS type 7 key that
``service password-encryption`` made of ours, a password someone typed by hand. So any
line that carries a secret in its syntax (``neighbor X password …``, ``snmp-server
community …``, `` key 7 …`` under a TACACS server, ``username … secret 9 …``) has its value
masked in every diff, drift report, merge-request note and error that leaves the process,
and so does any line shaped like a line where a template put a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from pipeline.secrets import MASK, PLACEHOLDER, mask

# Optional diff marker (+, -, space), indentation and a `no` (a removal in a remediation
# list), then the keywords; the value is the named group. An encryption type (0, 5, 6, 7,
# 8, 9) before the value is kept visible.
_LEAD = r"^(?P<lead>[+\- ]?\s*(?:no\s+)?)"
_TYPE = r"(?:\d{1,2}\s+)?"
KNOWN: tuple[str, ...] = (
    r"neighbor\s+\S+\s+password\s+" + _TYPE,
    r"ip\s+ospf\s+authentication-key\s+" + _TYPE,
    r"ip\s+ospf\s+message-digest-key\s+\d+\s+md5\s+" + _TYPE,
    r"(?:enable\s+)?(?:secret|password)\s+(?:level\s+\d+\s+)?" + _TYPE,
    r"username\s+\S+\s+(?:\S+\s+)*?(?:secret|password)\s+" + _TYPE,
    r"snmp-server\s+community\s+",
    r"r[ow]community6?\s+",  # net-snmp's snmpd.conf
    r"snmp-server\s+host\s+\S+\s+(?:(?:informs|traps)\s+)?(?:version\s+(?:1|2c|3\s+\S+)\s+)?",
    r"(?:tacacs-server\s+|radius-server\s+)?key\s+(?!chain\b)(?!\d+\s*$)" + _TYPE,
    r"server-private\s+\S+\s+(?:\S+\s+)*?key\s+" + _TYPE,
    r"key-string\s+" + _TYPE,
    r"crypto\s+isakmp\s+key\s+" + _TYPE,
    r"pre-shared-key\s+(?:local\s+|remote\s+)?" + _TYPE,
)
_KNOWN = [re.compile(_LEAD + f"(?P<kw>{k})(?P<value>\\S+)") for k in KNOWN]


def learned(texts: Iterable[str], values: Mapping[str, str] = {}) -> list[re.Pattern[str]]:
    """Patterns for lines shaped like those where a template put a secret: the words before
    the placeholder (or a known value) then any value, with or without an encryption type."""
    patterns: dict[str, re.Pattern[str]] = {}
    needles = [PLACEHOLDER] + [re.compile(re.escape(v)) for v in values.values() if len(v) >= 3]
    for text in texts:
        for line in text.splitlines():
            for needle in needles:
                found = needle.search(line)
                if found is None:
                    continue
                words = line[:found.start()].split()
                if not words:
                    continue
                key = r"\s+".join(re.escape(w) for w in words) + r"\s+" + _TYPE
                patterns.setdefault(key, re.compile(_LEAD + f"(?P<kw>{key})(?P<value>\\S+)"))
                break
    return list(patterns.values())


def mask_lines(text: str, extra: Sequence[re.Pattern[str]] = ()) -> str:
    """Every secret-bearing line's value masked, whatever its value."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        end = line[len(body):]
        for pattern in (*extra, *_KNOWN):
            match = pattern.match(body)
            if match and match.group("value") != MASK:
                body = (match.group("lead") + match.group("kw") + MASK
                        + body[match.end("value"):])
                break
        out.append(body + end)
    return "".join(out)


def redact(text: str, values: Mapping[str, str] = {},
           extra: Sequence[re.Pattern[str]] = ()) -> str:
    """What leaves the process: secret-bearing lines by position, then known values anywhere."""
    return mask(mask_lines(text, extra), values)
