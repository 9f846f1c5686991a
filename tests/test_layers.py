"""The package's layering: no import cycle anywhere (TYPE_CHECKING and function-level imports count).

import-linter's contracts in pyproject.toml (run by .ci/run) check the layers and cycles between
siblings; this test also covers a package's ``__init__`` taking part in a cycle with its own modules,
which sibling contracts do not see.
"""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_the_package_has_no_import_cycle():
    graph = grimp.build_graph("realtime_nb", include_external_packages=False)
    assert _cycles(graph) == []


def test_the_cycle_check_sees_a_cycle():
    graph = grimp.build_graph("realtime_nb", include_external_packages=False)
    graph.add_import(importer="realtime_nb.protocol.codec", imported="realtime_nb.protocol.reducer")
    assert any({"realtime_nb.protocol.codec", "realtime_nb.protocol.reducer"} <= set(c) for c in _cycles(graph))
