"""labkit's layout rules, checked on the source (DESIGN.md "labkit, by responsibility").

* no import cycle between labkit modules (function-level imports included);
* concept modules never import a chapter module (``labkit.chapters.*``);
* chapter modules never import each other;
* ``labkit.exercises`` depends on ``labkit.env`` only;
* nobody imports a ``_private`` name from another package;
* no module over 500 lines, except ``nn.py`` and the exercise registries.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "labkit"
MAX_LINES = 500
EXEMPT_FROM_SIZE = {"labkit.nn"}  # plus the exercise registries, see _is_registry


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, str | None]]:
    """(imported labkit module, imported name or None) for every import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.startswith("labkit")]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            if not target.startswith("labkit"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub, None) if sub in MODULES else (target, alias.name))
    return found


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, _ in _imports(module):
            while target and target not in MODULES:  # `import labkit.x.y` of a name
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _chapter_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "chapters" else None


def _top_package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_checker_sees_the_package() -> None:
    assert {"labkit", "labkit.nn", "labkit._util", "labkit.evaluate"} <= set(MODULES)
    assert "labkit.nn" in _edges()["labkit.models"] or any(
        "labkit.nn" in targets for m, targets in _edges().items() if m.startswith("labkit.models")
    )


def test_no_import_cycles() -> None:
    assert _cycles(_edges()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_concept_modules_never_import_chapter_modules() -> None:
    bad = [
        (m, t)
        for m, targets in _edges().items()
        if _chapter_of(m) is None and m != "labkit.chapters"
        for t in targets
        if _chapter_of(t) is not None
    ]
    assert bad == []


def test_chapter_modules_never_import_each_other() -> None:
    bad = [
        (m, t)
        for m, targets in _edges().items()
        for t in targets
        if _chapter_of(m) and _chapter_of(t) and _chapter_of(m) != _chapter_of(t)
    ]
    assert bad == []


def test_exercises_depend_on_env_only() -> None:
    bad = [
        (m, t)
        for m, targets in _edges().items()
        if m.startswith("labkit.exercises")
        for t in targets
        if not t.startswith("labkit.exercises") and t not in {"labkit.env", "labkit"}
    ]
    assert bad == []


def test_no_private_names_imported_from_another_package() -> None:
    bad = [
        (m, f"{target}.{name}")
        for m in MODULES
        for target, name in _imports(m)
        if name
        and name.startswith("_")
        and not name.startswith("__")
        and _top_package(target) != _top_package(m)
    ]
    assert bad == []


def _is_registry(module: str) -> bool:
    parts = module.split(".")
    framework = {"core", "compare", "display", "progress", "aliases", "cases", "runner", "registry"}
    return len(parts) == 3 and parts[1] == "exercises" and parts[2] not in framework


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module: str) -> None:
    if module in EXEMPT_FROM_SIZE or _is_registry(module):
        return
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by concept (≤ {MAX_LINES})"


def test_every_module_names_its_chapter() -> None:
    missing = []
    for module, path in MODULES.items():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if "chapter" not in doc.lower():
            missing.append(module)
    assert missing == []
