"""The base of Cohort's own `cohort` commands: a mistake on the command line is a usage error.

argparse answers an unknown option, a missing argument or a bad value with the command's usage line,
`error: argument --x: ...` and exit status 2. Mistakes it cannot see alone (options that exclude
each other depending on another's value, a credential key the auth type does not take) go the same
way through `usage_error`, never as a traceback. Under `call_command` (the tests), Django turns the
same error into `CommandError("Error: ...")`. Failures that are not the caller's mistake (a cloud
that refuses the credentials, a name not found) stay `CommandError`s, exit status 1.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        self.parser = super().create_parser(prog_name, subcommand, **kwargs)
        return self.parser

    def usage_error(self, message: str) -> NoReturn:
        self.parser.error(message)
        raise AssertionError("unreachable: the parser exits or raises")

    def pairs(self, items: list[tuple[str, str]], option: str) -> dict[str, str]:
        """`KEY=VALUE` options (parsed by `key_value`) as a dict; a key given twice is a usage error."""
        result: dict[str, str] = {}
        for key, value in items:
            if key in result:
                self.usage_error(f"argument {option}: {key} is given twice")
            result[key] = value
        return result


def key_value(item: str) -> tuple[str, str]:
    """argparse type of a `KEY=VALUE` option. The item is not quoted back: it may be a secret."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError("expected KEY=VALUE")
    return key.strip(), value


def positive_int(text: str) -> int:
    """argparse type of a count that must be at least 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def port_number(text: str) -> int:
    """argparse type of a TCP port."""
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


def host_port(text: str) -> str:
    """argparse type of a `HOST:PORT` address to listen on."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port from 1 to 65535, got {text!r}")
    return text


def refuse_unreadable_credentials() -> None:
    """For the long-running processes (`cohort web`, `worker`, `beat`): refuse to start (exit status 1,
    the reason on stderr) when the configured credentials key cannot read the database's credentials."""
    from cohort.core.encryption import CredentialsKeyError, check_credentials_key

    try:
        check_credentials_key()
    except CredentialsKeyError as error:
        raise CommandError(str(error)) from None
