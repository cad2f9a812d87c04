"""The `cohort` command: Django's management commands under one name.

`cohort serve` runs the embedded default; `cohort web`, `cohort worker` and `cohort beat` are the
production processes; `cohort token USERNAME` prints an API token; `cohort --version` prints
Cohort's version. `cohort help` lists the rest (`migrate`, `user`, `customer`, `project`, `role`,
`cloud`, `tenant`, ...).
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cohort.settings")
    import django
    from django.core.management import execute_from_command_line, get_commands

    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name == "--version":  # Django's own would print Django's version
        from importlib.metadata import version

        print(f"cohort {version('cohort')}")
        return
    if name and not name.startswith("-") and name != "help":
        django.setup()
        if name not in get_commands():
            # Django says so with exit status 1; a mistyped command is a usage error like any other
            usage = "usage: cohort COMMAND [options]"
            sys.stderr.write(f"{usage}\ncohort: error: unknown command {name!r} (see `cohort help`)\n")
            sys.exit(2)
    execute_from_command_line(["cohort", *sys.argv[1:]])


if __name__ == "__main__":
    main()
