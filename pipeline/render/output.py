"""Where ``netpipe render`` writes: ``out/<host>/<file>`` in a folder that is netpipe's
own (pipeline.owned), swapped in whole; a render that fails leaves the previous one in
place and marks it stale.
"""

from __future__ import annotations

from pathlib import Path

from pipeline import owned
from pipeline.render.render import Rendered

MARKER = ".netpipe-render"
STALE = "_STALE"
"""The notes beside the hosts' folders start with "_", which no host name can (NAME_PATTERN)."""
UNLINTED = "_UNLINTED"
OutputRefused = owned.OutputRefused


def check(out: Path, root: Path) -> None:
    """Raises OutputRefused unless ``out`` is missing, empty, or an earlier render."""
    owned.check(out, root, MARKER)


def write(rendered: dict[str, Rendered], out: Path, *, linted: bool = True
          ) -> dict[str, dict[str, Path]]:
    """Write ``out/<host>/<file>`` beside ``out``, then swap it in (``check`` first); an
    output that was not linted says so in ``UNLINTED`` (gone with the next render)."""
    files = {f"{host}/{name}": text for host, item in rendered.items()
             for name, text in item.files.items()}
    if not linted:
        files[UNLINTED] = ("These configs were rendered with --no-lint: not linted (vtysh, "
                           "nft, ifupdown2, the IOS checks). Run netpipe validate before "
                           "relying on them; deploy always lints.\n")
    owned.replace(out, files, MARKER, "netpipe render output: replaced as a whole by every "
                  "render; edit the intent, not these files\n")
    return {host: {name: out / host / name for name in item.files}
            for host, item in sorted(rendered.items())}


def mark_stale(out: Path, why: str) -> bool:
    """Mark an earlier render in ``out`` as stale; False when there is none to mark."""
    if out.is_symlink() or not (out / MARKER).is_file():
        return False
    (out / STALE).write_text(f"These configs are stale: {why}. They are from an earlier "
                             "render; do not deploy them.\n", encoding="utf-8")
    return True
