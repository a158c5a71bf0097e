"""The intent model reads numbers and flags strictly (YAML 1.2 as written, no coercion)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.intent import model


def _node_classes() -> list[type[model.Node]]:
    seen: list[type[model.Node]] = []
    todo = [model.Node]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return seen


def _lax(schema: Any, path: str = "") -> Iterator[str]:
    """Paths of int/bool schemas that would coerce (210.0 -> 210, "yes" -> True)."""
    if isinstance(schema, dict):
        if schema.get("type") in ("dataclass", "named-tuple"):  # Source/Loc: not intent
            return
        if schema.get("type") in ("int", "bool") and not schema.get("strict"):
            yield path
        for key, value in schema.items():
            yield from _lax(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _lax(value, f"{path}/{i}")


@pytest.mark.parametrize("cls", _node_classes(), ids=lambda c: c.__name__)
def test_every_int_and_bool_field_is_strict(cls: type[model.Node]) -> None:
    """Use model.Int / model.Bool: a lax int accepts 210.0 and "210", a lax bool "yes"."""
    lax = list(_lax(cls.__pydantic_core_schema__))
    assert not lax, f"{cls.__name__}: lax int/bool at {lax}"


@pytest.mark.parametrize("value", [210.0, "210", True])
def test_a_vlan_id_must_be_written_as_a_number(value: object) -> None:
    with pytest.raises(ValueError, match="valid integer"):
        model.Vlan.model_validate({"id": value, "name": "A", "zone": "z",
                                   "subnet": "10.0.0.0/24"})


@pytest.mark.parametrize(("spec", "ok"), [
    ("tcp/502", True), ("udp/1000-2000", True), ("icmp", True), ("any", True),
    ("tcp/65535", True), ("tcp/70000", False), ("tcp/5000-100", False), ("tcp/0", False),
    ("udp/1-65536", False), ("sctp/1", False),
])
def test_service_ports_are_checked_where_they_are_written(spec: str, ok: bool) -> None:
    data = {"services": {"svc": [spec]}}
    if ok:
        assert model.Firewall.model_validate(data).services["svc"] == [spec]
    else:
        with pytest.raises(ValueError, match="svc"):
            model.Firewall.model_validate(data)


def test_a_banner_may_not_hold_the_ios_delimiter() -> None:
    with pytest.raises(ValueError, match=r"\^C"):
        model.NetworkSettings.model_validate({"name": "n", "domain": "x.example", "asn": 65000,
                                              "banner": "hello ^C username evil"})


def test_every_secret_field_names_its_kind() -> None:
    """A ``*_secret`` field without a SecretOf marker would escape NP030's kind check."""
    from pipeline.intent.rules import _secret_kind
    from pipeline.secrets import KINDS

    for cls in _node_classes():
        for name, info in cls.model_fields.items():
            if name.endswith("_secret"):
                kind = _secret_kind(info)
                assert kind in KINDS, f"{cls.__name__}.{name} has no SecretOf(kind) marker"


@pytest.mark.parametrize("spec", ["Gi1/0/12-1", "Gi1/0/1-400"])
def test_a_bad_port_group_is_refused_each_time_it_is_written(spec: str) -> None:
    """Port specs that pass are checked once per estate (cached); one that fails is refused
    wherever it is written, not only the first time."""
    data = {"interfaces": spec, "vlan": 10}
    for _ in range(3):
        with pytest.raises(ValueError, match="port range"):
            model.PortGroup.model_validate(data)
    assert model.PortGroup.model_validate({**data, "interfaces": "Gi1/0/1-4"}).vlan == 10
