"""Argument checks of the lab primitives (no root needed: they refuse before running anything)."""

from __future__ import annotations

import pytest

from pipeline.lab import netns


@pytest.mark.parametrize("name", ["lab-r1", "r1", "", "np-" + "x" * 70, "np-a b"])
def test_namespace_names_need_the_prefix_and_a_sane_shape(name: str) -> None:
    with pytest.raises(ValueError):
        netns.create_namespace(name)
    with pytest.raises(ValueError):
        netns.delete_namespace(name)


def test_veth_refuses_names_outside_the_lab() -> None:
    with pytest.raises(ValueError, match="prefix"):
        netns.create_veth("np-a", "eth1", "default", "eth1")
    with pytest.raises(ValueError, match="interface name"):
        netns.create_veth("np-a", "an-interface-name-too-long", "np-b", "eth1")
    with pytest.raises(ValueError, match="distinct"):
        netns.create_veth("np-a", "eth1", "np-a", "eth1")


def test_list_namespaces_needs_a_prefix() -> None:
    with pytest.raises(ValueError):
        netns.list_namespaces("")
