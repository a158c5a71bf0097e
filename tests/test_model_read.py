"""Any key the model accepts is rendered, used or an error: nothing is accepted and ignored.

``dhcp_relay`` was accepted on every VLAN and read by nothing. This walks every field of the
intent model (``pipeline/intent/model.py``) and every field of the design's records
(``pipeline/design.py``) and fails on one that no later stage reads: an intent field must be
read by the design, a rule or a command (change, verify, lab); a design field by a template
or a command. "Read" is an attribute access (``.name``) or a key (``"name"``) in those
sources: textual, so a field sharing its name with a read field of another class passes, but
a field nobody reads under any name fails.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Iterator

from pydantic import BaseModel

from pipeline import design
from pipeline.intent import model
from tests.conftest import REPO

ALLOWED: dict[tuple[str, str], str] = {
    ("Device", "site"): "metadata: the inventory's site, offered to a network's own templates",
    ("Device", "role"): "metadata: the inventory's role, offered to a network's own templates",
}
"""(class, field) made or accepted without being read, and why: only pure metadata."""


def _sources(*patterns: str, skip: tuple[str, ...] = ()) -> str:
    return "\n".join(p.read_text() for pattern in patterns for p in sorted(REPO.glob(pattern))
                     if p.relative_to(REPO).as_posix() not in skip)


def unread(fields: dict[str, list[str]], text: str) -> Iterator[tuple[str, str]]:
    """(class, field) of each field ``text`` never reads."""
    for cls, names in fields.items():
        for name in names:
            if (cls, name) in ALLOWED:
                continue
            if not re.search(rf"\.{name}\b|[\"']{name}[\"']", text):
                yield cls, name


def _intent_fields() -> dict[str, list[str]]:
    return {name: [f for f in cls.model_fields if f != "src"]
            for name, cls in inspect.getmembers(model, inspect.isclass)
            if issubclass(cls, BaseModel) and cls.__module__ == model.__name__}


def _design_fields() -> dict[str, list[str]]:
    return {name: [f.name for f in dataclasses.fields(cls)]
            for name, cls in inspect.getmembers(design, inspect.isclass)
            if dataclasses.is_dataclass(cls) and cls.__module__ == design.__name__
            and not name.startswith("_")}


READERS_OF_INTENT = ("pipeline/design.py", "pipeline/intent/*.py", "pipeline/change/*.py",
                     "pipeline/verify/*.py", "pipeline/lab/*.py")
READERS_OF_DESIGN = ("templates/**/*.j2", "pipeline/render/*.py", "pipeline/change/*.py",
                     "pipeline/verify/*.py", "pipeline/lab/*.py")


def test_every_intent_field_is_read() -> None:
    text = _sources(*READERS_OF_INTENT, skip=("pipeline/intent/model.py",
                                              "pipeline/intent/loader.py"))
    missing = sorted(unread(_intent_fields(), text))
    assert not missing, f"accepted by the model, read by nothing: {missing}"


def test_every_design_field_is_read() -> None:
    missing = sorted(unread(_design_fields(), _sources(*READERS_OF_DESIGN)))
    assert not missing, f"made by the design, read by no template or command: {missing}"


def test_an_unread_field_is_found() -> None:
    """The walk finds what it is for: a VLAN's dhcp_relay that no source reads."""
    fields = {"Vlan": ["id", "dhcp_relay"]}
    assert list(unread(fields, "vlan.id in carried")) == [("Vlan", "dhcp_relay")]
    assert list(unread(fields, "vlan.id, vlan.dhcp_relay")) == []
    assert "dhcp_relay" in _intent_fields()["Vlan"]
    assert "dhcp_relay" in _design_fields()["Interface"]
