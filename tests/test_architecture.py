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
