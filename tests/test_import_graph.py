"""The package's import graph (issue 18): no cycles, only the ingest stage imports the formats, a small root.

Imports are read from the source with ``ast`` (nothing is imported), including the lazy ones
inside functions: a cycle closed by a lazy import still couples the modules both ways. An import
of a package's ``__init__`` that the importer does not name (Python runs a parent package's
``__init__`` before any submodule) is not an edge: stage ``__init__`` files hold only docstrings.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "forensics"
ROOT_MODULES_MAX = 5


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports (``from a import b`` names module ``a.b`` when it is one)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    mods = modules(package)
    return {name: imports(path, name, set(mods)) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def without_root(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The package root (``forensics/__init__.py``) re-exports the notebook API: everything imports
    it implicitly and it imports the stages, by design; a module naming it explicitly is still an edge
    out of that module, so ``from forensics import x`` for a root-level name is caught by the layout
    test below, not here."""
    return {k: v - {"forensics"} for k, v in edges.items() if k != "forensics"}


def test_no_import_cycles() -> None:
    found = cycles(without_root(graph()))
    assert found == [], f"import cycles among forensics modules: {found}"


def test_no_module_imports_the_package_root() -> None:
    """``from forensics import custody`` would hide a module's real home; library modules name it."""
    offenders = sorted(k for k, v in graph().items() if "forensics" in v and k != "forensics")
    assert offenders == []


def test_only_the_ingest_stage_imports_formats() -> None:
    allowed = ("forensics.ingest", "forensics.formats")
    offenders = {
        name: sorted(m for m in deps if m == "forensics.formats" or m.startswith("forensics.formats."))
        for name, deps in graph().items()
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_package_root_is_small() -> None:
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= ROOT_MODULES_MAX, root
    assert {"__init__.py", "__main__.py", "cli.py", "errors.py"} <= set(root)


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The same functions on a made-up package with a lazy cycle and a stray formats import."""
    pkg = tmp_path / "forensics"
    for rel, text in {
        "__init__.py": "",
        "store/__init__.py": "",
        "store/case.py": "def f():\n    from forensics.ingest.lines import x\n",
        "ingest/__init__.py": "",
        "ingest/lines.py": "from forensics.store.case import f\nfrom forensics import formats\nx = 1\n",
        "formats/__init__.py": "",
        "derive/__init__.py": "",
        "derive/routes.py": "from forensics.formats import sqltext\n",
        "formats/sqltext.py": "",
    }.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    edges = graph(pkg)
    assert cycles(without_root(edges)) == [["forensics.ingest.lines", "forensics.store.case"]]
    assert edges["forensics.derive.routes"] == {"forensics.formats.sqltext"}
    assert edges["forensics.ingest.lines"] == {"forensics.store.case", "forensics.formats"}


# The stages in data order: a module may import its own stage and those before it, not after.
STAGES = ("errors", "store", "formats", "ingest", "derive", "detectors", "assess", "publish", "simulate")
UPWARD_ALLOWED = {
    # Case.raw_lines (the notebook's case.raw_lines(...)) reads evidence lines: a lazy import
    ("forensics.store.case", "forensics.ingest.excerpts"),
    # ingest words its --tz refusal with the window parser's message
    ("forensics.ingest.run", "forensics.assess.window"),
}


def stage(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else None


def test_stages_import_downwards_only() -> None:
    upward = sorted(
        (name, dep)
        for name, deps in graph().items()
        for dep in deps
        if stage(name) is not None and stage(dep) is not None and stage(dep) > stage(name)  # type: ignore[operator]
    )
    assert set(upward) == UPWARD_ALLOWED, upward
