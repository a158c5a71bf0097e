"""``netpipe lab``: the namespace lab's command (imported only when it runs)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pipeline import cli_change
from pipeline.build import Build, build
from pipeline.change.candidate import needed_secrets
from pipeline.cli import EXIT_FINDINGS, EXIT_OK, _root, _usage
from pipeline.lab import lab, netns
from pipeline.lab.plan import LabPlan, plan
from pipeline.report import render_findings


def _lab_plan(root: Path) -> tuple[Build, LabPlan] | int:
    result = build(root, run_lint=False)
    if not result.ok or result.intent is None:
        print(render_findings(result.findings, "text"))
        return EXIT_FINDINGS
    return result, plan(result.intent, result.devices, cli_change.lab_prefix())


def _need_root() -> int | None:
    try:
        cli_change.check_lab()
    except cli_change.Refused as exc:
        return _usage(str(exc))
    return None


def cmd_lab(args: argparse.Namespace) -> int:
    if args.action == "down":
        if (code := _need_root()) is not None:
            return code
        removed = lab.down(cli_change.lab_prefix())
        print(f"lab down: removed {len(removed)} namespace(s)")
        return EXIT_OK
    planned = _lab_plan(_root(args))
    if isinstance(planned, int):
        return planned
    result, labplan = planned
    if args.action == "reboot":
        if (code := _need_root()) is not None:
            return code
        if args.device not in labplan.routers:
            return _usage(f"lab reboot: --device must name a lab router "
                          f"({', '.join(sorted(labplan.routers))})")
        lab.reboot(labplan.prefix, args.device)
        print(f"lab reboot: {args.device} powered off and booted from what it had saved")
        return EXIT_OK
    if args.action == "up":
        if (code := _need_root()) is not None:
            return code
        started = time.monotonic()
        built = lab.up(labplan, lab.lab_secrets(needed_secrets(result.rendered)))
        took = time.monotonic() - started
        state = f"built in {took:.1f} s" if built else "already up, nothing to do"
        print(f"lab up: {len(labplan.routers)} routers, {len(labplan.peers)} peers, "
              f"{len(labplan.hosts)} test hosts, {len(labplan.namespaces)} namespaces: {state}")
        print("lab up: routers are bare boxes (ports down, no addresses): the first deploy "
              "makes every interface")
        if not netns.kernel_has_8021q():
            print("lab up: this kernel has no 802.1Q: each VLAN a trunk carries is cabled as "
                  "its own wire (eth3v110) and the deploy makes eth3.110 as a macvlan on it "
                  "(docs/decisions.md)")
        return EXIT_OK
    st = lab.status(labplan)
    if args.format == "json":
        print(json.dumps(_lab_json(labplan, st), indent=2))
    else:
        print(f"lab {'up' if st.complete else 'down' if st.empty else 'INCOMPLETE'} "
              f"(prefix {labplan.prefix})")
        for device, ns in sorted(labplan.routers.items()):
            running = "frr running" if st.frr.get(ns) else "frr NOT running"
            print(f"  {device:<16} {ns:<20} {running}  "
                  f"vtysh --vty_socket {lab.rundir(labplan.prefix, ns)}")
    return EXIT_OK


def _lab_json(labplan: LabPlan, st: lab.Status) -> dict[str, object]:
    devices = {}
    for device, ns in sorted(labplan.routers.items()):
        params = lab.napalm_params(labplan.prefix, device)
        devices[device] = {"namespace": ns, "vty_socket": str(lab.rundir(labplan.prefix, ns)),
                           "exists": st.namespaces.get(ns, False),
                           "frr_running": st.frr.get(ns, False), "napalm": params}
    return {
        "prefix": labplan.prefix, "up": st.complete, "devices": devices,
        "peers": {p.name: {"namespace": p.ns, "asn": p.asn, "address": str(p.address)}
                  for p in labplan.peers},
        "hosts": {h.name: {"namespace": h.ns, "address": str(h.address), "zone": h.zone}
                  for h in labplan.hosts},
    }
