"""Traffic probe agent, run inside a lab test host's namespace.

``serve``: answer on the given TCP ports (accept and close) and UDP ports (echo).
``probe``: read ``[{"id", "proto", "dst", "port"}]`` as JSON on stdin, try every flow
at once, print ``{"id": outcome}``: ``open`` (answered), ``refused`` (a TCP reset or an
ICMP port unreachable: something rejected it), ``unreachable`` (an ICMP host or network
unreachable from a router on the way) or ``no answer`` (silently dropped: a firewall's
drop or a blackhole route). ICMP probes send a real echo request.

Standard library only, so that starting it in forty namespaces stays cheap.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

TIMEOUT = 1.5
_POOL = ThreadPoolExecutor(max_workers=64)  # ICMP waits block; never queue them


async def _serve(tcp: list[int], udp: list[int]) -> None:
    loop = asyncio.get_running_loop()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(data, addr)  # type: ignore[attr-defined]

    for port in tcp:
        await asyncio.start_server(accept, "0.0.0.0", port, reuse_address=True)
    for port in udp:
        await loop.create_datagram_endpoint(Echo, local_addr=("0.0.0.0", port))
    print("ready", flush=True)
    await asyncio.Event().wait()


OPEN, REFUSED, UNREACHABLE, NO_ANSWER = "open", "refused", "unreachable", "no answer"


def _failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return NO_ANSWER
    if isinstance(exc, ConnectionRefusedError):
        return REFUSED
    return UNREACHABLE  # EHOSTUNREACH, ENETUNREACH: a router said so


async def _tcp(dst: str, port: int) -> str:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(dst, port), TIMEOUT)
    except (TimeoutError, OSError) as exc:
        return _failure(exc)
    writer.close()
    return OPEN


async def _udp(dst: str, port: int) -> str:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[str] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not got.done():
                got.set_result(OPEN)

        def error_received(self, exc: Exception) -> None:
            if not got.done():
                got.set_result(_failure(exc))

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=(dst, port))
    try:
        transport.sendto(b"netpipe-probe")
        return await asyncio.wait_for(got, TIMEOUT)
    except TimeoutError:
        return NO_ANSWER
    finally:
        transport.close()


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return int(~(total + (total >> 16)) & 0xFFFF)


def _icmp_blocking(dst: str) -> str:
    ident = os.getpid() & 0xFFFF
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    payload = b"netpipe-probe..."
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(packet, (dst, 0))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                data, addr = sock.recvfrom(1024)
            except TimeoutError:
                return NO_ANSWER
            kind, _, _, rid = struct.unpack("!BBHH", data[20:26])
            if addr[0] == dst and kind == 0 and rid == ident:
                return OPEN
    return NO_ANSWER


async def _icmp(dst: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_POOL, _icmp_blocking, dst)


async def _probe(flows: list[dict[str, object]]) -> dict[str, str]:
    async def one(flow: dict[str, object]) -> tuple[str, str]:
        dst, port = str(flow["dst"]), int(flow.get("port") or 0)  # type: ignore[call-overload]
        proto = flow["proto"]
        if proto == "tcp":
            ok = await _tcp(dst, port)
        elif proto == "udp":
            ok = await _udp(dst, port)
        else:
            ok = await _icmp(dst)
        return str(flow["id"]), ok

    return dict(await asyncio.gather(*(one(f) for f in flows)))


def _ports(arg: str) -> list[int]:
    return [int(p) for p in arg.split(",") if p]


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        tcp = _ports(argv[argv.index("--tcp") + 1]) if "--tcp" in argv else []
        udp = _ports(argv[argv.index("--udp") + 1]) if "--udp" in argv else []
        asyncio.run(_serve(tcp, udp))
        return 0
    if argv[:1] == ["probe"]:
        print(json.dumps(asyncio.run(_probe(json.load(sys.stdin)))))
        return 0
    print("usage: agent serve [--tcp P,…] [--udp P,…] | agent probe < flows.json",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
