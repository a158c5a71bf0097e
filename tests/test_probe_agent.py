"""The probe agent names what happened to a flow: open, refused, unreachable, no answer.

Only loopback here (no namespaces needed); the lab tests see "no answer" for flows the
firewall drops and a blackhole route swallows."""

from __future__ import annotations

import asyncio
import errno
import socket

from pipeline.verify import agent


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tcp_open_and_refused() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert asyncio.run(agent._tcp("127.0.0.1", server.getsockname()[1])) == "open"
    assert asyncio.run(agent._tcp("127.0.0.1", _closed_port())) == "refused"


def test_udp_refused_by_port_unreachable() -> None:
    assert asyncio.run(agent._udp("127.0.0.1", _closed_port())) == "refused"


def test_silence_is_no_answer_and_icmp_errors_are_unreachable() -> None:
    assert agent._failure(TimeoutError()) == "no answer"
    assert agent._failure(ConnectionRefusedError()) == "refused"
    assert agent._failure(OSError(errno.EHOSTUNREACH, "No route to host")) == "unreachable"
