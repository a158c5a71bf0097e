"""Where things live on a device, and the shell scripts the driver leaves there.

A commit changes the *running* state only; what the box boots from (FRR's saved
``frr.conf``, the netpipe nftables ruleset file) is written when the commit is confirmed.
The state directory holds everything a device needs to undo a commit on its own, also
across a reboot::

    STATE/backup/frr.conf            running FRR config before the last commit
    STATE/backup/nftables.conf       running ``table inet netpipe`` before it ("" = absent)
    STATE/backup/nftables.restore    the file that puts that table back atomically
    STATE/backup/saved/...           the files the box booted from before it (``X.absent``: none)
    STATE/backup/files/<name>        each box file (interfaces, sysctl.conf, the services' files)
                                     the commit changes, as it ran before it
    STATE/backup/sysctl.values       the kernel's values before it of every key either sysctl
                                     file names (a key the old file lacks still goes back)
    STATE/applied/<name>             each box file as last applied: what runs (confirm writes it
                                     to its boot path; see napalm_frr.boxfiles)
    STATE/restore.sh                 restores both targets and the saved files from backup/
    STATE/boot.sh                    the boot hook: a commit never confirmed is reverted before
                                     FRR and nftables load (netpipe-boot.service runs it)
    STATE/revert-timer.sh            commit-confirm timer: at the deadline, run restore.sh
    STATE/revert-at                  the timer's deadline (epoch seconds, device clock)
    STATE/pending                    exists while a commit is not confirmed: "<timer pid> <boot id>"
    STATE/candidate/<id>/...         candidate files of one driver instance, as checked at load
    STATE/committed.json             hostname, message and time of the last commit
    STATE/revert.log                 what the timer, the boot hook and open() reverted

The pending marker is claimed with an atomic ``mv`` by whoever acts first (the timer, confirm,
rollback, or open() finding it stale), so a confirm racing the timer can never leave a
half-reverted device. frr-reload.py writes the saved frr.conf as part of ``--reload``; the
driver puts the saved file back right after it, and the boot hook covers the moment between.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from napalm_frr import boxfiles

UNIT = "netpipe-boot.service"


@dataclass(frozen=True)
class DevicePaths:
    """Paths and programs on the device."""

    vty_socket: str
    confdir: str
    rundir: str
    state_dir: str
    frr_reload: str = "/usr/lib/frr/frr-reload.py"
    vtysh: str = "vtysh"
    nft_file: str = ""  # the persisted netpipe ruleset the boot hook loads
    services: str = "systemd"  # how daemons are restarted: "systemd" or "lab" (boxfiles.SERVICE)

    def state(self, *parts: str) -> str:
        return "/".join([self.state_dir.rstrip("/"), *parts])

    @property
    def pending(self) -> str:
        return self.state("pending")

    @property
    def saved_frr(self) -> str:
        """The frr.conf FRR loads at boot (``vtysh -b``)."""
        return f"{self.confdir.rstrip('/')}/frr.conf"

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


# Shell functions shared by the scripts below (each script is self-contained).
# put_back SAVED TARGET: TARGET becomes SAVED's content (or is removed if SAVED.absent exists),
# atomically, keeping TARGET's owner and mode (frr.conf belongs to frr).
# A file mounted alone (a lab box's resolv.conf) is written in place: its folder is the
# machine's, where neither a temporary file nor a rename belongs. drop FILE: FILE is gone
# (emptied where it is such a mount point).
_PUT_BACK = r"""drop() {
  if mountpoint -q "$1" 2>/dev/null; then : > "$1"; else rm -f "$1"; fi
}
put_back() {
  if [ -e "$1.absent" ]; then drop "$2"; return 0; fi
  [ -e "$1" ] || return 0
  if mountpoint -q "$2" 2>/dev/null; then cat "$1" > "$2"; return; fi
  mkdir -p "$(dirname "$2")" || return 1
  cp "$1" "$2.netpipe.tmp" || return 1
  if [ -e "$2" ]; then
    chown --reference="$2" "$2.netpipe.tmp" 2>/dev/null
    chmod --reference="$2" "$2.netpipe.tmp" 2>/dev/null
  fi
  mv -f "$2.netpipe.tmp" "$2"
}
"""

# clean_running: vtysh's "show running-config" minus its banner lines (see frrconf.clean_running).
_CLEAN_RUNNING = r"""clean_running() {
  sed -e '/^Building configuration\.\.\.$/d' -e '/^Current configuration:$/d' -e '/./,$!d'
}
"""


def _claim_fn(paths: DevicePaths) -> str:
    """claim MARKER NEWNAME: take the pending marker (atomic mv) and stop its timer; 3 if none.
    Only a process whose command line names *this* device's timer script is killed."""
    timer = shlex.quote(paths.state("revert-timer.sh"))
    revert_at = shlex.quote(paths.state("revert-at"))
    return f"""claim() {{
  mv "$1" "$2" 2>/dev/null || return 3
  rm -f {revert_at}
  pid=
  read -r pid _ < "$2" 2>/dev/null
  case "$pid" in ''|*[!0-9]*) pid= ;; esac
  if [ -n "$pid" ] && grep -qF -- {timer} "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  fi
  return 0
}}
"""


def _persist_fn(paths: DevicePaths) -> str:
    """persist: write what the box boots from, from what it runs now (both files atomic)."""
    q = shlex.quote
    vtysh = shlex.join(paths.vtysh_argv("show running-config"))
    saved, nft_file = paths.saved_frr, paths.nft_file
    nft_part = ""
    if nft_file:
        nft_part = f"""  mkdir -p "$(dirname {q(nft_file)})" || return 1
  if nft list tables | grep -qxF 'table inet netpipe'; then
    {{ printf 'table inet netpipe\\ndelete table inet netpipe\\n'
       nft -s list table inet netpipe; }} > {q(nft_file + '.netpipe.new')} || return 1
  else
    : > {q(nft_file + '.netpipe.new')}
  fi
  put_back {q(nft_file + '.netpipe.new')} {q(nft_file)} || return 1
  rm -f {q(nft_file + '.netpipe.new')}
"""
    box_part = "".join(
        f"""  if [ -e {q(paths.state('applied', f.name))} ]; then
    if [ -s {q(paths.state('applied', f.name))} ]; then
      put_back {q(paths.state('applied', f.name))} {q(f.path)} || return 1
    else drop {q(f.path)}; fi
  fi
""" for f in boxfiles.FILES)
    return f"""persist() {{
  {vtysh} | clean_running > {q(saved + '.netpipe.new')} || return 1
  [ -s {q(saved + '.netpipe.new')} ] || return 1
  put_back {q(saved + '.netpipe.new')} {q(saved)} || return 1
  rm -f {q(saved + '.netpipe.new')}
{nft_part}{box_part}}}
"""


# install_apply NAME SOURCE PATH (needs $state): SOURCE (empty: no file) goes to PATH, what runs
# is made to match it, it is recorded as applied, and PATH gets back what the box boots from.
_INSTALL_APPLY = r"""install_apply() {
  if [ -s "$2" ]; then
    case " $private " in *" $1 "*) [ -e "$3" ] || (umask 077; : > "$3") ;; esac
    put_back "$2" "$3" || return 1
  else drop "$3"; fi
  apply_box "$1" "$3"; rc=$?
  mkdir -p "$state/applied" && cp "$2" "$state/applied/$1.tmp" &&
    mv -f "$state/applied/$1.tmp" "$state/applied/$1" || rc=1
  case " $live " in
    *" $1 "*) ;;  # what runs is the file itself: it stays
    *) put_back "$state/backup/saved/$1" "$3" || rc=1 ;;
  esac
  return $rc
}
"""


def _box_vars(paths: DevicePaths) -> str:
    """The settings the box-file functions read."""
    q = shlex.quote
    return (f"state={q(paths.state_dir.rstrip('/'))}\nservices={q(paths.services)}\n"
            f"live={q(' '.join(sorted(boxfiles.LIVE)))}\n"
            f"private={q(' '.join(sorted(boxfiles.PRIVATE)))}\n")


_BOX_FUNCTIONS = f"{_PUT_BACK}{boxfiles.STANDINS}{boxfiles.SERVICE}{boxfiles.APPLY}{_INSTALL_APPLY}"


def apply_box_script(paths: DevicePaths) -> str:
    """$1 box file name, $2 its candidate on the device, $3 its boot path: apply it (a commit)."""
    return (f"umask 022\n{_box_vars(paths)}{_BOX_FUNCTIONS}"
            f"install_apply \"$1\" \"$2\" \"$3\"\n")


def service_state_script(paths: DevicePaths) -> str:
    """$1 a daemon's unit, $2 its box file's name, $3 its boot path: what is wrong with the
    daemon against the file as applied ("" if it runs as it should)."""
    return (f"{_box_vars(paths)}{boxfiles.SERVICE}f=\"$state/applied/$2\"\n"
            f"[ -e \"$f\" ] || f=$3\nservice_state \"$1\" \"$f\"\n")


def running_box_script(paths: DevicePaths) -> str:
    """$1 box file name, $2 its boot path: what runs (the applied copy, else the boot file;
    for sysctl.conf with the kernel's value of each key)."""
    state = shlex.quote(paths.state_dir.rstrip("/"))
    return f"""{boxfiles.RUNNING_SYSCTL}state={state}
f="$state/applied/$1"
[ -e "$f" ] || f=$2
[ -e "$f" ] || exit 0
if [ "$1" = {boxfiles.SYSCTL} ]; then running_sysctl "$f"; else cat -- "$f"; fi
"""


def restore_script(paths: DevicePaths) -> str:
    """``restore.sh``: put both targets back from ``backup/``, then the files the box boots
    from (frr-reload just rewrote the saved frr.conf); exit 1 if anything failed."""
    q = shlex.quote
    reload_cmd = shlex.join(paths.reload_argv(paths.state("backup", "frr.conf"), test=False))
    nft_cmd = shlex.join(["nft", "-f", paths.state("backup", "nftables.restore")])
    saved = paths.state("backup", "saved")
    nft_back = (f"put_back {q(saved + '/nftables.conf')} {q(paths.nft_file)} || rc=1\n"
                if paths.nft_file else "")
    box = "".join(
        f"if [ -e {q(paths.state('backup', 'files', f.name))} ]; then\n"
        + (f"  sysctl -q -e -p {q(paths.state('backup', 'sysctl.values'))} >/dev/null 2>&1\n"
           if f.name == boxfiles.SYSCTL else "")
        + f"  install_apply {q(f.name)} {q(paths.state('backup', 'files', f.name))} "
          f"{q(f.path)} || rc=1\nfi\n"
        for f in boxfiles.FILES)
    return f"""#!/bin/sh
# Written by napalm_frr at commit time: restores the configuration saved before that commit,
# running and saved. Self-contained: needs nothing from the controller.
umask 022
{_box_vars(paths)}{_BOX_FUNCTIONS}rc=0
{box}{nft_cmd} || rc=1
{reload_cmd} || rc=1
put_back {q(saved + '/frr.conf')} {q(paths.saved_frr)} || rc=1
{nft_back}exit $rc
"""


def boot_script(paths: DevicePaths) -> str:
    """``boot.sh``, run at boot before FRR starts (and after nftables.service): a commit that
    was never confirmed gets the boot files it replaced back, then the netpipe table loads and,
    on a kernel without 802.1Q, the VLAN stand-ins are made before the network comes up."""
    q = shlex.quote
    state = q(paths.state_dir.rstrip("/"))
    saved = paths.state("backup", "saved")
    nft_back = nft_load = ""
    if paths.nft_file:
        nft_back = f"  put_back {q(saved + '/nftables.conf')} {q(paths.nft_file)}\n"
        nft_load = f"if [ -s {q(paths.nft_file)} ]; then nft -f {q(paths.nft_file)} || rc=1; fi\n"
    box_back = "".join(f"  put_back {q(saved + '/' + f.name)} {q(f.path)} || rc=1\n"
                       for f in boxfiles.FILES)
    return f"""#!/bin/sh
# napalm_frr boot hook (netpipe-boot.service): before FRR and the network come up.
{_PUT_BACK}{boxfiles.STANDINS}state={state}
rc=0
stale=
for m in "$state/pending" "$state"/pending.*; do [ -e "$m" ] && stale=1; done
if [ -n "$stale" ]; then
  put_back {q(saved + '/frr.conf')} {q(paths.saved_frr)} || rc=1
{nft_back}{box_back}  rm -f "$state"/pending "$state"/pending.* "$state/revert-at"
  echo "$(date '+%F %T') boot: a commit that was never confirmed was reverted" \\
    >> "$state/revert.log"
fi
{nft_load}# What runs after a boot is what the box booted from: the applied copies are stale.
rm -rf "$state/applied"
standins {q(boxfiles.BY_NAME[boxfiles.INTERFACES].path)} || rc=1
exit $rc
"""


def boot_unit(paths: DevicePaths) -> str:
    """The systemd unit that runs ``boot.sh`` after nftables.service (which flushes the ruleset)
    and before FRR and the network."""
    return f"""[Unit]
Description=netpipe: revert a commit never confirmed, load the netpipe nftables table
Documentation=https://example.invalid/netpipe/docs/reliability.md
DefaultDependencies=no
After=local-fs.target nftables.service
Before=network-pre.target frr.service shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh {paths.state('boot.sh')}

[Install]
WantedBy=sysinit.target
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
# and `ip netns exec` ending. Prints the timer pid; the marker holds it and this boot's id, so a
# marker found after a reboot is known to be stale.
START_TIMER = (
    'cat > "$1.tmp" && mv -f "$1.tmp" "$1" && '
    'echo $(( $(date +%s) + $4 + 1 )) > "$3.tmp" && mv -f "$3.tmp" "$3" && '
    '{ setsid sh "$1" </dev/null >/dev/null 2>&1 & pid=$!; } && '
    'boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) ; '
    'echo "$pid $boot" > "$2.tmp" && mv -f "$2.tmp" "$2" && echo "$pid"'
)

# stdin: file content. $1 path, then a command to exec once the file is in place: write-and-run
# in one round trip (which matters over ssh, where each command costs a session).
WRITE_THEN_EXEC = (
    'umask 077; mkdir -p -- "$(dirname -- "$1")" && cat > "$1.tmp.$$" && '
    'mv -f -- "$1.tmp.$$" "$1" && shift && exec "$@"'
)


def reload_keeping_saved(paths: DevicePaths) -> str:
    """stdin: the prepared candidate. $1 its path, then the frr-reload argv. frr-reload writes
    the saved frr.conf as part of ``--reload``; the copy taken at backup goes straight back,
    because a commit changes only what runs (confirm persists)."""
    saved = shlex.quote(paths.state("backup", "saved", "frr.conf"))
    return f"""{_PUT_BACK}umask 077
mkdir -p -- "$(dirname -- "$1")" && cat > "$1.tmp.$$" && mv -f -- "$1.tmp.$$" "$1" || exit 1
shift
"$@"; rc=$?
put_back {saved} {shlex.quote(paths.saved_frr)} || {{
  echo "could not put the saved frr.conf back" >&2; rc=1; }}
exit $rc
"""


# Pairs of (path, content) as arguments: the scripts the device needs, written atomically.
# An optional "--link TARGET NAME" pair after them makes a symbolic link (systemd's wants).
WRITE_FILES = r"""umask 077
while [ $# -ge 2 ]; do
  if [ "$1" = --link ]; then
    mkdir -p "$(dirname "$3")" && ln -sfn "$2" "$3" || exit 1
    shift 3; continue
  fi
  mkdir -p "$(dirname "$1")" || exit 1
  printf '%s' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1" || exit 1
  shift 2
done
"""


def backup_script(table_family: str, table: str) -> str:
    """Save the running targets and the files the box boots from, in one round trip.

    $1 state dir, $2 saved frr.conf, $3 persisted nft file ("" = none), $4 the candidate folder
    (its sysctl.conf names keys whose values are kept too), then the vtysh argv. Files are
    written aside and renamed at the end, so a failed backup never leaves a half-new backup.
    """
    pairs = " ".join(f'"{f.name}:{f.path}"' for f in boxfiles.FILES)
    names = " ".join(f.name for f in boxfiles.FILES)
    return rf"""set -e
umask 077
state=$1; saved_frr=$2; nft_file=$3; candidate=$4; shift 4
{boxfiles.SYSCTL_KEYS}mkdir -p "$state/backup/saved.tmp" "$state/backup/files.tmp"
rm -f "$state/backup/saved.tmp/"* "$state/backup/files.tmp/"*
"$@" -c 'show running-config' > "$state/backup/frr.raw.tmp"
{_CLEAN_RUNNING}clean_running < "$state/backup/frr.raw.tmp" > "$state/backup/frr.conf.tmp"
rm -f "$state/backup/frr.raw.tmp"
if nft list tables | grep -qxF 'table {table_family} {table}'; then
  nft -s list table {table_family} {table}
fi > "$state/backup/nftables.conf.tmp"
{{ printf 'table {table_family} {table}\ndelete table {table_family} {table}\n'
   cat "$state/backup/nftables.conf.tmp"; }} > "$state/backup/nftables.restore.tmp"
for pair in "frr.conf:$saved_frr" "nftables.conf:$nft_file" {pairs}; do
  name=${{pair%%:*}}; src=${{pair#*:}}
  [ -n "$src" ] || continue
  if [ -e "$src" ]; then cp "$src" "$state/backup/saved.tmp/$name"
  else : > "$state/backup/saved.tmp/$name.absent"; fi
done
for name in {names}; do
  [ -e "$candidate/$name" ] || continue  # a commit restores only what it changes
  if [ -e "$state/applied/$name" ]; then cp "$state/applied/$name" "$state/backup/files.tmp/$name"
  elif [ -e "$state/backup/saved.tmp/$name" ]; then
    cp "$state/backup/saved.tmp/$name" "$state/backup/files.tmp/$name"
  else : > "$state/backup/files.tmp/$name"; fi
done
keys=$(sysctl_keys "$state/backup/files.tmp/{boxfiles.SYSCTL}" "$candidate/{boxfiles.SYSCTL}")
for key in $keys; do
  value=$(sysctl -n "$key" 2>/dev/null) && printf '%s = %s\n' "$key" "$value"
done > "$state/backup/sysctl.values.tmp" || true
for f in frr.conf nftables.conf nftables.restore sysctl.values; do
  mv -f "$state/backup/$f.tmp" "$state/backup/$f"
done
for d in saved files; do
  rm -rf "$state/backup/$d"
  mv "$state/backup/$d.tmp" "$state/backup/$d"
done
"""


def confirm_script(paths: DevicePaths) -> str:
    """Claim the marker (the timer is stopped), persist, drop the marker. Exit 3: nothing was
    pending; exit 4: confirmed, but the boot files could not be written (the marker stays as
    ``pending.confirming``, so a reboot reverts to what is persisted)."""
    claiming = shlex.quote(paths.state("pending.confirming"))
    return f"""{_PUT_BACK}{_CLEAN_RUNNING}{_claim_fn(paths)}{_persist_fn(paths)}
claim {shlex.quote(paths.pending)} {claiming} || exit 3
persist || exit 4
rm -f {claiming}
"""


# $1 = pending marker, $2 = new name. Exit 3 if nothing was pending.
def cancel_script(paths: DevicePaths) -> str:
    return f"""{_claim_fn(paths)}claim "$1" "$2" || exit 3
rm -f "$2"
"""


def open_script(paths: DevicePaths) -> str:
    """Run at every ``open()``: create the state dir, and revert a commit left behind.

    A marker from an earlier boot is stale whatever it says (the box rebooted without the boot
    hook). In this boot, only an unclaimed ``pending`` whose timer is gone and whose deadline
    has passed is stale: a claimed marker means someone is acting on it right now. Prints
    ``reverted`` for each commit it undid.
    """
    state = paths.state_dir.rstrip("/")
    q = shlex.quote
    return f"""umask 077
mkdir -p -- {q(state)} || exit 1
state={q(state)}
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
now=$(date +%s)
for m in "$state/pending" "$state"/pending.*; do
  [ -e "$m" ] || continue
  pid=; mboot=
  read -r pid mboot < "$m" 2>/dev/null
  if [ -z "$mboot" ] || [ "$mboot" = "$boot" ]; then
    [ "$m" = "$state/pending" ] || continue
    case "$pid" in ''|*[!0-9]*) ;; *)
      grep -qF -- {q(paths.state('revert-timer.sh'))} "/proc/$pid/cmdline" 2>/dev/null &&
        continue ;;
    esac
    deadline=$(cat "$state/revert-at" 2>/dev/null)
    case "$deadline" in ''|*[!0-9]*) ;; *) [ "$now" -lt "$deadline" ] && continue ;; esac
  fi
  mv "$m" "$state/pending.settling" 2>/dev/null || continue
  sh "$state/restore.sh" >> "$state/revert.log" 2>&1; rc=$?
  rm -f "$state/pending.settling" "$state/revert-at"
  echo "$(date '+%F %T') open: reverted a commit never confirmed (its timer is gone) rc=$rc" \\
    >> "$state/revert.log"
  echo "reverted rc=$rc"
done
exit 0
"""
