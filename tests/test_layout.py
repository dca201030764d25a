"""The package's layout is its architecture: dependencies point one way and never in a circle."""

from __future__ import annotations

import ast

from tests.conftest import REPO

PACKAGE = REPO / "dreamer"
# Each package may import only the ones listed (and itself); ``command`` is on top of everything.
ALLOWED = {
    "files": {"errors", "quiet"},
    "engine": {"errors", "quiet", "files"},
    "photos": {"errors", "quiet", "files", "engine"},
    "motion": {"errors", "quiet", "files", "engine", "photos"},
    "explore": {"errors", "quiet", "files", "engine", "photos", "motion"},
    "watch": {"errors", "quiet", "files", "engine"},
}
# The data side never imports the model (nor the model the data side).
DATA_SIDE = ("photos", "motion", "explore")
MODEL = "dreamer.engine.module"


def imports() -> dict[str, set[str]]:
    """Every module of the package → the dreamer modules it imports (also inside functions)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dreamer"):
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name.startswith("dreamer"))
        found[name] = targets
    modules = set(found)
    return {name: {target for target in targets if target in modules} for name, targets in found.items()}


def package_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_packages_import_only_what_lies_below_them():
    wrong = [
        f"{module} imports {target}"
        for module, targets in imports().items()
        for target in targets
        if package_of(module) in ALLOWED
        and package_of(target) not in ALLOWED[package_of(module)] | {package_of(module), ""}
    ]
    assert not wrong, wrong


def test_only_the_command_line_dispatch_imports_the_page():
    wrong = [
        f"{module} imports {target}"
        for module, targets in imports().items()
        for target in targets
        if package_of(target) == "app" and package_of(module) != "app" and module != "dreamer.cli"
    ]
    assert not wrong, wrong
    assert any(package_of(t) == "app" for t in imports()["dreamer.cli"])


def test_the_data_side_never_imports_the_model():
    wrong = [
        f"{module} imports {MODEL}"
        for module, targets in imports().items()
        if package_of(module) in DATA_SIDE and MODEL in targets
    ]
    assert not wrong, wrong
    assert not any(package_of(t) in DATA_SIDE for t in imports()[MODEL])


def test_no_module_imports_itself_through_others():
    graph = imports()
    circles = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target == path[0]:
                circles.append(" → ".join([*path, target]))
            elif target not in path and len(path) < 12:
                visit(target, [*path, target])

    for module in sorted(graph):
        visit(module, [module])
    assert not circles, circles[:3]


def test_the_layout_test_sees_the_whole_package():
    graph = imports()
    assert {"dreamer.engine.module", "dreamer.photos.data", "dreamer.command.runner"} <= set(graph)
    assert "dreamer.engine.module" in graph["dreamer.command.wiring"]  # an import it must find
