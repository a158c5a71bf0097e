"""Every hostile case runs under a hard per-test timeout (pytest-timeout, SIGALRM): a
case that hangs fails at 10 s instead of holding up the suite. No case asserts a
duration; the limits are what make each case fast."""

from __future__ import annotations

import pytest

CASE_TIMEOUT = 10


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/hostile/" in item.nodeid and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(CASE_TIMEOUT, method="signal"))
