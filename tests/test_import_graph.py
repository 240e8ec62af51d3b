"""The package's rooms stack in floors: a module imports only from its own floor or below, and no import circle
exists (function-level imports included). Read from the source with ast, so nothing is imported to check it."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "weakpose"

# Lowest first. A room may import rooms of its floor or lower floors (see ../shared/docs/design.md).
FLOORS = [
    {"arrays", "skeleton", "io_utils", "safe_npz", "weight_files", "lifters", "pretrained"},  # pretrained: registry
    {"geometry"},
    {"metrics", "render", "body"},
    {"models", "priors"},
    {"data", "losses", "train"},  # data above models: the latent caches encode with a network
    {"evaluation", "viz", "lifting"},  # lifting: the weakpose.lift() API the lift command calls
    {"tasks", "cli", "commands", "recipes", "__main__", "__init__"},
]
FLOOR = {room: i for i, rooms in enumerate(FLOORS) for room in rooms}


def _modules():
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name, path, modules):
    """Modules of the package that ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in _modules()}
    assert rooms <= set(FLOOR), f"rooms without a floor in this test: {sorted(rooms - set(FLOOR))}"


def test_no_module_imports_from_a_higher_floor():
    modules = _modules()
    upward = []
    for name, path in modules.items():
        for dep in _imports(name, path, modules):
            if FLOOR[_room(dep)] > FLOOR[_room(name)]:
                upward.append(f"{name} -> {dep}")
    assert not upward, "imports from a higher floor:\n" + "\n".join(sorted(upward))


def test_no_import_circles():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # a package's __init__ importing its own submodules is how packages export; only real circles count
    graph = {
        n: {d for d in deps if not (d.startswith(n + ".") and modules[n].name == "__init__.py")}
        for n, deps in graph.items()
    }
    state, circles = {}, []

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                circles.append(" -> ".join(stack[stack.index(dep) :] + [dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not circles, "import circles:\n" + "\n".join(circles)
