"""Issue 13, item 5: the modules of ``otp`` import each other without cycles.

Every relative import counts, the ones inside functions too (a lazy import is still a
cycle: it only hides it from the interpreter until the function runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

OTP = Path(__file__).resolve().parents[2] / "otp"


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("otp."):
            out.add(node.module.split(".")[1])
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(mod: str) -> list[str] | None:
        state[mod] = 1
        stack.append(mod)
        for dep in sorted(graph.get(mod, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in state and (found := visit(dep)) is not None:
                return found
        stack.pop()
        state[mod] = 2
        return None

    for mod in sorted(graph):
        if mod not in state and (found := visit(mod)) is not None:
            return found
    return None


def test_otp_modules_import_each_other_without_cycles() -> None:
    graph = {p.stem: _imports(p) - {p.stem} for p in OTP.glob("_*.py")}
    assert "_child_spec" in graph["_gen_server"]  # GenServer.child_spec builds specs from there
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
