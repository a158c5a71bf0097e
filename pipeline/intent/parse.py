"""Read a network repository's intent and inventory into one typed :class:`Intent`.

Each file is loaded with positions, validated with pydantic, and every problem
becomes a :class:`Finding` that points at its file and line. Parsing never stops
at the first bad file: an engineer gets all schema findings in one run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline import files, pickling, pool
from pipeline.findings import Finding, Loc, clip, excerpt
from pipeline.intent import ports
from pipeline.intent.loader import LOC_KEY, MAX_FILE_BYTES, Document, LoadError, Source, read_file
from pipeline.intent.model import Firewall, Host, NetworkSettings, Routing, Site, Topology

M = TypeVar("M", bound=BaseModel)

INTENT_FILES = {
    "network": "intent/network.yaml",
    "topology": "intent/topology.yaml",
    "routing": "intent/routing.yaml",
    "firewall": "intent/firewall.yaml",
}
SITES_DIR = "intent/sites"
INVENTORY = ("inventory/hosts.yaml", "inventory/groups.yaml", "inventory/defaults.yaml")
SECRET_KEYS = {"password", "secret", "enable_secret"}


class Keeper(Protocol):
    """Where an incremental build keeps what a file validated into, by its content: a
    file whose bytes are unchanged is not loaded and validated again. Only what validated
    with no finding is kept; what is recalled must be exactly what was kept."""

    def recall(self, name: str, digest: bytes) -> Any | None: ...

    def has(self, name: str, digest: bytes) -> bool:
        """Whether an entry for these bytes is there (without reading it: recall may still
        refuse it)."""
        ...

    def keep(self, name: str, digest: bytes, payload: bytes) -> None:
        """Keep what validated: ``payload`` is its pickle (made once, here)."""
        ...


def _digest(root: Path, rels: tuple[str, ...]) -> tuple[bytes | None, int]:
    """The content hash of these files (a missing one counts as missing), or None when one
    cannot be read: then the file is loaded as usual and says why; and their size."""
    h, size = hashlib.sha256(), 0
    for rel in rels:
        try:
            raw = files.read_bytes(root, rel, MAX_FILE_BYTES)
            h.update(b"%d:" % len(raw) + raw)
            size += len(raw)
        except files.Refused as exc:
            if not exc.missing:
                return None, size
            h.update(b"missing:")
    return h.digest(), size


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


@dataclass
class _Job:
    """One file (the inventory: three) to load and validate, or to recall."""

    rels: tuple[str, ...]
    make: Callable[[list[Finding]], Any]  # appends what it finds to the list it is given
    digest: bytes | None = None
    size: int = 0
    weight: float = 1.0
    """Cost per byte against an intent file's: the inventory merges groups and defaults
    into every host before validating it (1.8 ms per KB at 5,002 devices, the intent
    files 0.57)."""

    @property
    def cost(self) -> float:
        return self.size * self.weight

    @property
    def name(self) -> str:
        return "\0".join(self.rels)


RECALL_COST = 0.2
"""What recalling (unpickling) a file costs against loading and validating it, per byte of
the file (measured at 5,002 devices: 0.12 s/MB against 0.58 s/MB)."""
SHIP_COST = 0.4
"""What the forked child spends beyond loading a file, against loading it: pickling what it
sends, and the copy-on-write faults of a forked heap. With 0.2 (the pickling alone) the
child ended 0.1 s after this process at 5,002 devices; with 0.4 they end together (a full
parse 0.77-0.80 s -> 0.71-0.75 s, and no worse at 1,002 and 2,002 devices)."""
TAKE_COST = 0.1
"""What taking a file the child sent costs this process, against loading it: unpickling
it (:data:`RECALL_COST`), half of which overlaps the child's work since files come as they
are done. Measured at 5,002 devices, a full parse: 0.2 0.65 s, 0.1 0.615-0.62 s, 0.0
0.63 s; SHIP_COST 0.2 0.71 s, 0.6 0.63 s (medians of five)."""


def _made(job: _Job, keeper: Keeper | None, shipped: bool = False
          ) -> tuple[Any, list[Finding]]:
    """Load and validate; keep what validated with no finding. ``shipped``: the value is
    given pickled (to go to another process; pickled once for the keeper and the trip)."""
    found: list[Finding] = []
    value = job.make(found)
    keep = keeper is not None and job.digest is not None and value is not None and not found
    payload = pickling.dumps(value) if keep or shipped else b""
    if keep:
        assert keeper is not None and job.digest is not None
        keeper.keep(job.name, job.digest, payload)
    return (payload if shipped else value), found


PRELUDE_COST = 17_000
"""The parent's prelude (netutils' import: 10 ms from the bytecode that set-up makes, 59 ms
compiled from source) as the bytes of intent loaded meanwhile (0.58 s per MB): the child's
share grows by what the parent spends on it."""


def _run(root: Path, jobs: list[_Job], keeper: Keeper | None,
         prelude: Callable[[], None] = lambda: None) -> list[tuple[Any, list[Finding]]]:
    """Each job's (value, findings), in order: recalled where the keeper has it, else made.
    On two cores a forked child loads a share of what must be loaded (the largest files
    first) and sends each file as it is done, while this process runs ``prelude``, recalls
    what the keeper has, loads its own share, then unpickles what the child sent
    (:data:`TAKE_COST`) as it comes."""
    for job in jobs:
        if keeper is not None:
            job.digest, job.size = _digest(root, job.rels)
        else:
            job.size = sum(_size(root / rel) for rel in job.rels)
    hits = [i for i, job in enumerate(jobs) if keeper is not None and job.digest is not None
            and keeper.has(job.name, job.digest)]
    misses = sorted(set(range(len(jobs))) - set(hits), key=lambda i: -jobs[i].cost)
    here = RECALL_COST * sum(jobs[i].cost for i in hits) + PRELUDE_COST
    there, away = 0.0, []
    for i in misses:  # each to the one that would end sooner with it
        if there + (1 + SHIP_COST) * jobs[i].cost < here + jobs[i].cost \
                and pool.forks(len(jobs)):
            there += (1 + SHIP_COST) * jobs[i].cost  # loaded and pickled there
            here += TAKE_COST * jobs[i].cost  # unpickled here
            away.append(i)
        else:
            here += jobs[i].cost
    with pool.Streamed(partial(_made, keeper=keeper, shipped=True),
                       [jobs[i] for i in away]) if away else nullcontext() as child:
        prelude()
        results: dict[int, tuple[Any, list[Finding]]] = {}
        for i in hits:
            digest = jobs[i].digest
            assert keeper is not None and digest is not None
            value = keeper.recall(jobs[i].name, digest)
            if value is not None:
                results[i] = value, []
        for i in range(len(jobs)):
            if i not in results and i not in away:
                results[i] = _made(jobs[i], keeper)
        for k, (payload, found) in child or ():
            results[away[k]] = pickle.loads(payload), found
    return [results[i] for i in range(len(jobs))]


@dataclass
class Intent:
    """Everything the later stages need, already validated for shape."""

    root: Path
    network: NetworkSettings
    sites: dict[str, Site]
    topology: Topology
    routing: Routing
    firewall: Firewall
    hosts: dict[str, Host]
    files: list[str] = field(default_factory=list)


def _error_message(err: Any) -> tuple[str, str, str]:
    """(code, message, hint) for one pydantic error; the input is quoted only as an excerpt."""
    kind = err["type"]
    if kind == "missing":
        return "NP012", "required key is missing", ""
    value = err.get("input")
    message = clip(str(err["msg"]).removeprefix("Value error, "), 160)
    hint = "see docs/intent.md for the expected form"
    if kind in ("int_type", "int_parsing"):
        if isinstance(value, float):
            hint = "write a whole number (210, not 210.0)"
        elif isinstance(value, str) and ":" in value and value.replace(":", "").isdigit():
            hint = (f"{excerpt(value)} is text in YAML 1.2 and a base-60 number in YAML 1.1: "
                    "write the number you mean")
        elif isinstance(value, str):
            hint = "a quoted number is text: write the number without quotes"
        elif isinstance(value, bool):
            hint = "write a number, not true/false"
    elif kind == "bool_type":
        hint = "write true or false (YAML 1.2: yes/no/on/off are text)"
    return "NP011", message, hint


def _locate(doc: Document, data: Any, base: tuple[str | int, ...],
            path: tuple[str | int, ...]) -> Loc:
    """Where ``path`` (inside ``data``, found at ``base`` in ``doc``) was written.

    The document's own marks are exact (list items included); values that were merged
    in from elsewhere (inventory groups) carry their own ``Source`` instead.
    """
    if base + path in doc.marks:
        return doc.marks[base + path]
    node, best = data, None
    for step in path:
        if isinstance(node, dict):
            src = node.get(LOC_KEY)
            if isinstance(src, Source) and isinstance(step, str):
                best = src.keys.get(step, src.loc)
            node = node.get(step) if isinstance(step, str) else None
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            break
    return best or doc.loc(base + path)


def _validate(doc: Document, model: type[M], data: Any, base: tuple[str | int, ...],
              findings: list[Finding]) -> M | None:
    """Validate ``data`` (found at ``base`` in ``doc``) into ``model``, or add findings."""
    context: dict[str, list[Finding]] = {"findings": []}
    try:
        result = model.model_validate(data, context=context)
    except ValidationError as exc:
        result = None
        for err in exc.errors():
            code, message, hint = _error_message(err)
            path = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
            where = excerpt(".".join(str(p) for p in path) or "document", 80)[1:-1]
            if code == "NP012":
                message = f"{where}: required key is missing"
                hint = f"add {excerpt(err['loc'][-1])} here"
            else:
                message = f"{where}: {message}"
            findings.append(Finding.at(_locate(doc, data, base, path), code, message, hint))
    findings.extend(context["findings"])
    return result


def _load(root: Path, rel: str, findings: list[Finding], required: bool = True) -> Document | None:
    try:
        return read_file(root, rel)
    except LoadError as exc:
        if required or not exc.missing:
            findings.append(exc.finding)
        return None


def _site_files(root: Path, findings: list[Finding]) -> list[str]:
    """intent/sites/*.yaml, the folder itself a real folder inside the repository."""
    try:
        names = files.listdir(root, SITES_DIR)
    except files.Refused as exc:
        if not exc.missing:
            findings.append(Finding.at(Loc(exc.rel), "NP014", f"{exc.rel} {exc.reason}",
                                       "netpipe reads only real folders and files inside the "
                                       "repository, never through a symbolic link"))
        return []
    plain = []
    for name in names:
        if not files.plain_name(name):
            findings.append(Finding.at(Loc(f"{SITES_DIR}/{files.shown(name)}"), "NP014",
                                       "a file name with characters other than letters, "
                                       "digits, '.', '_' and '-'", "rename the file"))
        elif name.endswith(".yaml"):
            plain.append(f"{SITES_DIR}/{name}")
    return plain


def _mapping(doc: Document | None, findings: list[Finding]) -> dict[str, Any]:
    if doc is None or doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        findings.append(Finding.at(doc.loc(()), "NP011", "top level must be a mapping",
                                   "write 'key: value' lines at the top level"))
        return {}
    return doc.data


def _merged_host(name: str, host: dict[str, Any], where: Loc, groups: dict[str, Any],
                 defaults: dict[str, Any]) -> dict[str, Any]:
    """Nornir's inheritance: host, then its groups in order, then defaults.

    Each merged key keeps the position where it was written (host, group or defaults
    file), so a bad value inherited from a group is reported in groups.yaml.
    """
    chain = [host] + [groups[g] for g in _group_names(host)
                      if isinstance(groups.get(g), dict)] + [defaults]
    merged: dict[str, Any] = {"name": name}
    keys: dict[str, Loc] = {"name": where}
    data: dict[str, Any] = {}
    data_keys: dict[str, Loc] = {}
    data_at = where
    for layer in reversed(chain):
        src = layer.get(LOC_KEY)
        for key, value in layer.items():
            if key == LOC_KEY:
                continue
            if key == "data" and isinstance(value, dict):
                dsrc = value.get(LOC_KEY)
                data_at = dsrc.loc if isinstance(dsrc, Source) and layer is host else data_at
                for dkey, dvalue in value.items():
                    if dkey != LOC_KEY:
                        data[dkey] = dvalue
                        if isinstance(dsrc, Source):
                            data_keys[dkey] = dsrc.at(dkey)
            else:
                merged[key] = value
                if isinstance(src, Source):
                    keys[key] = src.at(key)
    merged["groups"] = host.get("groups", [])
    data[LOC_KEY] = Source(data_at, data_keys)
    merged["data"] = data
    merged[LOC_KEY] = Source(where, keys)
    return merged


def _check_no_secrets(data: Any, findings: list[Finding], where: str = "") -> None:
    """Refuse credentials anywhere in an inventory entry (also deep in connection_options)."""
    if isinstance(data, list):
        for item in data:
            _check_no_secrets(item, findings, where)
        return
    if not isinstance(data, dict):
        return
    src = data.get(LOC_KEY)
    for key in sorted(SECRET_KEYS & set(data)):
        loc = src.at(key) if isinstance(src, Source) else None
        findings.append(Finding.at(
            loc, "NP020", f"{where}{key} is written in the inventory",
            "never store credentials in git: name environment variables under "
            "data.credentials (username_env, password_env) instead",
        ))
        del data[key]
    for key, value in data.items():
        if key != LOC_KEY:
            _check_no_secrets(value, findings, f"{where}{key}.")


def _group_names(host: dict[str, Any]) -> list[str]:
    """The host's group names as written; anything else is left to the schema (NP011)."""
    groups = host.get("groups")
    return [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []


def _load_inventory(root: Path, findings: list[Finding],
                    loaded: list[str] | None = None) -> dict[str, Host]:
    docs = [_load(root, rel, findings, required=(rel == INVENTORY[0])) for rel in INVENTORY]
    if loaded is not None:
        loaded.extend(rel for rel, doc in zip(INVENTORY, docs, strict=True) if doc is not None)
    hosts_doc = docs[0]
    hosts, groups, defaults = (_mapping(d, findings) for d in docs)
    for data in (hosts, groups, defaults):
        _check_no_secrets(data, findings)
    result: dict[str, Host] = {}
    if hosts_doc is None:
        return result
    if not any(name != LOC_KEY for name in hosts):
        findings.append(Finding.at(hosts_doc.loc(()), "NP013", f"{INVENTORY[0]} has no hosts",
                                   "add one entry per device (see the example network)"))
    for name, host in hosts.items():
        if name == LOC_KEY:
            continue
        if not isinstance(host, dict):
            findings.append(Finding.at(hosts_doc.loc((name,)), "NP011",
                                       f"host {excerpt(name)} must be a mapping",
                                       "see inventory docs"))
            continue
        for group in _group_names(host):
            if group not in groups:
                findings.append(Finding.at(hosts_doc.loc((name, "groups")), "NP021",
                                           f"host {excerpt(name)} names unknown group "
                                           f"{excerpt(group)}",
                                           "define it in inventory/groups.yaml"))
        merged = _merged_host(name, host, hosts_doc.loc((name,)), groups, defaults)
        model = _validate(hosts_doc, Host, merged, (name,), findings)
        if model is not None:
            result[name] = model
    return result


def load_inventory(root: Path) -> tuple[dict[str, Host], list[Finding]]:
    """Only the inventory: what an emergency rollback needs when the intent is broken."""
    findings: list[Finding] = []
    return _load_inventory(root, findings), findings


def parse(root: Path, keeper: Keeper | None = None) -> tuple[Intent | None, list[Finding]]:
    """Load and validate everything under ``root``; the intent is None if any file failed.
    With a ``keeper``, files whose bytes are unchanged are recalled, not read again."""
    models: dict[str, type[BaseModel]] = {
        "network": NetworkSettings, "topology": Topology, "routing": Routing,
        "firewall": Firewall,
    }

    def one(rel: str, model: type[M], required: bool, findings: list[Finding]) -> M | None:
        doc = _load(root, rel, findings, required=required)
        if doc is None:
            return None
        return _validate(doc, model, _mapping(doc, findings), (), findings)

    parsed: dict[str, Any] = {}
    present = {key: rel for key, rel in INTENT_FILES.items()
               if os.path.lexists(root / rel) or key == "network"}  # the others are optional
    for key in INTENT_FILES.keys() - present.keys():
        parsed[key] = models[key]()
    listing: list[Finding] = []
    site_files = _site_files(root, listing)
    if not site_files:
        listing.append(Finding.at(Loc(SITES_DIR), "NP013", "no site files",
                                  f"add one {SITES_DIR}/<site>.yaml per site"))
    jobs = [_Job((rel,), partial(one, rel, models[key], key == "network"))
            for key, rel in present.items()]
    jobs += [_Job((rel,), partial(one, rel, Site, True)) for rel in site_files]
    jobs.append(_Job(INVENTORY, partial(_load_inventory, root), weight=3.0))
    done = _run(root, jobs, keeper, partial(ports.prepare, {"ios"}))

    findings: list[Finding] = []
    for key, (value, found) in zip(present, done, strict=False):
        parsed[key] = value
        findings += found
    findings += listing
    sites: dict[str, Site] = {}
    for site, found in done[len(present):-1]:
        findings += found
        if site is None:
            continue
        if site.name in sites:
            findings.append(Finding.at(site.at("name"), "NP022",
                                       f"site {site.name!r} is defined twice",
                                       f"also in {sites[site.name].at().file}"))
            continue
        sites[site.name] = site
    hosts, found = done[-1]
    findings += found
    read = list(present.values()) + [rel for rel in site_files if (root / rel).is_file()]
    read.extend(rel for rel in INVENTORY if (root / rel).is_file())
    if findings or any(v is None for v in parsed.values()):
        return None, findings
    return Intent(
        root=root, network=parsed["network"], sites=sites, topology=parsed["topology"],
        routing=parsed["routing"], firewall=parsed["firewall"], hosts=hosts, files=read,
    ), findings
