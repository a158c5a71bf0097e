"""Backups are sealed with the key from NETPIPE_STATE_KEY (pipeline.change.seal)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from pipeline.change.seal import KEY_VAR, Sealer, SealError

CONFIG = "router bgp 65000\n neighbor 198.51.100.1 password old-s3cret\n"


def test_round_trip_hides_the_text() -> None:
    key = Fernet.generate_key().decode()
    sealed = Sealer(key).seal(CONFIG)
    assert "old-s3cret" not in sealed and "router" not in sealed
    assert Sealer.from_env({KEY_VAR: key}).open(sealed) == CONFIG


def test_a_missing_or_bad_key_is_refused_with_how_to_make_one() -> None:
    with pytest.raises(SealError, match=f"{KEY_VAR} is not set.*Fernet.generate_key"):
        Sealer.from_env({})
    with pytest.raises(SealError, match="not a Fernet key"):
        Sealer("not-a-key")


def test_another_key_cannot_open_and_rotation_keeps_old_backups_readable() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = Sealer(old).seal(CONFIG)
    with pytest.raises(SealError, match="another key"):
        Sealer(new).open(sealed)
    rotated = Sealer(f"{new} {old}")
    assert rotated.open(sealed) == CONFIG
    assert Sealer(new).open(rotated.seal(CONFIG)) == CONFIG, "the first key seals"


def test_a_backup_from_before_sealing_reads_as_it_is() -> None:
    legacy = "neighbor 198.51.100.1 password <secret:BGP_ISP_PASSWORD>\n"
    assert Sealer(Fernet.generate_key().decode()).open(legacy) == legacy


def test_the_lab_key_is_fixed_unless_the_environment_has_one() -> None:
    assert Sealer.for_lab({}).open(Sealer.for_lab({}).seal(CONFIG)) == CONFIG
    key = Fernet.generate_key().decode()
    assert Sealer(key).open(Sealer.for_lab({KEY_VAR: key}).seal(CONFIG)) == CONFIG
