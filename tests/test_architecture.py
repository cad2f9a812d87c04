"""Rules of the codebase that a reviewer should not have to check by hand."""

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "cohort"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_cloud_boundary_never_imports_django():
    for path in (SRC / "cloud").glob("*.py"):
        bad = {name for name in imported_modules(path) if name.split(".")[0] in ("django", "rest_framework", "celery")}
        assert not bad, f"{path.name} imports {bad}: drivers must not know Django"


def test_drivers_import_without_django_or_celery():
    code = (
        "import sys, cohort.cloud.memory, cohort.cloud.openstack, cohort_lab; "
        "assert not {'django', 'celery'} & set(sys.modules), sorted({'django', 'celery'} & set(sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_only_the_state_machine_writes_a_state_by_hand():
    """States change through `cohort.core.states.move`; no other module assigns `.state = ...`."""
    for path in SRC.rglob("*.py"):
        if path.name == "states.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    assert not (isinstance(target, ast.Attribute) and target.attr == "state"), (
                        f"{path.relative_to(SRC)}:{node.lineno} sets .state; use states.move()"
                    )


# Who may import whom in the openstack app: writes flow services -> dispatch -> tasks -> steps or
# reconcile, and no layer imports one above it (a worker's code never calls back into a service).
BELOW = {
    "services": {"dispatch", "models", "selectors"},
    "dispatch": {"tasks", "models"},
    "tasks": {"steps", "reconcile", "models"},
    "steps": {"clouds", "models"},
    "reconcile": {"clouds", "models"},
    "clouds": {"models"},
}


def test_no_layer_of_the_openstack_app_imports_one_above_it():
    app = SRC / "openstack"
    for name, allowed in BELOW.items():
        imported = {
            module.rsplit(".", 1)[-1]
            for module in imported_modules(app / f"{name}.py")
            if module.startswith("cohort.openstack.") and module.count(".") == 2
        }
        imported |= {
            alias
            for module in imported_modules(app / f"{name}.py")
            if module == "cohort.openstack"
            for alias in _from_imports(app / f"{name}.py", "cohort.openstack")
        }
        assert imported <= allowed, f"openstack/{name}.py imports {sorted(imported - allowed)}"


def _from_imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    }
