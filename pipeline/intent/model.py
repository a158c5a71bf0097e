"""The typed intent model (pydantic v2).

Vendor-neutral and small: what the network does, not how a device says it. Every
mapping keeps its :class:`~pipeline.intent.loader.Source` in ``src`` so rules can
point at the exact line of a field. Range and cross-reference checks live in
``rules.py``, not here, so that they report with their own stable codes.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.findings import Finding, Loc, clip, excerpt
from pipeline.intent import ports
from pipeline.intent.loader import LOC_KEY, Source, strip_locs
from pipeline.secrets import KINDS

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""Identifiers that end up as config tokens: no spaces, at most 32 characters."""
Text = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Int = Annotated[int, Strict()]
"""Every integer in intent: written as a decimal number, never 210.0, "210" or true."""
Bool = Annotated[bool, Strict()]
"""Every flag in intent: true or false (YAML 1.2), never yes/no/on/off or 1/0."""
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]
"""The name of an environment variable holding a secret, never the secret itself."""


@dataclass(frozen=True)
class SecretOf:
    """Marks a ``*_secret`` field with the kind of secret it names (``secrets.KINDS``):
    the name must be declared under ``secrets:`` in network.yaml with that kind."""

    kind: str


def _secret_kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(f"unknown secret kind {excerpt(value)}: one of {', '.join(KINDS)}")
    return value


SecretKind = Annotated[str, AfterValidator(_secret_kind)]
SnmpCommunity = Annotated[SecretName, SecretOf("snmp_community")]
TacacsKey = Annotated[SecretName, SecretOf("tacacs_key")]
BgpPassword = Annotated[SecretName, SecretOf("bgp_password")]
PasswordHash = Annotated[SecretName, SecretOf("password_hash")]


def _to_area(value: Any) -> Any:
    """OSPF areas may be written as 0 or as 0.0.0.0; keep the integer."""
    if isinstance(value, str) and value.count(".") == 3:
        try:
            return int(IPv4Address(value))
        except ValueError:
            return value
    return value


Area = Annotated[Int, BeforeValidator(_to_area), Field(ge=0, le=2**32 - 1)]

K = TypeVar("K")
V = TypeVar("V")


def _drop_loc(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != LOC_KEY}
    return value


Map = Annotated[dict[K, V], BeforeValidator(_drop_loc)]
"""A mapping used as data (name -> thing): the loader's position entry is not a key."""


@cache
def _known_keys(cls: type[BaseModel]) -> frozenset[str]:
    """The keys a model accepts (field names and aliases), once per class: the check runs
    for every object of every file."""
    return frozenset({f.alias or name for name, f in cls.model_fields.items()}
                     | set(cls.model_fields))


class Node(BaseModel):
    """Base of every intent object: strict keys, immutable, knows where it was written."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True,
        defer_build=True,
    )

    src: Source | None = Field(default=None, alias="__loc__", exclude=True, repr=False)

    def at(self, key: str | None = None) -> Loc:
        if self.src is None:
            return Loc("<intent>")
        return self.src.at(key)

    def at_entry(self, key: str, name: str) -> Loc:
        """Where entry ``name`` of the mapping field ``key`` is written."""
        if self.src is None:
            return Loc("<intent>")
        return self.src.entry(key, name)

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any, info: ValidationInfo) -> Any:
        """Report unknown keys with a did-you-mean hint, then validate the rest."""
        if not isinstance(data, dict):
            return data
        known = _known_keys(cls)
        # Nearly every object has only known keys: one set comparison in C decides that,
        # instead of a Python loop over the keys of each of the estate's ~60,000 objects.
        if data.keys() <= known or not isinstance(info.context, dict):
            return data
        unknown = [k for k in data if k not in known]
        src = data.get(LOC_KEY)
        for key in unknown:
            loc = src.at(key) if isinstance(src, Source) else None
            split = _split_by_comma(data, key, src)
            if split is not None:
                info.context.setdefault("findings", []).append(Finding.at(
                    loc, "NP010", f"unknown key {excerpt(key)}: the rest of {split}'s value "
                    "after an unquoted comma", "in a {...} mapping a comma ends the value: "
                    f"quote it, {split}: \"{clip(data[split], 60)}, {clip(key, 60)}\""))
                continue
            close = difflib.get_close_matches(key, sorted(known - {LOC_KEY, "src"}), n=1)
            hint = f"did you mean {close[0]!r}?" if close else (
                "allowed keys: " + ", ".join(sorted(k for k in known if k not in (LOC_KEY, "src")))
            )
            info.context.setdefault("findings", []).append(
                Finding.at(loc, "NP010", f"unknown key {excerpt(key)}", hint)
            )
        return {k: v for k, v in data.items() if k not in unknown}


def _split_by_comma(data: dict[Any, Any], key: Any, src: Any) -> str | None:
    """The key whose unquoted value a comma cut short, so that its tail became ``key``
    (``{description: OT DMZ, historian}``): ``key`` has no value and follows, on the same
    line, a key with a plain scalar value. None when that is not what happened."""
    if data[key] is not None or not isinstance(src, Source) or key not in src.keys:
        return None
    here = src.keys[key]
    before = [(loc.column, k) for k, loc in src.keys.items() if k != key and k in data
              and loc.line == here.line and loc.column < here.column]
    if not before:
        return None
    prev = max(before)[1]
    value = data[prev]
    return str(prev) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------- network


class TacacsServer(Node):
    name: Name
    address: IPv4Address
    key_secret: TacacsKey


class Snmp(Node):
    community_secret: SnmpCommunity
    location: Text = ""
    contact: Text = ""


class BreakGlass(Node):
    """A local login that works when TACACS+ does not (console included)."""

    username: Name
    hash_secret: PasswordHash
    """Environment variable holding the password's IOS hash (type 9 or 8), never the password."""


class IosLogin(Node):
    """What an IOS device needs to stay reachable by people and by the pipeline itself."""

    hash_type: Literal[8, 9] = 9
    """9: scrypt, 8: PBKDF2-SHA256 (for platforms without type 9)."""
    enable_hash_secret: PasswordHash
    break_glass: BreakGlass


class NetworkSettings(Node):
    """intent/network.yaml: organisation-wide settings every device shares."""

    name: Name
    domain: Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]{1,253}$")]
    asn: Annotated[Int, Field(ge=1, le=4294967295)]
    ntp: list[IPv4Address] = []
    dns: list[IPv4Address] = []
    syslog: list[IPv4Address] = []
    snmp: Snmp | None = None
    tacacs: list[TacacsServer] = []
    banner: Text = ""
    management_zone: Name = "mgmt"
    secrets: Map[SecretName, SecretKind] = {}
    """Every environment variable the configs may use as a secret, with its kind."""
    ios_login: IosLogin | None = None

    @field_validator("banner")
    @classmethod
    def _banner(cls, value: str) -> str:
        if "^" in value:
            raise ValueError("the banner may not contain '^': IOS ends a banner at ^C, so the "
                             "rest would be read as config lines")
        return value


# --------------------------------------------------------------------------- sites


class Vlan(Node):
    id: Int
    name: Name
    zone: Name
    subnet: IPv4Network
    gateway: IPv4Address | None = None
    dhcp_relay: list[IPv4Address] = []
    description: Text = ""

    @property
    def gateway_address(self) -> IPv4Address:
        """The gateway, by default the first host of the subnet."""
        if self.gateway is not None:
            return self.gateway
        first = int(self.subnet.network_address)  # as next(subnet.hosts()), without the walk
        return IPv4Address(first if self.subnet.prefixlen >= 31 else first + 1)


class PortGroup(Node):
    """Access ports of one switch: a range string (``GigabitEthernet1/0/1-12``) in one VLAN."""

    interfaces: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9/.,\- ]*$",
                                                 max_length=200)]
    vlan: Int
    description: Text = ""

    @field_validator("interfaces")
    @classmethod
    def _ranges(cls, value: str) -> str:
        ports.check(value)
        return value


class SwitchManagement(Node):
    vlan: Int
    address: IPv4Interface


class Switch(Node):
    management: SwitchManagement
    ports: list[PortGroup] = []


class Site(Node):
    """intent/sites/<site>.yaml."""

    name: Name
    description: Text = ""
    core: Name
    ospf_area: Area = 0
    pools: list[IPv4Network] = []
    vlans: list[Vlan] = []
    switches: Map[Name, Switch] = {}


# --------------------------------------------------------------------------- topology

PORT_RE = re.compile(r"^(?P<device>[A-Za-z0-9][A-Za-z0-9_.-]*):(?P<interface>[A-Za-z0-9/.\-]+)$")


class LinkEnd(Node):
    port: str
    address: IPv4Interface | None = None
    ospf_area: Area | None = None
    ospf_cost: Annotated[Int, Field(ge=1, le=65535)] | None = None

    @field_validator("port")
    @classmethod
    def _port(cls, value: str) -> str:
        if not PORT_RE.match(value):
            raise ValueError("a link end is written 'device:interface'")
        return value

    @property
    def device(self) -> str:
        return self.port.split(":", 1)[0]

    @property
    def interface(self) -> str:
        return self.port.split(":", 1)[1]


def _to_end(value: Any) -> Any:
    if isinstance(value, str):
        return {"port": value}
    return value


End = Annotated[LinkEnd, BeforeValidator(_to_end)]


class OspfLink(Node):
    area: Area = 0
    cost: Annotated[Int, Field(ge=1, le=65535)] = 10
    network: Literal["point-to-point", "broadcast"] = "point-to-point"
    """A link has two ends: point-to-point (no DR election, faster adjacency) whatever its
    prefix length; broadcast for a segment shared with devices netpipe does not manage."""


Mtu = Annotated[Int, Field(ge=576, le=9216)]
"""An interface MTU in bytes (IPv4's minimum datagram to a common jumbo frame)."""


class Link(Node):
    a: End
    b: End
    kind: Literal["routed", "trunk"] = "routed"
    description: Text = ""
    subnet: IPv4Network | None = None
    mtu: Mtu | None = None
    """Both ends (and a trunk's VLAN subinterfaces on a router); 1500 when not given."""
    ospf: OspfLink | None = None
    vlans: list[Int] | str = []
    native_vlan: Int | None = None

    @field_validator("subnet")
    @classmethod
    def _two_ends(cls, value: IPv4Network | None, info: ValidationInfo) -> IPv4Network | None:
        if value is not None and value.prefixlen == 32 and info.data.get("kind") == "routed":
            raise ValueError("a routed link needs two addresses, and a /32 holds one: "
                             "use a /31 (or a shorter prefix)")
        return value


class BgpPeer(Node):
    address: IPv4Address
    asn: Annotated[Int, Field(ge=1, le=4294967295)]
    description: Text = ""
    password_secret: BgpPassword | None = None
    announces: list[IPv4Network] = []


class Publish(Node):
    """A service published through destination NAT: ``address`` (public, on the uplink)
    forwarded to the inside host ``to`` for the ports of ``service``, kept as they are."""

    name: Name
    """Also the comment on its nftables rule."""
    address: IPv4Address
    service: Name
    to: IPv4Address


class Nat(Node):
    """NAT at an uplink: what leaves it from inside gets a public source, what is published
    comes in. The firewall rule a published service needs is written in firewall.yaml."""

    source: Literal["masquerade"] | IPv4Network | None = None
    """``masquerade`` (the uplink's own address) or a public pool (one address, or a prefix
    used as a range); none: no source NAT."""
    publish: list[Publish] = []


class Uplink(Node):
    """An external BGP peering (ISP, cloud VPN gateway) at one of our devices."""

    name: Name
    device: Name
    interface: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/.\-]+$")]
    address: IPv4Interface
    zone: Name
    peer: BgpPeer
    import_policy: Name
    export_policy: Name
    description: Text = ""
    mtu: Mtu | None = None
    nat: Nat | None = None


class Topology(Node):
    """intent/topology.yaml."""

    links: list[Link] = []
    uplinks: list[Uplink] = []


# --------------------------------------------------------------------------- routing


class OspfSettings(Node):
    reference_bandwidth: Annotated[Int, Field(ge=1, le=4294967)] = 100000
    spf_throttle: tuple[Int, Int, Int] = (50, 200, 5000)
    lsa_throttle: Annotated[Int, Field(ge=0, le=5000)] = 5000
    lsa_min_arrival: Annotated[Int, Field(ge=0, le=600000)] = 1000
    hello_interval: Annotated[Int, Field(ge=1, le=65535)] = 10
    dead_interval: Annotated[Int, Field(ge=1, le=65535)] = 40
    default_originate: list[Name] = []
    redistribute_bgp: Map[Name, Name] = {}
    """device -> prefix list of BGP routes that device puts into OSPF."""


class StaticRoute(Node):
    device: Name
    prefix: IPv4Network
    next_hop: IPv4Address | Literal["blackhole"]
    description: Text = ""


class PrefixEntry(Node):
    prefix: IPv4Network
    le: Annotated[Int, Field(ge=0, le=32)] | None = None


def _to_prefix_entry(value: Any) -> Any:
    """``"10.200.0.0/16 le 24"`` is the short form of ``{prefix: …, le: 24}``."""
    if isinstance(value, str):
        parts = value.split()
        if len(parts) == 3 and parts[1] == "le":
            return {"prefix": parts[0], "le": int(parts[2]) if parts[2].isdigit() else parts[2]}
        return {"prefix": value}
    return value


class Routing(Node):
    """intent/routing.yaml."""

    ospf: OspfSettings = OspfSettings()
    prefix_lists: Map[Name, list[Annotated[PrefixEntry, BeforeValidator(_to_prefix_entry)]]] = {}
    static_routes: list[StaticRoute] = []


# --------------------------------------------------------------------------- firewall

SERVICE_RE = re.compile(r"^(?:(?P<proto>tcp|udp)/(?P<lo>\d{1,5})(?:-(?P<hi>\d{1,5}))?|icmp|any)$")


def _service(spec: str) -> str:
    """``tcp/PORT``, ``udp/LO-HI``, ``icmp`` or ``any``, ports within 1-65535 and in order."""
    match = SERVICE_RE.match(spec)
    if not match:
        raise ValueError(f"{excerpt(spec)} is not 'tcp/PORT', 'udp/LO-HI', 'icmp' or 'any'")
    if match["proto"]:
        lo, hi = int(match["lo"]), int(match["hi"] or match["lo"])
        if not (1 <= lo <= 65535 and 1 <= hi <= 65535):
            raise ValueError(f"{excerpt(spec)}: ports are 1 to 65535")
        if hi < lo:
            raise ValueError(f"{excerpt(spec)}: the range is reversed")
    return spec


Service = Annotated[str, StringConstraints(max_length=20), AfterValidator(_service)]


class Zone(Node):
    description: Text = ""
    networks: list[IPv4Network] = []
    default: Bool = False
    """The zone of every address no other zone claims (the Internet)."""


class AddressGroup(Node):
    zone: Name
    addresses: list[IPv4Network]


class Rule(Node):
    name: Name
    from_: list[Name] = Field(alias="from")
    to: list[Name]
    services: list[Name]
    action: Literal["allow", "deny"] = "allow"
    log: Bool = False
    description: Text = ""

    @field_validator("from_", "to", "services", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class DefaultAction(Node):
    action: Literal["deny"] = "deny"
    log: Bool = True


class Firewall(Node):
    """intent/firewall.yaml: zones and conduits, ordered rules, default deny."""

    services: Map[Name, list[Service]] = {}
    zones: Map[Name, Zone] = {}
    groups: Map[Name, AddressGroup] = {}
    rules: list[Rule] = []
    default: DefaultAction = DefaultAction()
    router_access: Map[Name, list[Name]] = {}
    """service -> zones or address groups allowed to reach the routers themselves."""

    @field_validator("services", mode="before")
    @classmethod
    def _service_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value


# --------------------------------------------------------------------------- inventory


OPTIONAL_ARGS = {
    "transport", "sudo", "port", "key_file", "known_hosts_file", "global_delay_factor",
    "read_timeout_override", "conn_timeout", "dest_file_system", "auto_rollback_on_error",
    "inline_transfer", "fast_cli", "keepalive",
}
"""NAPALM driver options the inventory may set. Left out on purpose: ssh_config_file (a
ProxyCommand runs on the CI runner), session_log (writes the session, secrets and all, to
a file), alt_key_file/alt_host_keys/use_keys/allow_agent, secret, and the lab's netns
transport with its paths (vty_socket, confdir, rundir, state_dir, frr_reload)."""


_NEXT = {"napalm": "extras", "extras": "optional_args"}


class Credentials(Node):
    username_env: SecretName
    password_env: SecretName


class HostData(Node):
    site: Name
    role: Literal["core", "edge", "access"]
    model: Text = ""
    interfaces: list[Annotated[str, StringConstraints(max_length=100)]]
    """Ports the device has; ranges allowed (``GigabitEthernet1/0/1-48``)."""
    loopback: IPv4Interface | None = None
    credentials: Credentials | None = None
    known_hosts: Annotated[str, StringConstraints(max_length=200)] | None = None
    """OpenSSH known_hosts file (path from the repository root) the device's key must be in."""

    @field_validator("interfaces")
    @classmethod
    def _ranges(cls, value: list[str]) -> list[str]:
        ports.check(value)
        return value


class Host(Node):
    """One device of the Nornir SimpleInventory (groups and defaults already merged)."""

    name: Name
    hostname: str
    platform: Literal["frr", "ios"]
    groups: list[str] = []
    port: Int | None = None
    username: str | None = None
    connection_options: Annotated[dict[str, Any], BeforeValidator(strip_locs)] = {}

    @field_validator("connection_options", mode="before")
    @classmethod
    def _connection_options(cls, value: Any, info: ValidationInfo) -> Any:
        """Only ``napalm: {extras: {optional_args: {…}}}`` with options that cannot make the
        runner run a command, read or write a file, or connect elsewhere; each refusal is a
        finding at its own line (the value still carries the loader's positions here)."""
        if not isinstance(value, dict) or not isinstance(info.context, dict):
            return value
        found: list[Finding] = info.context.setdefault("findings", [])

        def refuse(mapping: dict[str, Any], key: str, message: str) -> None:
            src = mapping.get(LOC_KEY)
            found.append(Finding.at(src.at(key) if isinstance(src, Source) else None, "NP011",
                                    message, "see OPTIONAL_ARGS in docs/intent.md (inventory)"))

        for key in [k for k in value if k not in ("napalm", LOC_KEY)]:
            refuse(value, key, f"connection option {excerpt(key)}: only 'napalm' is read")
        layer = value
        for step in ("napalm", "extras", "optional_args"):
            inner = layer.get(step, {}) if isinstance(layer, dict) else None
            if not isinstance(inner, dict):
                refuse(layer, step, f"connection option {step} must be a mapping")
                return {}
            for key in [k for k in inner if k not in (LOC_KEY, _NEXT.get(step))]:
                if step != "optional_args":
                    refuse(inner, key, f"connection option {step}.{excerpt(key)} is not read")
            layer = inner
        for key, option in layer.items():
            if key == LOC_KEY:
                continue
            if key not in OPTIONAL_ARGS:
                refuse(layer, key, f"optional_args {excerpt(key)} is not allowed (it could run "
                       "a command, read or write a file on the runner)")
            elif key == "transport" and option != "ssh":
                refuse(layer, key, "optional_args transport: only ssh (the lab sets its own)")
        return value
    data: HostData
