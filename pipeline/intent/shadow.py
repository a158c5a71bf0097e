"""Rule shadowing in n·log n: does an earlier rule already decide every flow of a later one?

A flow of a rule is (source name, destination name, protocol, port range). An earlier flow
covers a later one when its source space covers the later source, its destination space
the later destination, and its protocol and ports the later ones. Comparing every rule
with every earlier one is quadratic; instead:

* which names cover a name is found through its prefixes' supernets (at most 33 per
  prefix), so each name is asked once;
* earlier flows are grouped by (source, destination, protocol); within a group "the first
  flow whose range holds [lo, hi]" is a dominance query answered offline: flows and
  questions sorted by low port, a Fenwick tree over the high ports keeps the earliest rule.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network, collapse_addresses

from pipeline.intent.derive import (
    PrefixKey,
    parse_service,
    prefix_key,
    supernet_keys,
    zone_prefixes,
)
from pipeline.intent.model import Rule
from pipeline.intent.parse import Intent

_Key = PrefixKey
NONE = 1 << 62
_key, _supernets = prefix_key, supernet_keys


@dataclass
class _Spaces:
    """What each zone or group name matches, and which names cover which."""

    outside: set[str] = field(default_factory=set)          # the default zone(s)
    prefixes: dict[str, list[IPv4Network]] = field(default_factory=dict)
    by_prefix: dict[_Key, set[str]] = field(default_factory=lambda: defaultdict(set))
    internal: list[IPv4Network] = field(default_factory=list)
    internal_keys: set[_Key] = field(default_factory=set)
    internal_starts: list[int] = field(default_factory=list)
    covering_cache: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, intent: Intent, names: set[str]) -> _Spaces:
        fw = intent.firewall
        zones = zone_prefixes(intent)
        spaces = cls()
        spaces.internal = sorted(collapse_addresses(
            p for z, ps in zones.items() if not (fw.zones.get(z) and fw.zones[z].default)
            for p in ps))
        spaces.internal_keys = {_key(p) for p in spaces.internal}
        spaces.internal_starts = [int(p.network_address) for p in spaces.internal]
        for name in names:
            group = fw.groups.get(name)
            zone = fw.zones.get(name)
            if group is None and zone is not None and zone.default:
                spaces.outside.add(name)
                continue
            prefixes = list(collapse_addresses(group.addresses)) if group is not None \
                else list(zones.get(name, ()))
            spaces.prefixes[name] = prefixes
            for p in prefixes:
                spaces.by_prefix[_key(p)].add(name)
        return spaces

    def _touches_internal(self, net: IPv4Network) -> bool:
        if any(k in self.internal_keys for k in _supernets(net)):
            return True  # inside an internal prefix
        lo = bisect_left(self.internal_starts, int(net.network_address))
        return lo < len(self.internal_starts) \
            and self.internal_starts[lo] <= int(net.broadcast_address)  # holds one

    def covering(self, small: str) -> frozenset[str]:
        """Names whose space holds all of ``small``'s (itself included); empty if it is empty."""
        if small in self.covering_cache:
            return self.covering_cache[small]
        whole = {n for n, ps in self.prefixes.items() if any(p.prefixlen == 0 for p in ps)}
        if small in self.outside:
            result = self.outside | whole
        else:
            prefixes = self.prefixes.get(small, [])
            found: set[str] | None = None
            for p in prefixes:
                holders: set[str] = set()
                for k in _supernets(p):
                    if k in self.by_prefix:
                        holders |= self.by_prefix[k]
                found = holders if found is None else found & holders
                if not found:
                    break
            result = found or set()
            if prefixes and not any(self._touches_internal(p) for p in prefixes):
                result |= self.outside
        self.covering_cache[small] = frozenset(result)
        return self.covering_cache[small]


class _Earliest:
    """Fenwick tree over positions: the smallest rule index at or after a position."""

    def __init__(self, size: int) -> None:
        self.tree = [NONE] * (size + 1)

    def add(self, position: int, index: int) -> None:  # position counted from the top
        i = position + 1
        while i < len(self.tree):
            self.tree[i] = min(self.tree[i], index)
            i += i & -i

    def smallest(self, position: int) -> int:  # over positions 0..position
        best, i = NONE, position + 1
        while i > 0:
            best = min(best, self.tree[i])
            i -= i & -i
        return best


def _answer(entries: list[tuple[int, int, int]], questions: list[tuple[int, int, int]]
            ) -> dict[int, int]:
    """For each question (lo, hi, id): the smallest index of an entry (lo', hi', index)
    with lo' <= lo and hi' >= hi (NONE when there is none)."""
    down = sorted({-hi for _, hi, _ in entries})  # high ports, highest first (negated)
    tree = _Earliest(len(down))
    by_low = sorted(entries)
    answers: dict[int, int] = {}
    k = 0
    for lo, hi, qid in sorted(questions):
        while k < len(by_low) and by_low[k][0] <= lo:
            tree.add(bisect_left(down, -by_low[k][1]), by_low[k][2])
            k += 1
        last = bisect_right(down, -hi) - 1  # the positions of every high >= hi
        answers[qid] = tree.smallest(last) if last >= 0 else NONE
    return answers


def shadowing(intent: Intent) -> Iterator[tuple[Rule, list[str], bool]]:
    """(rule, earlier rules covering all its flows, whether any of them acts the other way)."""
    fw = intent.firewall
    names = set(fw.zones) | set(fw.groups)
    rules = [r for r in fw.rules
             if set(r.from_ + r.to) <= names and set(r.services) <= set(fw.services)]
    flows: list[list[tuple[str, str, str, int, int]]] = []
    for r in rules:
        mine: list[tuple[str, str, str, int, int]] = []
        for s in r.from_:
            for d in r.to:
                for svc in r.services:
                    for spec in fw.services.get(svc, []):
                        port = parse_service(spec)
                        mine.append((s, d, str(port.proto), *port.range))
        flows.append(mine)
    spaces = _Spaces.of(intent, {n for r in rules for n in r.from_ + r.to})
    buckets: dict[tuple[str, str, str], list[tuple[int, int, int]]] = defaultdict(list)
    for index, own in enumerate(flows):
        for s, d, proto, lo, hi in own:
            buckets[(s, d, proto)].append((lo, hi, index))
    questions: dict[tuple[str, str, str], list[tuple[int, int, int]]] = defaultdict(list)
    asked: list[list[list[int]]] = []  # per rule, per flow: its question ids
    qid = 0
    for own in flows:
        per_flow: list[list[int]] = []
        for s, d, proto, lo, hi in own:
            ids = []
            for s2 in spaces.covering(s):
                for d2 in spaces.covering(d):
                    for p2 in {proto, "any"}:
                        if (s2, d2, p2) in buckets:
                            questions[(s2, d2, p2)].append((lo, hi, qid))
                            ids.append(qid)
                            qid += 1
            per_flow.append(ids)
        asked.append(per_flow)
    answers: dict[int, int] = {}
    for key, qs in questions.items():
        answers.update(_answer(buckets[key], qs))
    for index, per_flow in enumerate(asked):
        if not per_flow:
            continue
        covering: list[Rule] = []
        for ids in per_flow:
            earliest = min((answers[q] for q in ids), default=NONE)
            if earliest >= index:
                break
            if rules[earliest] not in covering:
                covering.append(rules[earliest])
        else:
            later = rules[index]
            yield later, [e.name for e in covering], any(e.action != later.action
                                                         for e in covering)
