#!/usr/bin/env bash
# The netpipe story on the example network: validate and render everywhere; as root,
# also the whole change cycle against the namespace lab. Works on a scratch copy of
# the example network, so the repository itself is never modified; what is worth
# keeping (the merge-request note, the diffs) is copied to build/demo/.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
netpipe="$here/.venv/bin/netpipe"
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ netpipe %s\n' "$*"; "$netpipe" "$@"; }
expect() { local want=$1; shift; run "$@"; local got=$?; [ "$got" = "$want" ] || { echo "demo: expected exit $want, got $got"; exit 1; }; }

step "1. Validate the intent: schema, semantic rules, and FRR/nftables/IOS lint of every rendered config"
expect 0 validate --root "$here"
step "2. Render every device's configs (secrets stay placeholders)"
expect 0 render --root "$here"

# Not root: a clean stop, exit 0 (README), in one line that says what needs root.
if [ "$(id -u)" != 0 ]; then
  echo
  echo "demo: stopped after render: the lab (network namespaces, FRR daemons) needs root; sudo make demo runs the whole story"
  exit 0
fi

keep="$here/build/demo"
rm -rf "$keep" && mkdir -p "$keep"
work=$(mktemp -d /tmp/netpipe-demo.XXXXXX)
trap '"$netpipe" lab down --root "$work/net" >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir "$work/net" && cp -r "$here/intent" "$here/inventory" "$here/templates" "$work/net/"
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.invalid
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.invalid
git -C "$work/net" init -q -b main && git -C "$work/net" add -A && git -C "$work/net" commit -qm "example network"
cd "$work/net"

step "3. Build the lab: bare routers (namespaces with their ports only), emulated ISP and cloud peers, test hosts per VLAN"
run lab down >/dev/null
expect 0 lab up
core="${NETPIPE_LAB_PREFIX:-npl-}gent-core1"
echo "gent-core1 as cabled: ports down, no address, forwarding $(ip netns exec "$core" sysctl -n net.ipv4.ip_forward)"
ip -n "$core" -br addr | grep -v '^lo '
step "4. Dry-run diff against the (still empty) lab routers: what the first deploy will do"
printf '$ netpipe diff --lab --out build/demo/first-deploy\n'
"$netpipe" diff --lab --out "$keep/first-deploy" > "$keep/first-deploy.txt" || { echo "demo: diff failed"; exit 1; }
grep -E '^(===|skipped)' "$keep/first-deploy.txt"
echo "(the full diff of each router: build/demo/first-deploy/<device>.diff; the first lines of one:)"
head -n 12 "$keep/first-deploy/hq-edge1.diff"
step "5. Deploy: lock, backups, canary first, commit-confirm, health checks, confirm"
expect 0 deploy --lab --yes --canary hq-edge1 --batch-size 2
echo "gent-core1 after its first deploy: every interface from its interfaces file, forwarding $(ip netns exec "$core" sysctl -n net.ipv4.ip_forward)"
ip -n "$core" -br addr | grep -v -e '^lo ' -e '^eth[0-9]*v'
step "6. Verify: OSPF, BGP, routes, and real packets through the zone firewall"
expect 0 verify --lab
step "7. A merge request with a bad change that passes validation: a static route typo (10.3.10.0/24 for 10.30.10.0/24)"
sed -i 's|^static_routes:$|static_routes:\n  - {device: hq-core1, prefix: 10.3.10.0/24, next_hop: blackhole}|' intent/routing.yaml
expect 0 validate
echo "The merge request's preview: intended configs against main, per device, and the blast radius."
echo "No device and no credential: this is what the MR pipeline posts as its note."
expect 0 diff --offline --base main --limit hq-core1,hq-edge1 --out "$keep/merge-request"
echo
echo "After the merge, the deploy job's first step: the live dry-run diff against the running router."
expect 0 diff --lab --limit hq-core1
echo
echo "The health check sees the scanners lose the WMS, and reverts hq-core1 automatically:"
expect 4 deploy --lab --yes
echo
echo "The network is whole again:"
expect 0 verify --lab
git checkout -q -- intent/routing.yaml
step "8. A change that is healthy but wrong: the WMS rule removed; deployed, then the emergency rollback"
python3 - <<'PY'
import pathlib
p = pathlib.Path("intent/firewall.yaml")
p.write_text(p.read_text().replace(
    "  - name: scanners-to-wms\n    from: scanners\n    to: wms\n    services: https\n", ""))
PY
git commit -qam "remove the scanners-to-wms rule"
expect 0 deploy --lab --yes --batch-size 4
echo
echo "Scanners cannot reach the WMS. From any laptop with the state store, in seconds:"
expect 0 rollback --lab
step "9. Nothing drifted from the intent the backups came from; tear the lab down"
git revert -q --no-edit HEAD 2>/dev/null || git revert --no-edit HEAD >/dev/null
expect 0 drift --lab
expect 0 lab down
echo
echo "Kept for you in build/demo/: the merge-request note (merge-request/summary.md) and the diffs."
