"""The package's layering holds: libraries never import the run or serving layers, the
pipeline never imports serve, no import cycles, no file over 400 lines, a public ``__all__``."""

from __future__ import annotations

import ast
from pathlib import Path

import forecaster

PKG = Path(forecaster.__file__).parent
LIBRARIES = ("sim", "data", "models", "anomaly", "explain")
MAX_LINES = 400


def _module(p: Path) -> str:
    parts = ["forecaster", *p.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(p: Path) -> set[str]:
    """Modules of this package that ``p`` imports (relative imports resolved)."""
    mod = _module(p)
    pkg = mod.split(".") if p.name == "__init__.py" else mod.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("forecaster")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            if base.startswith("forecaster"):
                out |= {base} | {f"{base}.{a.name}" for a in node.names}
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for mod, p in files.items():
        targets = set()
        for t in _imports(p):
            while t and t not in files:
                t = t.rpartition(".")[0]
            if t and t != mod and files[t].name != "__init__.py":
                targets.add(t)
        graph[mod] = targets
    return graph


def _layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_libraries_never_import_pipeline_or_serve():
    bad = [
        f"{m} -> {t}"
        for m, ts in _graph().items()
        if _layer(m) in LIBRARIES
        for t in ts
        if _layer(t) in ("pipeline", "serve")
    ]
    assert not bad


def test_pipeline_never_imports_serve():
    bad = [
        f"{m} -> {t}"
        for m, ts in _graph().items()
        if _layer(m) == "pipeline"
        for t in ts
        if _layer(t) == "serve"
    ]
    assert not bad


def test_no_import_cycles():
    graph, state, cycles = _graph(), {}, []

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for t in graph.get(n, ()):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [n])
    assert not cycles


def test_no_file_over_the_size_limit():
    big = {
        str(p.relative_to(PKG)): n
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big


def test_public_api_resolves_every_name_in_all():
    assert "__version__" in forecaster.__all__
    for name in forecaster.__all__:
        assert getattr(forecaster, name) is not None, name
