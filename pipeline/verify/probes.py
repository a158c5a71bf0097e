"""Firewall probes in the lab: real packets between test hosts of every zone pair.

What each flow *should* do comes from the intended policy (``policy.decide``); what it
*does* comes from the probe agent in the source host's namespace. One probe per
allow or deny rule and source/destination pair, plus one per zone pair that no rule
names, so a missing conduit and an unwanted one both show.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address

from pipeline.design import Firewall, Match
from pipeline.intent.derive import Port
from pipeline.lab.plan import Host, LabPlan
from pipeline.verify.policy import Flow, decide, from_outside, in_match, published_as

PAIR_SERVICE = Port("tcp", "443")
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class Probe:
    id: str
    src: Host
    dst: Host
    proto: str
    port: int
    expect: bool
    decided_by: str
    purpose: str
    via: IPv4Address | None = None  # the public address a published service is probed at

    @property
    def target(self) -> IPv4Address:
        """Where the packet is sent: the destination host, or its published address."""
        return self.via or self.dst.address.ip

    @property
    def service(self) -> str:
        return self.proto if self.proto == "icmp" else f"{self.proto}/{self.port}"


@dataclass(frozen=True)
class Result:
    probe: Probe
    passed: bool  # the flow got through
    got: str = ""  # what the agent saw: open, refused, unreachable, no answer

    @property
    def ok(self) -> bool:
        return self.passed == self.probe.expect

    @property
    def seen(self) -> str:
        """What happened, as a person would say it (``no answer``, not ``refused``)."""
        return self.got or ("open" if self.passed else "shut")


def _hosts_in(match: Match, hosts: list[Host], fw: Firewall) -> list[Host]:
    found = [h for h in hosts if in_match(match, h.address.ip, fw.internal)]
    if match.prefixes and not match.set_name:  # an address group: its own host first
        found.sort(key=lambda h: not h.groups)
    return found


def _pick(srcs: list[Host], dsts: list[Host]) -> tuple[Host, Host] | None:
    """The first source/destination pair in different VLANs: only routed traffic meets
    the firewall (two hosts on one segment talk directly)."""
    for src in srcs:
        for dst in dsts:
            if dst.ns != src.ns and (dst.vlan is None or dst.vlan != src.vlan):
                return src, dst
    return None


def _flow(src: Host, dst: Host, port: Port) -> Flow:
    if port.proto == "any":
        port = PAIR_SERVICE
    number = int(port.ports.split("-")[0]) if port.proto in ("tcp", "udp") else 0
    return Flow(src.address.ip, dst.address.ip, port.proto, number)


def plan_probes(fw: Firewall, lab: LabPlan) -> list[Probe]:
    hosts = lab.hosts
    probes: dict[tuple[str, str, str, int], Probe] = {}

    def add(src: Host, dst: Host, flow: Flow, purpose: str) -> None:
        key = (src.ns, dst.ns, flow.proto, flow.port)
        if key in probes:
            return
        allowed, rule = decide(fw, flow)
        via = None
        if from_outside(fw, flow):  # only a published service comes in, at its public address
            published = published_as(fw, flow)
            if published is None:
                allowed, rule = False, f"not published ({rule})" if allowed else rule
            else:
                via = published.address
        probes[key] = Probe(f"p{len(probes)}", src, dst, flow.proto, flow.port, allowed, rule,
                            purpose, via)

    for rule in fw.rules:
        for s in rule.sources:
            for d in rule.destinations:
                pair = _pick(_hosts_in(s, hosts, fw), _hosts_in(d, hosts, fw))
                if pair is None:
                    continue
                for port in rule.services:
                    add(*pair, _flow(*pair, port), f"rule {rule.name}")
    zones: dict[str, list[Host]] = defaultdict(list)
    for h in hosts:
        zones[h.zone].append(h)
    covered = {(p.src.zone, p.dst.zone) for p in probes.values()}
    for a in sorted(zones):
        for b in sorted(zones):
            if a != b and (a, b) not in covered:
                pair = _pick(zones[a], zones[b])
                if pair is not None:
                    add(*pair, _flow(*pair, PAIR_SERVICE), f"zone pair {a} -> {b}")
    return list(probes.values())


def _agent(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, sys.executable, "-m", "pipeline.verify.agent", *args]


def run_probes(probes: Iterable[Probe]) -> list[Result]:
    """Start responders on destinations, run every source's probes at once, stop responders."""
    probes = list(probes)
    listen: dict[str, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    for p in probes:
        if p.proto == "tcp":
            listen[p.dst.ns][0].add(p.port)
        elif p.proto == "udp":
            listen[p.dst.ns][1].add(p.port)
    servers = [subprocess.Popen(
        _agent(ns, "serve", "--tcp", ",".join(map(str, sorted(tcp))),
               "--udp", ",".join(map(str, sorted(udp)))),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for ns, (tcp, udp) in sorted(listen.items())]
    try:
        for server in servers:
            assert server.stdout is not None
            if server.stdout.readline().strip() != "ready":
                raise RuntimeError("probe responder failed: " + (server.stderr.read()
                                                                 if server.stderr else ""))
        by_src: dict[str, list[Probe]] = defaultdict(list)
        for p in probes:
            by_src[p.src.ns].append(p)
        clients = {ns: subprocess.Popen(_agent(ns, "probe"), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                   for ns in by_src}
        for ns, proc in clients.items():  # hand out all work first: the agents run at once
            assert proc.stdin is not None
            proc.stdin.write(json.dumps([{"id": p.id, "proto": p.proto, "port": p.port,
                                          "dst": str(p.target)} for p in by_src[ns]]))
            proc.stdin.close()
        outcome: dict[str, str] = {}
        for ns, proc in clients.items():
            assert proc.stdout is not None and proc.stderr is not None
            out, err = proc.stdout.read(), proc.stderr.read()
            if proc.wait(timeout=60) != 0:
                raise RuntimeError(f"probe agent in {ns} failed: {err.strip()}")
            outcome.update(json.loads(out))
    finally:
        for server in servers:
            server.kill()
            server.wait()
    return [Result(p, outcome[p.id] == "open", outcome[p.id]) for p in probes]


def matrix(results: list[Result]) -> str:
    """Zone-by-zone matrix: ✓ open as intended, · shut as intended, ✗ not as intended."""
    zones = sorted({r.probe.src.zone for r in results} | {r.probe.dst.zone for r in results})
    cells: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        cells[(r.probe.src.zone, r.probe.dst.zone)].append(r)
    width = max(len(z) for z in zones)
    lines = [" " * (width + 4) + " ".join(f"{i:>2}" for i in range(len(zones)))
             + "   (from row to column)"]
    for i, a in enumerate(zones):
        row = []
        for b in zones:
            rs = cells.get((a, b), [])
            if not rs:
                row.append(" -")
            elif not all(r.ok for r in rs):
                row.append(" ✗")
            elif any(r.probe.expect for r in rs):
                row.append(" ✓")
            else:
                row.append(" ·")
        lines.append(f"{i:>2} {a:<{width}} " + " ".join(row))
    lines.append("✓ open as intended  · shut as intended  ✗ NOT as intended  - not probed")
    return "\n".join(lines)


def failures(results: list[Result]) -> list[str]:
    out = []
    for r in results:
        if r.ok:
            continue
        p = r.probe
        want = "open" if p.expect else "shut"
        via = f" via {p.via}" if p.via else ""
        out.append(f"{p.src.zone} -> {p.dst.zone} {p.service} ({p.src.name} {p.src.address.ip} "
                   f"-> {p.dst.name} {p.dst.address.ip}{via}): intended {want} by "
                   f"{p.decided_by}, got {r.seen}")
    return out
