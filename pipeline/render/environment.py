"""The Jinja environment: confined, sandboxed, bounded, strict, and refusing config injection.

Templates live in the network repository and are edited by many hands, and CI renders
them with production secrets in its environment. So:

* :class:`ConfinedLoader` reads a template only as a regular file inside its template
  folder, never through a symbolic link and never by a name that leaves the folder
  (``{% include "/proc/self/environ" %}``, ``"../../.git/config"``).
* :class:`BoundedEnvironment` is Jinja's ``SandboxedEnvironment`` (no Python internals)
  with limits on what a template may spend: the size of any one value, ``range`` length,
  loop iterations and calls, call depth, the items a call adds to a container, CPU time,
  memory (:func:`memory_cap`), and the characters a render emits, captured output
  included. A template that exceeds one fails with :class:`TemplateLimit` at its line
  instead of eating the CI runner's memory or time.
* ``StrictUndefined``: a typo in a template is an error, never an empty string.
* Every value printed into a config is checked (:meth:`BoundedEnvironment.printed`): a
  control character or a newline there would let intent data add config lines of its own.

The limits are compiled into the templates (:class:`_BoundedCodeGenerator`), not checked
per piece of output at run time: a render is joined in one go, at plain Jinja's pace.
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import os
import re
import resource
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateError, TemplateNotFound, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Environment
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace, pass_context, pass_environment
from jinja2.visitor import NodeTransformer

from pipeline import design, files
from pipeline.design import Match
from pipeline.findings import excerpt
from pipeline.intent.derive import Port
from pipeline.intent.loader import UNSAFE
from pipeline.secrets import placeholder

MAX_TEMPLATE_BYTES = 256 * 1024
MAX_STRING = 1_000_000        # characters (or items) in any one value a template makes
MAX_RANGE = 10_000            # items of one range()
MAX_WORK = 200_000            # loop iterations plus calls, per rendered file
MAX_CALL_DEPTH = 64           # nested calls (macro recursion)
MAX_OUTPUT = 16_000_000       # characters a rendered file emits, captured output included
MAX_INT_BITS = 4096           # integers a template computes (10**10**10 is refused)
MAX_INCLUDE_DEPTH = 16        # nested include/import (a template including itself)
CLEAN_CACHED = 256            # printed texts up to this long keep their verdict
RENDER_MEMORY = 1 << 30       # address space a render may add to the process's (bytes)
MAX_SECONDS = 5.0             # CPU seconds per rendered file (the example's take 1 ms)
MAX_RUN_SECONDS = 120.0       # CPU seconds of one process's renders of a platform, in all
CLOCK_EVERY = 64              # loop iterations and calls between two looks at the clock
CLOCK_WEIGHT = 1000           # characters or items a filter takes that make it look too
_WIDE_FORMAT = re.compile(r"%[-#0 +]*(?:\*|\d{5,})|%[-#0 +]*\d*\.(?:\*|\d{5,})")
_WIDE_BRACE_FORMAT = re.compile(r"\{[^{}]*:[^{}]*(?:\d{5,}|\{)")


@contextmanager
def memory_cap(extra: int | None = None) -> Iterator[None]:
    """The process's address space held to what it has now plus ``extra`` (default
    :data:`RENDER_MEMORY`) for the duration (the render sets it around each share of
    devices, in whichever process renders it).

    The limits above are checked on values, most of them once a value is made: an
    operation that amplifies its inputs (``'\\t'.expandtabs(n)`` on a long text, a filter
    mapped over a million items) allocates its whole result before any check sees it.
    Capped, that allocation fails with MemoryError, which the render reports at the
    template's line; a legitimate share needs a fraction of the cap (a few MB of configs:
    the whole 5,002-device build peaks at 250 MB)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + (RENDER_MEMORY if extra is None else extra)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:  # already held tighter
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


class InjectionError(ValueError):
    """A value bound for a config contains a control character or a line break."""


class TemplateLimit(SecurityError):
    """A template spent more than netpipe allows (size, iterations, depth, output)."""

    def __init__(self, message: str, lineno: int | None = None,
                 filename: str | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno
        self.filename = filename
        """Set when the limit is found while compiling (the traceback has no template line)."""


class UndeclaredSecret(TemplateError):
    """A template names a secret that intent/network.yaml does not declare."""


class SecretRef(str):
    """A placeholder made by the ``secret`` filter (the only way into a config)."""


class TemplateRefused(TemplateError):
    """A template (or an include) that is not a regular file inside the template folder."""

    def __init__(self, rel: str, reason: str, *, by_name: bool) -> None:
        super().__init__(f"{rel} {reason}")
        self.rel = rel
        self.reason = reason
        self.by_name = by_name
        """True when the name itself leaves the folder: the including line is to blame."""


# --------------------------------------------------------------------------- loading


class ConfinedLoader(BaseLoader):
    """Templates from ``base/folder/<name>``: regular files only, reached without symlinks."""

    def __init__(self, base: Path, folder: str) -> None:
        self.base = base
        self.folder = folder

    def rel(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name

    def get_source(self, environment: Environment, template: str
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            files.parts_of(template)
        except files.Refused:
            raise TemplateRefused(excerpt(template), "leaves the template folder: templates "
                                  "name files beside them", by_name=True) from None
        rel = self.rel(template)
        try:
            raw = files.read_bytes(self.base, rel, MAX_TEMPLATE_BYTES)
        except files.Refused as exc:
            if exc.missing:
                raise TemplateNotFound(template) from None
            raise TemplateRefused(exc.rel, exc.reason, by_name=False) from None
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TemplateRefused(rel, "is not valid UTF-8", by_name=False) from None
        return source, str(self.base / rel), lambda: True

    def list_templates(self) -> list[str]:
        try:
            return files.listdir(self.base, self.folder) if self.folder else []
        except files.Refused:
            return []


# --------------------------------------------------------------------------- the sandbox


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set)) else 0


def _weight(value: Any, limit: int = MAX_STRING) -> int:
    """Characters and items ``value`` holds, nested containers included, counted up to just
    past ``limit``: what printing or joining it would allocate, without allocating it."""
    total, todo = 0, [value]
    while todo and total <= limit:
        item = todo.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            todo.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            todo.extend(item.keys())
            todo.extend(item.values())
    return total


def _records() -> dict[type, frozenset[str]]:
    """The design's records and the fields a template reads on them without a call.

    Each is a frozen dataclass of plain data made by :mod:`pipeline.design`; reading one of
    its fields is what the sandbox allows anyway (a name without ``_`` on an object that is
    no function, method, type, code, frame or generator), so the compiled template reads it
    directly (:meth:`_BoundedCodeGenerator.visit_Getattr`). Anything else (another type, a
    subclass, a name that is no field) takes the sandbox's way."""
    return {kind: frozenset(f.name for f in dataclasses.fields(kind)
                            if not f.name.startswith("_"))
            for kind in vars(design).values()
            if isinstance(kind, type) and dataclasses.is_dataclass(kind)
            and kind.__module__ == design.__name__ and not kind.__name__.startswith("_")}


RECORDS = _records()


class BoundedEnvironment(SandboxedEnvironment):
    """A sandbox that also bounds what a template may spend (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.code_generator_class = _BoundedCodeGenerator
        self.records = RECORDS
        self.safe_attributes: dict[type, dict[str, bool]] = {}
        """is_safe_attribute's verdict per type and attribute: it depends on nothing else
        (SandboxedEnvironment's rule is the name and isinstance checks on the object)."""
        self.clean: set[str] = set()
        """Printed texts found clean (:func:`_finalize`): the same names and addresses are
        printed into every device's config; their verdict does not change."""
        self.max_output = MAX_OUTPUT
        self.work = 0
        self.depth = 0
        self.output = 0
        self.nesting = 0
        self.globals["range"] = self.bounded_range
        self.globals["namespace"] = BoundedNamespace
        # A million paragraphs of lorem ipsum in one call (35 s): no config needs them.
        del self.globals["lipsum"]
        self.deadline = self.run_deadline = 0.0
        self.run_pid = 0  # the process whose renders run_deadline bounds (forks start anew)
        self.filters["netpipe_budget"] = _budget
        self.filters["netpipe_checked"] = _checked_filter
        self.filters["netpipe_nest"] = _nest
        self.filters["netpipe_extend"] = _extend
        for name, func in list(self.filters.items()):
            if not name.startswith("netpipe_"):
                self.filters[name] = _bounded_filter(self, name, func)

    # -- budget

    def start(self) -> None:
        """A fresh budget for one rendered file, within what is left of the process's."""
        self.work = self.depth = self.output = self.nesting = 0
        now, pid = time.process_time(), os.getpid()
        if self.run_pid != pid:
            self.run_pid, self.run_deadline = pid, now + MAX_RUN_SECONDS
        self.deadline = min(now + MAX_SECONDS, self.run_deadline)
        if now > self.deadline:  # a process out of time refuses before it starts
            self.clock()

    def spend(self, amount: int = 1) -> None:
        self.work += amount
        self.settle(self.work - amount)

    def settle(self, before: int) -> None:
        """After work was added to ``before``: refused over the budget, and the clock
        looked at each time the work passes a multiple of :data:`CLOCK_EVERY`."""
        if self.work > MAX_WORK:
            raise TemplateLimit(f"more than {MAX_WORK} loop iterations and calls in one render")
        if self.work // CLOCK_EVERY != before // CLOCK_EVERY:
            self.clock()

    def clock(self) -> None:
        """Within the work budget, a step can still cost a millisecond (a filter over
        10,000 items, a string of a million characters made): the render's CPU time is
        held to :data:`MAX_SECONDS`, looked at every :data:`CLOCK_EVERY` steps."""
        if time.process_time() > self.deadline:
            if self.deadline == self.run_deadline:
                raise TemplateLimit(f"more than {MAX_RUN_SECONDS:g} seconds of CPU time in all "
                                    "renders of this platform in one process")
            raise TemplateLimit(f"more than {MAX_SECONDS:g} seconds of CPU time in one render")

    def emit(self, amount: int) -> None:
        self.output += amount
        if self.output > self.max_output:
            raise TemplateLimit(f"a rendered file over {self.max_output} characters")

    def printed(self, value: Any) -> str:
        """A value a template prints (``{{ ... }}``): checked, counted, made text."""
        text: str
        kind = type(value)
        if kind is str:
            if value not in self.clean:
                _finalize(value)
                if len(value) <= CLEAN_CACHED:
                    self.clean.add(value)
            text = value
        elif kind in _SCALARS:  # as _finalize would pass it, without the call
            text = str(value)
        else:
            text = str(_finalize(value))
        self.output += len(text)
        if self.output > self.max_output:
            self.emit(0)
        return text

    def emitted(self, value: Any) -> Any:
        """What a filter or call block emits (Jinja yields it as it is): counted."""
        self.emit(len(value) if isinstance(value, str) else _weight(value))
        return value

    def bounded_range(self, *args: int) -> range:
        result = range(*args)
        if len(result) > MAX_RANGE:
            raise TemplateLimit(f"range() of {len(result)} items, over {MAX_RANGE}")
        return result

    # -- compile: every loop iteration, concatenation and piece of output is counted

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        try:
            return super()._parse(source, name, filename)
        except RecursionError:
            raise TemplateLimit("an expression nested too deep", _deepest_line(source),
                                filename) from None

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        _Bounds(filename).visit(source)
        return super()._generate(source, name, filename, defer_init)

    # -- run: operators, calls and str.format are checked before they allocate

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_operands(operator, left, right)
        self.clock()  # a million characters made take a millisecond, loop or no loop
        return _checked(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        __self.spend()
        for arg in (*args, *kwargs.values()):
            if _size(arg) > MAX_STRING or (isinstance(arg, int) and arg > MAX_STRING):
                raise TemplateLimit(f"an argument over {MAX_STRING} in a call")
        _check_method(__obj, args)
        __self.depth += 1
        try:
            if __self.depth > MAX_CALL_DEPTH:
                raise TemplateLimit(f"calls nested more than {MAX_CALL_DEPTH} deep")
            result = _checked(super().call(__context, __obj, *args, **kwargs))
        finally:
            __self.depth -= 1
        # A method may grow what it is bound to (list.extend, dict.update) by a whole
        # argument's worth for one unit of work: its receiver is held to the limit too.
        if _size(getattr(__obj, "__self__", None)) > MAX_STRING:
            raise TemplateLimit(f"a container grown past {MAX_STRING} items by a call")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        """The sandbox's attribute access with its verdict cached per type and name.

        A method (where ``str.format`` is caught) or a missing attribute take the
        sandbox's own path every time; a data attribute asks ``is_safe_attribute`` once
        per type, instead of once per access (a third of the render time at scale)."""
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            return super().getattr(obj, attribute)
        if type(value) in _METHOD_TYPES:
            return super().getattr(obj, attribute)
        try:
            if self.safe_attributes[type(obj)][attribute]:
                return value
        except KeyError:
            return self._first_access(obj, attribute, value)
        return self.unsafe_undefined(obj, attribute)

    def _first_access(self, obj: Any, attribute: str, value: Any) -> Any:
        verdicts = self.safe_attributes.setdefault(type(obj), {})
        safe = verdicts[attribute] = self.is_safe_attribute(obj, attribute, value)
        return value if safe else self.unsafe_undefined(obj, attribute)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _WIDE_BRACE_FORMAT.search(value.__self__):
            raise TemplateLimit("a format width or precision of 10000 or more")
        return wrapped

    def render_bounded(self, name: str, **context: Any) -> str:
        """Render template ``name`` within the budget; raises TemplateLimit when over it."""
        self.start()
        text = self.get_template(name).render(**context)
        if len(text) > self.max_output:  # counted as it was made; this only backs that up
            self.emit(len(text))
        return text


def _checked(result: Any) -> Any:
    if _size(result) > MAX_STRING:
        raise TemplateLimit(f"a value of more than {MAX_STRING} characters or items")
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"an integer of more than {MAX_INT_BITS} bits")
    return result


def _check_operands(operator: str, left: Any, right: Any) -> None:
    for value in (left, right):
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise TemplateLimit(f"an integer of more than {MAX_INT_BITS} bits")
    if operator == "*":
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(times, int) and _size(seq) * max(times, 0) > MAX_STRING:
            raise TemplateLimit(f"repetition to more than {MAX_STRING} characters or items")
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        if abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
            raise TemplateLimit(f"a power of more than {MAX_INT_BITS} bits")
    elif operator == "+" and _size(left) + _size(right) > MAX_STRING:
        raise TemplateLimit(f"a concatenation of more than {MAX_STRING} characters or items")
    elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
        raise TemplateLimit("a format width or precision of 10000 or more")


def _check_method(obj: Any, args: tuple[Any, ...]) -> None:
    """Methods that allocate more than their inputs: str.join, str.replace."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str) or not args:
        return
    name = getattr(obj, "__name__", "")
    if name == "join" and isinstance(args[0], (list, tuple)):
        total = len(owner) * len(args[0]) + sum(_size(a) for a in args[0])
        if total > MAX_STRING:
            raise TemplateLimit(f"a join of more than {MAX_STRING} characters")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) \
            and (owner.count(args[0]) + 1) * _size(args[1]) + len(owner) > MAX_STRING:
        raise TemplateLimit(f"a replace of more than {MAX_STRING} characters")


class _Bounds(NodeTransformer):
    """Rewrites a parsed template so that it pays for what it does: loops spend an
    iteration per item, literal text and concatenations are counted and checked."""

    def __init__(self, filename: str | None) -> None:
        self.filename = filename

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            raise TemplateLimit("recursive loops are not allowed in netpipe templates",
                                node.lineno, self.filename)
        self.generic_visit(node)
        node.iter = _filter(node.iter, "netpipe_budget")
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(node, "netpipe_checked")

    def visit_Include(self, node: nodes.Include) -> list[nodes.Node]:
        return self._nested(node)

    def visit_Import(self, node: nodes.Import) -> list[nodes.Node]:
        return self._nested(node)

    def visit_FromImport(self, node: nodes.FromImport) -> list[nodes.Node]:
        return self._nested(node)

    def visit_Extends(self, node: nodes.Extends) -> list[nodes.Node]:
        """Each extends runs the parent with the same context: count them on it."""
        self.generic_visit(node)
        return [nodes.Output([_filter(nodes.Const(1, lineno=node.lineno), "netpipe_extend")],
                             lineno=node.lineno), node]

    def _nested(self, node: nodes.Stmt) -> list[nodes.Node]:
        """Include and import count their nesting (a template including itself would
        otherwise recurse until Python's limit, yielding every line through each level).
        An include always runs with the context: without it Jinja yields the text a first
        run kept, which the output budget would not see again."""
        self.generic_visit(node)
        if isinstance(node, nodes.Include):
            node.with_context = True
        return [nodes.Output([_filter(nodes.Const(1, lineno=node.lineno), "netpipe_nest")],
                             lineno=node.lineno), node,
                nodes.Output([_filter(nodes.Const(-1, lineno=node.lineno), "netpipe_nest")],
                             lineno=node.lineno)]


def _filter(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with the output budget compiled in, so that a render is
    joined in one go instead of counted piece by piece (4.4 million pieces at 5,002
    devices). Every way output reaches a rendered file is counted as it is made:

    * literal text adds its length in one statement before its output statement runs;
    * a printed value goes through :meth:`BoundedEnvironment.printed` (checked, counted
      and made text in one call); constants are never folded into literal text at
      compile time, so they are checked like any value;
    * filter and call blocks, whose result Jinja yields as it is, through
      :meth:`BoundedEnvironment.emitted`;
    * includes, blocks and parent templates yield what their own output statements
      counted (an include always runs with the context: :class:`_Bounds`).

    ``tests/test_sandbox.py`` tries each way against a small budget."""

    def _make_finalize(self) -> CodeGenerator._FinalizeInfo:
        # No folding: Jinja folds a constant through ``const``; with None that call fails
        # and Jinja leaves the value to run time, where printed() sees it (the folding
        # case of tests/test_sandbox.py fails if this stops holding).
        return self._FinalizeInfo(None, None)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        if not (frame.require_output_check and self.has_known_extends):
            cost = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData))
            if cost:  # literal text is never escaped, so its length is what it emits
                self.writeline(f"environment.output += {cost}")
                self.writeline("if environment.output > environment.max_output: "
                               "environment.emit(0)")
        super().visit_Output(node, frame)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame,
                          finalize: CodeGenerator._FinalizeInfo) -> None:
        if isinstance(node, nodes.TemplateData):  # text under a volatile autoescape
            super()._output_child_pre(node, frame, finalize)
            return
        if _escaping(frame):  # escaping makes it longer than printed() counted
            self.write("environment.emitted(")
            super()._output_child_pre(node, frame, finalize)
        self.write("environment.printed(")

    def _output_child_post(self, node: nodes.Expr, frame: Frame,
                           finalize: CodeGenerator._FinalizeInfo) -> None:
        if isinstance(node, nodes.TemplateData):
            super()._output_child_post(node, frame, finalize)
            return
        self.write(")")
        if _escaping(frame):
            super()._output_child_post(node, frame, finalize)
            self.write(")")

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        """``d.name``: read directly where ``d`` is a design record with a field ``name``
        (:func:`_records`), else through the sandbox as Jinja compiles it. Two thirds of
        the attribute reads at 5,002 devices; the render 14% faster without their call."""
        attr = node.attr
        if self.environment.is_async or attr.startswith("_") or not attr.isidentifier() \
                or keyword.iskeyword(attr):
            super().visit_Getattr(node, frame)
            return
        # type(), not .__class__: an object could answer a __class__ of its choosing
        self.write(f"(_ga.{attr} if {attr!r} in environment.records.get(type(_ga := ")
        self.visit(node.node, frame)
        self.write(f"), ()) else environment.getattr(_ga, {attr!r}))")

    def visit_CallBlock(self, node: nodes.CallBlock, frame: Frame) -> None:
        call_frame, macro_ref = self.macro_body(node, frame)  # as Jinja's, result counted
        self.writeline("caller = ")
        self.macro_def(macro_ref, call_frame)
        self.start_write(frame, node)
        self.write("environment.emitted(")
        self.visit_Call(node.call, frame, forward_caller=True)
        self.write(")")
        self.end_write(frame)

    def visit_FilterBlock(self, node: nodes.FilterBlock, frame: Frame) -> None:
        filter_frame = frame.inner()  # as Jinja's, result counted
        filter_frame.symbols.analyze_node(node)
        self.enter_frame(filter_frame)
        self.buffer(filter_frame)
        self.blockvisit(node.body, filter_frame)
        self.start_write(frame, node)
        self.write("environment.emitted(")
        self.visit_Filter(node.filter, filter_frame)
        self.write(")")
        self.end_write(frame)
        self.leave_frame(filter_frame)


def _escaping(frame: Frame) -> bool:
    return bool(frame.eval_ctx.volatile or frame.eval_ctx.autoescape)


def _deepest_line(source: str, limit: int = 100) -> int | None:
    """The line where brackets first nest ``limit`` deep (the parser is recursive)."""
    depth, line = 0, 1
    for char in source:
        if char == "\n":
            line += 1
        elif char in "([{":
            depth += 1
            if depth >= limit:
                return line
        elif char in ")]}":
            depth = max(0, depth - 1)
    return None


class BoundedNamespace(Namespace):
    """``namespace()`` whose attributes are held to the size limit: a loop doubling
    ``ns.s = ns.s ~ ns.s`` stops at the limit, not at the machine's memory."""

    def __setitem__(self, name: str, value: Any) -> None:
        if _weight(value) > MAX_STRING:
            raise TemplateLimit(f"a namespace value of more than {MAX_STRING} characters")
        super().__setitem__(name, value)


@pass_context
def _nest(context: Context, step: int) -> str:
    env = context.environment
    if isinstance(env, BoundedEnvironment):
        env.nesting += step
        if env.nesting > MAX_INCLUDE_DEPTH:
            raise TemplateLimit(f"includes or imports nested more than {MAX_INCLUDE_DEPTH} deep")
    return ""


@pass_context
def _extend(context: Context, step: int) -> str:
    depth = getattr(context, "netpipe_extends", 0) + step
    if depth > MAX_INCLUDE_DEPTH:
        raise TemplateLimit(f"templates extended more than {MAX_INCLUDE_DEPTH} deep")
    context.netpipe_extends = depth  # type: ignore[attr-defined]
    return ""


@pass_context
def _checked_filter(context: Context, value: Any) -> Any:
    return _checked(value)


_FIXED = frozenset({tuple, range, str, frozenset})
"""Iterables whose length is known and cannot change while a loop runs over them (exact
types: a subclass may iterate as it likes). A list can: a call in the loop may extend it."""


@pass_environment
def _budget(env: Environment, iterable: Iterable[Any]) -> Iterable[Any]:
    """What a loop iterates over, its iterations paid for: all at once when their number
    is fixed (the design records hold tuples: no generator step per iteration), else one
    by one as they happen."""
    if type(iterable) in _FIXED and isinstance(env, BoundedEnvironment):
        count = len(iterable)  # type: ignore[arg-type]
        before = env.work  # spend(), inlined: once per loop (125,000 at 5,002 devices)
        env.work += count
        if env.work > MAX_WORK or env.work // CLOCK_EVERY != before // CLOCK_EVERY:
            env.settle(before)
        return _clocked(env, iterable) if count >= CLOCK_EVERY else iterable
    return _paid(env, iterable)


def _clocked(env: BoundedEnvironment, iterable: Iterable[Any]) -> Iterator[Any]:
    """A long loop paid for already: the clock looked at as it runs."""
    for count, item in enumerate(iterable, 1):
        if count % CLOCK_EVERY == 0:
            env.clock()
        yield item


def _paid(env: Environment, iterable: Iterable[Any]) -> Iterator[Any]:
    if not isinstance(env, BoundedEnvironment):
        yield from iterable
        return
    for item in iterable:
        env.work += 1  # spend(), inlined: it runs once per loop iteration
        if env.work > MAX_WORK or env.work % CLOCK_EVERY == 0:
            env.settle(env.work - 1)
        yield item


_AMPLIFYING = {"center", "indent", "wordwrap", "batch", "slice"}
"""Built-in filters whose integer argument sets the size of what they make."""
_STRINGIFYING = {"join", "string", "pprint", "tojson", "format", "replace", "center", "indent",
                 "wordwrap", "truncate", "trim", "upper", "lower", "title", "capitalize",
                 "urlencode", "xmlattr", "escape", "e", "forceescape", "striptags", "safe",
                 "list", "sort", "unique", "reverse", "dictsort", "items", "wordcount"}
"""Filters that walk or print a whole value: their arguments are weighed, nested parts
included (a list of big strings printed is the sum of them)."""


def _bounded_filter(env: BoundedEnvironment, name: str, func: Callable[..., Any]
                    ) -> Callable[..., Any]:
    """A built-in filter whose arguments and result are held to the size limits, and the
    render's clock looked at when one is large (a filter over a million items can take a
    second; one over a few, in a loop, is seen by the loop's clock)."""

    measure = _weight if name in _STRINGIFYING else _size
    amplifying = name in _AMPLIFYING

    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = (*args, *kwargs.values()) if kwargs else args
        items: Any = ()
        for arg in values:
            if type(arg) in _CONTEXTS:  # what pass_context & co. hand in: no data
                continue
            weight = measure(arg)
            if weight > MAX_STRING:
                raise TemplateLimit(f"filter {name}: an argument over {MAX_STRING} characters "
                                    "or items")
            if weight > CLOCK_WEIGHT:  # a filter over a small value is no time to look
                env.clock()
            if amplifying and isinstance(arg, int) and abs(arg) > MAX_RANGE:
                raise TemplateLimit(f"filter {name}: a size argument over {MAX_RANGE}")
            if not items and isinstance(arg, (list, tuple)):
                items, items_weight = arg, weight
        texts = [a for a in values if isinstance(a, str)]
        if name == "format" and texts and _WIDE_FORMAT.search(texts[0]):
            raise TemplateLimit("a format width or precision of 10000 or more")
        if name == "join" and items:
            separator = texts[0] if texts else ""
            if len(separator) * len(items) + items_weight > MAX_STRING:
                raise TemplateLimit(f"a join of more than {MAX_STRING} characters")
        if name == "replace" and len(texts) >= 3:
            text, old, new = texts[:3]
            if (text.count(old) + 1) * len(new) + len(text) > MAX_STRING:
                raise TemplateLimit(f"a replace of more than {MAX_STRING} characters")
        return _checked(func(*args, **kwargs))

    for attr in ("jinja_pass_arg", "__name__", "__doc__"):  # keep pass_context & co.
        if hasattr(func, attr):
            setattr(bounded, attr, getattr(func, attr))
    return bounded


# --------------------------------------------------------------------------- filters


_CONTEXTS = frozenset({nodes.EvalContext, Context})
"""What Jinja passes a filter marked pass_eval_context or pass_context."""
_METHOD_TYPES = frozenset({types.MethodType, types.BuiltinMethodType})
"""Bound methods (neither type can be subclassed, so the exact type says it)."""
_SCALARS = frozenset({int, float, bool, type(None), IPv4Address, IPv4Network, IPv4Interface})
"""Printed values that hold no text of their own: nothing in them to check or weigh."""


def _finalize(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if type(value) is str:  # the common case, checked in the order below without the walk
        if UNSAFE.search(value):
            raise InjectionError("refusing to render a value with a control character: "
                                 f"{excerpt(value)}")
        if "<secret:" in value:
            raise InjectionError("a secret placeholder may only come from the secret "
                                 f"filter: {excerpt(value)}")
        if len(value) > MAX_STRING:
            raise TemplateLimit(f"a printed value of more than {MAX_STRING} characters")
        return value
    if isinstance(value, str) and UNSAFE.search(value):
        raise InjectionError("refusing to render a value with a control character: "
                             f"{excerpt(value)}")
    if isinstance(value, str) and "<secret:" in value and not isinstance(value, SecretRef):
        raise InjectionError("a secret placeholder may only come from the secret filter: "
                             f"{excerpt(value)}")
    if _weight(value) > MAX_STRING:
        raise TemplateLimit(f"a printed value of more than {MAX_STRING} characters")
    return value


def ospf_area(area: int) -> str:
    """FRR and IOS both accept the dotted form; areas print as 0.0.0.1, not 1."""
    return str(IPv4Address(area))


def nft_match(match: Match, direction: str) -> str:
    if match.outside:
        return f"ip {direction} != @internal "
    if match.set_name:
        return f"ip {direction} @{match.set_name} "
    return f"ip {direction} {{ {', '.join(str(p) for p in match.prefixes)} }} "


def nft_port(port: Port) -> str:
    if port.proto == "any":
        return ""
    if port.proto == "icmp":
        return "icmp type echo-request "
    return f"{port.proto} dport {port.ports} "


def nft_ports(ports: Iterable[Port]) -> list[str]:
    """One match per protocol: ``tcp dport { 80, 443 }``; ``any`` makes it one empty match."""
    by_proto: dict[str, list[str]] = defaultdict(list)
    for port in ports:
        if port.proto == "any":
            return [""]
        if port.ports not in by_proto[port.proto]:
            by_proto[port.proto].append(port.ports)
    result = []
    for proto, values in by_proto.items():
        if proto == "icmp":
            result.append("icmp type echo-request ")
        elif len(values) == 1:
            result.append(f"{proto} dport {values[0]} ")
        else:
            result.append(f"{proto} dport {{ {', '.join(values)} }} ")
    return result


def nft_range(pool: tuple[Any, Any]) -> str:
    """A source NAT pool: one address, or ``first-last``."""
    first, last = pool
    return str(first) if first == last else f"{first}-{last}"


_MAKO = re.compile(r"\$|<%|%>|\\")


def ifupdown_text(value: Any) -> str:
    """Free text for /etc/network/interfaces. ifupdown2 reads that file as a Mako template when
    python3-mako is installed, so ``${...}`` or ``<% %>`` in a description would run as Python
    on the router: refused, like a backslash (a continuation line)."""
    text = str(value)
    if _MAKO.search(text):
        raise InjectionError("refusing text with '$', '<%', '%>' or a backslash in an "
                             f"interfaces file (ifupdown2 may read it as a template): "
                             f"{excerpt(text)}")
    return text


def secret_filter(declared: Mapping[str, str]) -> Callable[[Any], SecretRef]:
    """``{{ name | secret }}``: the placeholder of a declared secret, nothing else."""

    def secret(name: Any) -> SecretRef:
        if not isinstance(name, str) or name not in declared:
            raise UndeclaredSecret(f"secret {excerpt(name)} is not declared under secrets: in "
                                   "intent/network.yaml")
        return SecretRef(placeholder(name))

    return secret


def environment(loader: ConfinedLoader,
                declared: Mapping[str, str] | None = None) -> BoundedEnvironment:
    """The environment for one template folder; ``declared``: the secrets it may name."""
    env = BoundedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=False,
    )
    env.filters.update(secret=secret_filter(declared or {}), **TEXT_FILTERS)
    return env


# The filters templates use besides `secret`: pure functions of their value, shared with the
# benchmark's plain-Jinja floor so both render the same templates.
TEXT_FILTERS: dict[str, Callable[..., Any]] = {
    "ospf_area": ospf_area, "nft_match": nft_match, "nft_port": nft_port,
    "nft_ports": nft_ports, "nft_range": nft_range, "ifupdown_text": ifupdown_text,
}
