"""The package layout's rules, read from the source (AST), not by importing it.

ARCHITECTURE.md draws the layers. These tests keep them:

* ``otp`` never imports ``channels``;
* in ``channels``, imports flow one way, down the layers: protocol and http (sans-IO and
  HTTP glue) < token < pubsub < presence, transports < channel < endpoint < ops < the public
  modules (``channels`` itself, ``channels.testing``, ``channels.observer``, ``channels.cli``);
  in particular transports, pubsub, presence, http and protocol never import the channel
  layer (nor the endpoint, nor the operator tools);
* ``channels.protocol`` does no I/O: it imports neither trio nor sockets (nor the runtime);
* there is no import cycle among the modules of ``otp`` and of ``channels`` (imports at
  module level, ``if TYPE_CHECKING:`` blocks included; imports inside functions are lazy
  and are not part of a cycle, but they do count for the layers).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("otp", "channels")

#: Rank of each part of ``channels``: a module may import its own part, or a part of lower rank.
RANKS = {
    "channels.protocol": 0,
    "channels.http": 0,
    # In-process events (Phoenix's :telemetry): emitted from every layer, imports nothing of ours.
    "channels.telemetry": 0,
    "channels.token": 1,
    # The Python client: the protocol on trio-websocket, nothing of the server.
    "channels.client": 1,
    "channels.pubsub": 2,
    "channels.presence": 3,
    "channels.transports": 3,
    "channels.channel": 4,
    "channels.endpoint": 5,
    "channels.ops": 6,
    # Publishing from other processes: the pubsub envelope over redis-py or our Redis client.
    "channels.emitter": 6,
    # The public face: the package's __init__ re-exports everything.
    "channels": 7,
    "channels.cli": 7,
    "channels.observer": 7,
    "channels.testing": 7,
    # ``python -m channels``: runs ``channels.cli``.
    "channels.__main__": 8,
}

#: Modules whose import means I/O (or the actor runtime, which is built on trio).
IO_MODULES = {"trio", "trio_websocket", "socket", "ssl", "select", "selectors", "asyncio", "otp"}


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    imported: str
    line: int
    module_level: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _walk(tree: ast.AST, module_level: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, module_level
        inner = module_level and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from _walk(node, inner)


def _imports_of(name: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node, module_level in _walk(tree, True):
        if isinstance(node, ast.Import):
            found.extend(Import(name, alias.name, node.lineno, module_level) for alias in node.names)
            continue
        source = _resolve(name, is_package, node.level, node.module)
        for alias in node.names:
            # ``from pkg import sub`` imports the submodule ``pkg.sub``; otherwise a name of ``pkg``.
            target = f"{source}.{alias.name}"
            found.append(Import(name, target if target in MODULES else source, node.lineno, module_level))
    return found


IMPORTS = [imp for name, path in MODULES.items() for imp in _imports_of(name, path)]


def _part(module: str) -> str | None:
    """The entry of RANKS a module of ``channels`` belongs to (the longest matching prefix)."""
    best = None
    for part in RANKS:
        # ``channels`` itself is only the package's ``__init__``: a flat ``channels._x`` has no layer.
        inside = module == part or (part != "channels" and module.startswith(part + "."))
        if inside and (best is None or len(part) > len(best)):
            best = part
    return best


def _where(imp: Import) -> str:
    return f"{MODULES[imp.importer].relative_to(ROOT)}:{imp.line}: {imp.importer} imports {imp.imported}"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_every_module_of_channels_belongs_to_a_layer() -> None:
    unplaced = [name for name in MODULES if _within(name, "channels") and _part(name) is None]
    assert unplaced == []


def test_otp_never_imports_channels() -> None:
    bad = [_where(i) for i in IMPORTS if _within(i.importer, "otp") and _within(i.imported, "channels")]
    assert bad == []


def test_channels_imports_flow_down_the_layers_only() -> None:
    bad = []
    for imp in IMPORTS:
        if not (_within(imp.importer, "channels") and _within(imp.imported, "channels")):
            continue
        src, dst = _part(imp.importer), _part(imp.imported)
        if src is None or dst is None:
            bad.append(_where(imp) + " (outside every layer)")
        elif src != dst and RANKS[dst] >= RANKS[src]:
            bad.append(_where(imp))
    assert bad == []


def test_transports_pubsub_presence_http_and_protocol_never_import_the_channel_layer() -> None:
    lower = ("channels.transports", "channels.pubsub", "channels.presence", "channels.http", "channels.protocol")
    upper = ("channels.channel", "channels.endpoint", "channels.ops")
    bad = [
        _where(i) for i in IMPORTS
        if any(_within(i.importer, p) for p in lower)
        and (i.imported == "channels" or any(_within(i.imported, p) for p in upper))
    ]
    assert bad == []


def test_protocol_does_no_io_imports() -> None:
    bad = [
        _where(i) for i in IMPORTS
        if _within(i.importer, "channels.protocol") and i.imported.split(".")[0] in IO_MODULES
    ]
    assert bad == []


def _cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for imp in IMPORTS:
        if imp.module_level and imp.imported in MODULES and imp.imported != imp.importer:
            graph[imp.importer].add(imp.imported)
    # Tarjan's strongly connected components; every component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_in_otp_or_channels() -> None:
    assert _cycles() == []


def test_the_checker_sees_relative_imports_type_checking_blocks_and_submodules() -> None:
    # A test that cannot fail is a defect: the parser must see the imports the rules are about.
    tree_imports = {(i.importer, i.imported, i.module_level) for i in IMPORTS}
    assert ("channels.transports._websocket", "channels.transports._writer", True) in tree_imports
    assert ("channels.transports._longpoll", "channels.token", True) in tree_imports
    assert ("channels", "channels.channel", True) in tree_imports
    code = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._b import B\n"
            "def f():\n    from ._c import C\n")
    tree = ast.parse(code)
    seen = [(node.module, level) for node, level in _walk(tree, True) if isinstance(node, ast.ImportFrom)]
    assert seen == [("typing", True), ("_b", True), ("_c", False)]
