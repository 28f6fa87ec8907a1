"""The code's shape: no import cycle among lakeprobe/, plugins/ and suites/, counting the imports inside
functions too (a cycle hidden in a function still ties the modules together)."""

import ast

from tests.helpers import REPO

PACKAGES = ("lakeprobe", "plugins")


def _imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            names = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module)
                    names.update(f"{node.module}.{a.name}" for a in node.names)
                elif isinstance(node, ast.Import):
                    names.update(a.name for a in node.names)
            found[module] = names
    return {m: {n for n in names if n in found and n != m} for m, names in found.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                return path[path.index(other) :] + [other]
            if other not in state and (found := visit(other)):
                return found
        path.pop()
        state[module] = 2
        return []

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return []


def test_no_import_cycle():
    graph = _imports()
    assert "plugins.run" in graph and graph["plugins.run"] <= {m for m in graph if m.startswith("lakeprobe")}
    assert _cycle(graph) == [], " -> ".join(_cycle(graph))


def test_the_walk_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_lab_fault_help_names_every_fault_kind():
    """The CLI spells the kinds out (importing the lab to list them would slow every command): they must not
    drift from lab/faults.py's."""
    from lab.faults import KINDS
    from lakeprobe.cli import _parser

    lab = next(a for a in _parser()._subparsers._group_actions[0].choices["lab"]._subparsers._group_actions)
    fault_help = next(a.help for a in lab.choices["fault"]._actions if a.dest == "kind")
    named = {word.strip(",;()") for word in fault_help.replace(" or ", " ").split()}
    assert set(KINDS) - named == set()
