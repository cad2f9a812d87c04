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
    # `set_quotas` is answered with Nova's own answer, so that one service calls the cloud itself
    "services": {"dispatch", "heal", "models", "selectors", "clouds", "quotas"},
    "dispatch": {"tasks", "models"},
    "tasks": {"steps", "reconcile", "models"},
    "steps": {"clouds", "heal", "models", "quotas"},
    "reconcile": {"clouds", "heal", "models", "placement", "quotas"},
    "heal": {"clouds", "models", "placement"},
    "quotas": {"models"},
    "placement": {"clouds", "models"},
    "clouds": {"models"},
    "listing": {"models"},
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


# What core may import of Cohort: itself, the driver interface below it, the project's Celery app
# (its AppConfig makes that app current in every process), and the two modules of metrics that know
# no app (the instruments, and each process's metrics folder). Never a domain app (structure,
# openstack) nor what needs them (embedded, the lab): those build on core, so core must not know them.
CORE_MAY_IMPORT = (
    "cohort.core",
    "cohort.cloud",
    "cohort.celery",
    "cohort.metrics.instruments",
    "cohort.metrics.processes",
)
APP_FREE = ("metrics/instruments.py", "metrics/processes.py")


def test_what_core_may_import_of_metrics_knows_no_app():
    for name in APP_FREE:
        cohort_imports = {module for module in absolute_imports(SRC / name) if module.startswith("cohort")}
        assert cohort_imports <= {"cohort"}, f"{name} imports {sorted(cohort_imports)}; core relies on it knowing none"


def absolute_imports(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved, and `from x import y` also as `x.y`."""
    package = ["cohort", *path.relative_to(SRC).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_core_imports_no_domain_app():
    for path in (SRC / "core").rglob("*.py"):
        bad = {
            name
            for name in absolute_imports(path)
            if name.startswith("cohort")
            and name != "cohort"  # `from cohort import x` is judged as cohort.x
            and not any(name == allowed or name.startswith(f"{allowed}.") for allowed in CORE_MAY_IMPORT)
        }
        assert not bad, (
            f"core/{path.relative_to(SRC / 'core')} imports {sorted(bad)}: core is what every app builds on. "
            "Move the code that needs a domain app into that app (or cohort.embedded), or pass what it "
            "needs in as an argument."
        )


# The event log sits between core and the domain apps: the domain apps record into it (and say what an
# event is about with `event_scope()`), so it may import core and nothing above it.
EVENTS_MAY_IMPORT = ("cohort.core", "cohort.events", "cohort.celery")


def test_the_event_log_imports_no_domain_app():
    for path in (SRC / "events").rglob("*.py"):
        bad = {
            name
            for name in absolute_imports(path)
            if name.startswith("cohort")
            and name != "cohort"
            and not any(name == allowed or name.startswith(f"{allowed}.") for allowed in EVENTS_MAY_IMPORT)
        }
        assert not bad, (
            f"events/{path.relative_to(SRC / 'events')} imports {sorted(bad)}: the domain apps build on the event "
            "log; pass what it needs in a Scope (`event_scope()`), or put the code in the domain app."
        )
