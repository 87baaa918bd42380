"""The folders are the architecture: imports go one way, and nothing imports in a circle.

Run alone with `pytest tests/test_architecture.py`; it reads the source with `ast` and never
imports the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kefu_mentor"
# Lower layers never import higher ones; `app` and `tools` sit side by side and ignore each other.
LAYERS = {"": 0, "pipeline": 1, "modes": 2, "app": 3, "tools": 3}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The kefu_mentor modules `path` imports (at any depth of the file, lazy imports included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "kefu_mentor":
                continue
            for alias in node.names:  # `from . import index` names a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "kefu_mentor"}
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative / "__init__.py").exists()


def layer(module: str) -> int:
    parts = module.split(".")
    sub = parts[1] if len(parts) > 2 else ""
    return LAYERS[sub]


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_subpackage_has_a_layer():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(LAYERS) - {""}


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    upward = []
    for module, targets in edges.items():
        if module == "kefu_mentor":
            continue  # the package root re-exports the public API
        for target in targets:
            if target == "kefu_mentor":
                upward.append(f"{module} → the package root")
            elif layer(target) > layer(module) or (
                layer(target) == layer(module) == 3 and target.split(".")[1] != module.split(".")[1]
            ):
                upward.append(f"{module} → {target}")
    return sorted(upward)


def find_cycles(edges: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if target == node or target not in edges:
                continue
            if state.get(target) == 1:
                cycles.append(" → ".join(path[path.index(target) :] + [target]))
            elif state.get(target) is None:
                visit(target, path + [target])
        state[node] = 2

    for module in sorted(edges):
        if state.get(module) is None:
            visit(module, [module])
    return cycles


def test_imports_only_go_down():
    upward = upward_imports(graph())
    assert not upward, "imports that go up or sideways:\n" + "\n".join(upward)


def test_nothing_imports_the_app_shell():
    users = [m for m, targets in graph().items() if "kefu_mentor.app.shell" in targets]
    assert users == []


def test_the_import_graph_has_no_cycle():
    cycles = find_cycles(graph())
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checks_can_fail():
    # What the layout used to have: ui ↔ ui_modes in a circle, and a pipeline module reaching up.
    edges = {
        "kefu_mentor.app.ui": {"kefu_mentor.app.ui_modes"},
        "kefu_mentor.app.ui_modes": {"kefu_mentor.app.ui"},
        "kefu_mentor.pipeline.answer": {"kefu_mentor.modes.quiz", "kefu_mentor.schema"},
        "kefu_mentor.tools.cli": {"kefu_mentor.app.chat_tab"},
    }
    assert find_cycles(edges) == ["kefu_mentor.app.ui → kefu_mentor.app.ui_modes → kefu_mentor.app.ui"]
    assert upward_imports(edges) == [
        "kefu_mentor.pipeline.answer → kefu_mentor.modes.quiz",
        "kefu_mentor.tools.cli → kefu_mentor.app.chat_tab",
    ]
    assert "kefu_mentor.pipeline.text" in imports(PACKAGE / "pipeline" / "retrieval.py")
