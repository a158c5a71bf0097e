"""Where things live on a device, and the shell scripts the driver leaves there.

The state directory holds everything a device needs to undo a commit on its own::

    STATE/backup/frr.conf            running FRR config before the last commit
    STATE/backup/nftables.conf       running ``table inet netpipe`` before it ("" = absent)
    STATE/backup/nftables.restore    the file that puts that table back atomically
    STATE/restore.sh                 restores both targets from backup/ (no controller needed)
    STATE/revert-timer.sh            commit-confirm timer: at the deadline, run restore.sh
    STATE/revert-at                  the timer's deadline (epoch seconds, device clock)
    STATE/pending                    exists while a commit-confirm is pending; holds the timer pid
    STATE/candidate/...              candidate files as checked at load time
    STATE/committed.json             hostname, message and time of the last commit
    STATE/revert.log                 what the timer did

The pending marker is claimed with an atomic ``mv`` by whoever acts first (the timer, confirm or
rollback), so a confirm racing the timer can never leave a half-reverted device.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class DevicePaths:
    """Paths and programs on the device."""

    vty_socket: str
    confdir: str
    rundir: str
    state_dir: str
    frr_reload: str = "/usr/lib/frr/frr-reload.py"
    vtysh: str = "vtysh"

    def state(self, *parts: str) -> str:
        return "/".join([self.state_dir.rstrip("/"), *parts])

    @property
    def pending(self) -> str:
        return self.state("pending")

    def vtysh_argv(self, *commands: str) -> list[str]:
        argv = [self.vtysh, "--vty_socket", self.vty_socket, "--config_dir", self.confdir]
        for command in commands:
            argv += ["-c", command]
        return argv

    def reload_argv(self, path: str, *, test: bool) -> list[str]:
        return [
            self.frr_reload,
            "--test" if test else "--reload",
            "--stdout",
            "--vty_socket", self.vty_socket,
            "--confdir", self.confdir,
            "--rundir", self.rundir,
            path,
        ]  # fmt: skip


def restore_script(paths: DevicePaths) -> str:
    """``restore.sh``: put both targets back from ``backup/``; exit 1 if either failed."""
    reload_cmd = shlex.join(paths.reload_argv(paths.state("backup", "frr.conf"), test=False))
    nft_cmd = shlex.join(["nft", "-f", paths.state("backup", "nftables.restore")])
    return f"""#!/bin/sh
# Written by napalm_frr at commit time: restores the configuration saved before that commit.
# Self-contained: needs nothing from the controller.
rc=0
{nft_cmd} || rc=1
{reload_cmd} || rc=1
exit $rc
"""


def timer_script(paths: DevicePaths) -> str:
    """``revert-timer.sh``: at the deadline in ``revert-at``, claim the marker, run restore.sh.

    The deadline lives in a file so the controller can set it generously before applying (a
    controller dying mid-commit still gets reverted) and exactly ``revert_in`` seconds after the
    commit has finished. Checked twice a second.
    """
    state = shlex.quote(paths.state_dir.rstrip("/"))
    return f"""#!/bin/sh
# napalm_frr commit-confirm timer. confirm_commit/rollback claim "pending" first to cancel it.
state={state}
while :; do
  deadline=$(cat "$state/revert-at" 2>/dev/null) || exit 0
  case "$deadline" in ''|*[!0-9]*) exit 0 ;; esac
  [ "$(date +%s)" -ge "$deadline" ] && break
  sleep 0.5 2>/dev/null || sleep 1
done
mv "$state/pending" "$state/pending.reverting" 2>/dev/null || exit 0
{{
  echo "$(date '+%F %T') revert timer fired"
  sh "$state/restore.sh"
  echo "$(date '+%F %T') restore finished rc=$?"
}} >>"$state/revert.log" 2>&1
rm -f "$state/revert-at" "$state/pending.reverting"
"""


# $1 = revert-at file, $2 = seconds from now (device clock).
# The +1 rounds the whole-second clock up: the timer never fires before $2 seconds have passed
# (it fires within $2..$2+1.5 s).
SET_DEADLINE = 'echo $(( $(date +%s) + $2 + 1 )) > "$1.tmp" && mv -f "$1.tmp" "$1"'

# stdin: the timer script. $1 timer path, $2 pending marker, $3 revert-at, $4 seconds.
# setsid: the timer leaves the caller's session, so it survives the controller, the ssh channel
# and `ip netns exec` ending. Prints the timer pid (also written into the pending marker).
START_TIMER = (
    'cat > "$1.tmp" && mv -f "$1.tmp" "$1" && '
    'echo $(( $(date +%s) + $4 + 1 )) > "$3.tmp" && mv -f "$3.tmp" "$3" && '
    '{ setsid sh "$1" </dev/null >/dev/null 2>&1 & pid=$!; } && '
    'echo "$pid" > "$2.tmp" && mv -f "$2.tmp" "$2" && echo "$pid"'
)

# stdin: file content. $1 path, then a command to exec once the file is in place: write-and-run
# in one round trip (which matters over ssh, where each command costs a session).
WRITE_THEN_EXEC = (
    'umask 077; mkdir -p -- "$(dirname -- "$1")" && cat > "$1.tmp.$$" && '
    'mv -f -- "$1.tmp.$$" "$1" && shift && exec "$@"'
)


def backup_script(table_family: str, table: str) -> str:
    """Save both running targets and install restore.sh (stdin) in one round trip.

    $1 state dir, then the vtysh argv. Files are written aside and renamed at the end, so a
    failed backup never leaves a half-new backup behind.
    """
    return rf"""set -e
umask 077
state=$1; shift
mkdir -p "$state/backup"
cat > "$state/restore.sh.tmp"
"$@" -c 'show running-config' > "$state/backup/frr.raw.tmp"
sed -e '/^Building configuration\.\.\.$/d' -e '/^Current configuration:$/d' -e '/./,$!d' \
  "$state/backup/frr.raw.tmp" > "$state/backup/frr.conf.tmp"
rm -f "$state/backup/frr.raw.tmp"
if nft list tables | grep -qxF 'table {table_family} {table}'; then
  nft -s list table {table_family} {table}
fi > "$state/backup/nftables.conf.tmp"
{{ printf 'table {table_family} {table}\ndelete table {table_family} {table}\n'
   cat "$state/backup/nftables.conf.tmp"; }} > "$state/backup/nftables.restore.tmp"
for f in frr.conf nftables.conf nftables.restore; do
  mv -f "$state/backup/$f.tmp" "$state/backup/$f"
done
mv -f "$state/restore.sh.tmp" "$state/restore.sh"
"""


# $1 = pending marker, $2 = new name, $3 = revert-at. Exit 3 if nothing was pending. Kills the
# timer's process group (the timer and its sleep) only if that pid still runs revert-timer.sh.
CLAIM_AND_CANCEL = """mv "$1" "$2" 2>/dev/null || exit 3
rm -f "$3"
pid=$(cat "$2")
case "$pid" in ''|*[!0-9]*) pid= ;; esac
if [ -n "$pid" ] && grep -q revert-timer "/proc/$pid/cmdline" 2>/dev/null; then
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
fi
rm -f "$2"
"""
