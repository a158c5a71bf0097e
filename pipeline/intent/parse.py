"""Read a network repository's intent and inventory into one typed :class:`Intent`.

Each file is loaded with positions, validated with pydantic, and every problem
becomes a :class:`Finding` that points at its file and line. Parsing never stops
at the first bad file: an engineer gets all schema findings in one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.findings import Finding, Loc
from pipeline.intent.loader import LOC_KEY, Document, LoadError, load_file
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


def _error_message(err: Any) -> tuple[str, str]:
    kind = err["type"]
    if kind == "missing":
        return "NP012", "required key is missing"
    return "NP011", str(err["msg"]).removeprefix("Value error, ")


def _validate(doc: Document, model: type[M], data: Any, base: tuple[str | int, ...],
              findings: list[Finding]) -> M | None:
    """Validate ``data`` (found at ``base`` in ``doc``) into ``model``, or add findings."""
    context: dict[str, list[Finding]] = {"findings": []}
    try:
        result = model.model_validate(data, context=context)
    except ValidationError as exc:
        result = None
        for err in exc.errors():
            code, message = _error_message(err)
            path = base + tuple(p for p in err["loc"] if isinstance(p, (str, int)))
            where = ".".join(str(p) for p in path[len(base):]) or "document"
            if code == "NP012":
                message = f"{where}: required key is missing"
                hint = f"add {err['loc'][-1]!r} here"
            else:
                message = f"{where}: {message}"
                hint = "see docs/intent.md for the expected form"
            findings.append(Finding.at(doc.loc(path), code, message, hint))
    findings.extend(context["findings"])
    return result


def _load(root: Path, rel: str, findings: list[Finding], required: bool = True) -> Document | None:
    path = root / rel
    if not path.exists():
        if required:
            findings.append(Finding.at(Loc(rel), "NP013", "file is missing",
                                       f"create {rel} (see the example network)"))
        return None
    try:
        return load_file(path, root)
    except LoadError as exc:
        findings.append(exc.finding)
        return None


def _mapping(doc: Document | None, findings: list[Finding]) -> dict[str, Any]:
    if doc is None or doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        findings.append(Finding.at(doc.loc(()), "NP011", "top level must be a mapping",
                                   "write 'key: value' lines at the top level"))
        return {}
    return doc.data


def _merged_host(name: str, host: dict[str, Any], groups: dict[str, Any],
                 defaults: dict[str, Any]) -> dict[str, Any]:
    """Nornir's inheritance: host, then its groups in order, then defaults."""
    chain = [host] + [groups[g] for g in host.get("groups", []) or []
                      if isinstance(groups.get(g), dict)] + [defaults]
    merged: dict[str, Any] = {"name": name, LOC_KEY: host.get(LOC_KEY)}
    data: dict[str, Any] = {}
    for layer in reversed(chain):
        for key, value in layer.items():
            if key == "data" and isinstance(value, dict):
                data.update(value)
            elif key != LOC_KEY:
                merged[key] = value
    host_data = host.get("data")
    data[LOC_KEY] = host_data.get(LOC_KEY) if isinstance(host_data, dict) else host.get(LOC_KEY)
    merged["data"] = data
    merged["groups"] = host.get("groups", [])
    return merged


def _check_no_secrets(doc: Document, data: dict[str, Any], findings: list[Finding]) -> None:
    for entry, value in data.items():
        if not isinstance(value, dict):
            continue
        for key in SECRET_KEYS & set(value):
            findings.append(Finding.at(
                doc.loc((entry, key)), "NP020", f"{entry}: a {key} is written in the inventory",
                "never store credentials in git: name environment variables under "
                "data.credentials (username_env, password_env) instead",
            ))
            del value[key]


def _load_inventory(root: Path, findings: list[Finding]) -> dict[str, Host]:
    docs = [_load(root, rel, findings, required=(rel == INVENTORY[0])) for rel in INVENTORY]
    hosts_doc, groups_doc, defaults_doc = docs
    hosts, groups, defaults = (_mapping(d, findings) for d in docs)
    for doc, data in ((hosts_doc, hosts), (groups_doc, groups)):
        if doc is not None:
            _check_no_secrets(doc, data, findings)
    if defaults_doc is not None:
        _check_no_secrets(defaults_doc, {"defaults": defaults}, findings)
    result: dict[str, Host] = {}
    if hosts_doc is None:
        return result
    for name, host in hosts.items():
        if name == LOC_KEY:
            continue
        if not isinstance(host, dict):
            findings.append(Finding.at(hosts_doc.loc((name,)), "NP011",
                                       f"host {name!r} must be a mapping", "see inventory docs"))
            continue
        for group in host.get("groups", []) or []:
            if group not in groups:
                findings.append(Finding.at(hosts_doc.loc((name, "groups")), "NP021",
                                           f"host {name!r} names unknown group {group!r}",
                                           "define it in inventory/groups.yaml"))
        merged = _merged_host(name, host, groups, defaults)
        model = _validate(hosts_doc, Host, merged, (name,), findings)
        if model is not None:
            result[name] = model
    return result


def parse(root: Path) -> tuple[Intent | None, list[Finding]]:
    """Load and validate everything under ``root``; the intent is None if any file failed."""
    findings: list[Finding] = []
    parsed: dict[str, Any] = {}
    files: list[str] = []
    models: dict[str, type[BaseModel]] = {
        "network": NetworkSettings, "topology": Topology, "routing": Routing,
        "firewall": Firewall,
    }
    for key, rel in INTENT_FILES.items():
        doc = _load(root, rel, findings, required=key == "network")
        if doc is None:
            parsed[key] = None if key == "network" else models[key]()
            continue
        files.append(rel)
        parsed[key] = _validate(doc, models[key], _mapping(doc, findings), (), findings)

    sites: dict[str, Site] = {}
    site_files = sorted((root / SITES_DIR).glob("*.yaml")) if (root / SITES_DIR).is_dir() else []
    if not site_files:
        findings.append(Finding.at(Loc(SITES_DIR), "NP013", "no site files",
                                   f"add one {SITES_DIR}/<site>.yaml per site"))
    for path in site_files:
        rel = path.relative_to(root).as_posix()
        doc = _load(root, rel, findings)
        if doc is None:
            continue
        files.append(rel)
        site = _validate(doc, Site, _mapping(doc, findings), (), findings)
        if site is None:
            continue
        if site.name in sites:
            findings.append(Finding.at(site.at("name"), "NP022",
                                       f"site {site.name!r} is defined twice",
                                       f"also in {sites[site.name].at().file}"))
            continue
        sites[site.name] = site

    hosts = _load_inventory(root, findings)
    files.extend(rel for rel in INVENTORY if (root / rel).exists())
    if findings or any(v is None for v in parsed.values()):
        return None, findings
    return Intent(
        root=root, network=parsed["network"], sites=sites, topology=parsed["topology"],
        routing=parsed["routing"], firewall=parsed["firewall"], hosts=hosts, files=files,
    ), findings
