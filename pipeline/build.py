"""The offline pipeline as one call: intent -> check -> design -> render -> lint.

A flat public API in the spirit of pyavd: ``build(root)`` gives everything the
change stage needs, or findings and nothing else. Later stages never run on
intent that has errors.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import pool
from pipeline.design import Device, design
from pipeline.findings import Finding, has_errors, sorted_findings
from pipeline.intent.parse import Intent, parse
from pipeline.intent.rules import check
from pipeline.render.cache import Cache
from pipeline.render.lint import lint
from pipeline.render.render import Rendered, render


@dataclass
class Build:
    intent: Intent | None = None
    devices: dict[str, Device] = field(default_factory=dict)
    rendered: dict[str, Rendered] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    reused: int = 0
    """Devices whose configs came from build/cache (unchanged inputs): not rendered, not
    linted again."""

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)


GC_THRESHOLD = (100_000, 50, 1000)
"""A build allocates millions of objects that live until it ends (values, marks, models,
device records) and almost no cycles: at the default thresholds (700, 10, 10) the
collector traverses that growing heap again and again, half of the CPU time at 5,002
devices. A larger first generation still collects young cycles; the heap is full-collected
far less often. Peak RSS was the same (279 MB)."""


@contextmanager
def batch_gc() -> Iterator[None]:
    """Collect garbage at :data:`GC_THRESHOLD` for the duration (the old ones after)."""
    old = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)


@contextmanager
def _uncollected() -> Iterator[None]:
    """The collector off while the intent is read and designed, then what that made frozen.

    Those phases make the data the whole build keeps and no garbage cycles (the loader's
    node graphs, the models and the device records are freed by reference counts): each
    collection there traversed objects that all survived, 10 of them at 5,002 devices in
    the critical path (0.13 s). Frozen, they are skipped by the render's collections (and
    its forked workers'); :func:`build` thaws them at its end. Where a caller froze objects
    itself nothing is frozen here: a thaw would give back the caller's too."""
    enabled, freeze = gc.isenabled(), gc.get_freeze_count() == 0
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def build(root: Path, *, run_lint: bool = True, out_prefix: str = "build/configs",
          incremental: bool = False, texts: bool = True) -> Build:
    """``incremental``: reuse build/cache for devices whose inputs did not change
    (:mod:`pipeline.render.cache`) and keep what this build renders and lints clean.
    ``texts=False`` (a verdict only, as ``validate`` needs): the configs of unchanged
    devices are not read back, so ``rendered`` holds only what this build rendered."""
    thaw = gc.get_freeze_count() == 0  # see _uncollected
    try:
        with batch_gc():
            return _build(root, run_lint, out_prefix, incremental, texts)
    finally:
        if thaw:
            gc.unfreeze()


def _build(root: Path, run_lint: bool, out_prefix: str, incremental: bool,
           texts: bool) -> Build:
    with ExitStack() as uncollected:
        uncollected.enter_context(_uncollected())
        return _stages(root, run_lint, out_prefix, incremental, texts, uncollected)


def _stages(root: Path, run_lint: bool, out_prefix: str, incremental: bool, texts: bool,
            uncollected: ExitStack) -> Build:
    result = Build()
    store = Cache.open(root) if incremental else None
    intent, findings = parse(root, store)
    result.findings = findings
    if intent is None:
        result.findings = sorted_findings(findings)
        return result
    result.intent = intent
    rules = pool.alongside(lambda: check(intent), len(intent.hosts))
    declared = intent.network.secrets
    found: list[Finding] | None = None
    try:
        result.devices = design(intent)
        keys = store.keys(result.devices, declared) if store else {}
        kept: Mapping[str, Rendered | None] = {}
        if store is not None:
            kept = store.load(keys) if texts else dict.fromkeys(store.clean(keys))
        todo = {h: d for h, d in result.devices.items() if h not in kept}
        uncollected.close()  # the render makes garbage cycles (Jinja's contexts)
        if not rules.done() or not has_errors(rules()):
            # The render starts while the rules may still run: their child ends during it
            # (5,002 devices: the build 1.85-1.92 s -> 1.76-1.77 s); dropped if they refuse.
            rendered, render_findings = render(todo, root, declared)
            if run_lint and not render_findings and not rules.done() \
                    and len(todo) < pool.MIN_ITEMS:
                # After one VLAN, the lint of the two devices it changed costs what the
                # rules do: meanwhile too. A large lint (seconds) waits for their verdict.
                found = lint(rendered, out_prefix)
    except Exception:
        # Designed and rendered beside the rules (a big estate on two cores), so possibly
        # from intent the rules refuse: their findings are the answer, not this error.
        if has_errors(rules()):
            result.findings = sorted_findings(findings + rules())
            result.devices = {}
            return result
        raise
    findings += rules()
    if has_errors(findings):
        result.findings = sorted_findings(findings)
        result.devices = {}
        return result
    findings += render_findings
    if not has_errors(render_findings):
        result.rendered = {h: kept.get(h) or rendered[h] for h in result.devices
                           if kept.get(h) or h in rendered}
        result.reused = len(kept)
        if run_lint:
            if found is None:
                found = lint(rendered, out_prefix)
            findings += found
            if store is not None and not render_findings:  # keep only what is clean
                flagged = {f.file.removeprefix(f"{out_prefix}/").split("/")[0]
                           for f in found}
                store.save([r for h, r in rendered.items() if h not in flagged], keys)
    result.findings = sorted_findings(findings)
    if not result.ok:
        result.rendered = {}
    return result
