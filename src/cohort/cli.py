"""The `cohort` command: Django's management commands under one name.

`cohort serve` runs the embedded default; `cohort web`, `cohort worker` and `cohort beat` are the
production processes; `cohort token USERNAME` prints an API token. `cohort help` lists the rest
(`migrate`, `user`, `customer`, `project`, `role`, `cloud`, `tenant`, ...).
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cohort.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["cohort", *sys.argv[1:]])


if __name__ == "__main__":
    main()
