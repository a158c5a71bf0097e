"""Backups are sealed before they reach the state store.

A backup is a device's running config verbatim: it must restore exactly, and it holds
secrets that no placeholder can stand for (the old value of a rotated secret, an IOS
type 7 key). The state store is a git branch pushed to origin, readable by everyone who
can read the repository, so every backup is encrypted with Fernet (AES-128-CBC with an
HMAC-SHA256, from the well-kept ``cryptography`` package) under a key held in the masked
CI variable ``NETPIPE_STATE_KEY``. Several keys separated by spaces rotate it: the first
seals, every one opens (``MultiFernet``).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_VAR = "NETPIPE_STATE_KEY"
PREFIX = "netpipe-sealed:v1:"
HOW_TO = ("create one with: python3 -c 'from cryptography.fernet import Fernet; "
          "print(Fernet.generate_key().decode())' and keep it as a masked, protected CI "
          f"variable {KEY_VAR} (and in your password manager for rollbacks from a laptop)")


class SealError(Exception):
    """No key, a malformed key, or a backup sealed under a key we do not have."""


class Sealer:
    def __init__(self, keys: str) -> None:
        words = keys.split()
        if not words:
            raise SealError(f"{KEY_VAR} is empty; {HOW_TO}")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in words])
        except ValueError as exc:
            raise SealError(f"{KEY_VAR} is not a Fernet key ({exc}); {HOW_TO}") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Sealer:
        source = os.environ if env is None else env
        if KEY_VAR not in source:
            raise SealError(f"{KEY_VAR} is not set: backups in the state store are encrypted "
                            f"with it; {HOW_TO}")
        return cls(source[KEY_VAR])

    @classmethod
    def for_lab(cls, env: Mapping[str, str] | None = None) -> Sealer:
        """The environment's key, else a fixed lab-only key (lab configs hold lab secrets)."""
        source = os.environ if env is None else env
        if KEY_VAR in source:
            return cls(source[KEY_VAR])
        digest = hashlib.sha256(b"netpipe lab state key, not for production").digest()
        return cls(base64.urlsafe_b64encode(digest).decode())

    def seal(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii") + "\n"

    def open(self, data: str) -> str:
        """A sealed backup's text; a backup stored before sealing existed comes back as is
        (it holds placeholders, never secret values)."""
        if not data.startswith(PREFIX):
            return data
        try:
            return self._fernet.decrypt(data[len(PREFIX):].strip().encode("ascii")).decode()
        except InvalidToken:
            raise SealError(f"a backup cannot be opened with {KEY_VAR}: it was sealed under "
                            "another key (add the old key after the new one, space-separated)"
                            ) from None
