import getpass

from cohort.core.commands import Command as BaseCommand
from cohort.structure.services import user_save


class Command(BaseCommand):
    help = "Create or update a user. --password - reads the password from standard input."

    def add_arguments(self, parser):
        parser.add_argument("username")
        staff = parser.add_mutually_exclusive_group()
        staff.add_argument("--staff", action="store_true", help="staff see and manage everything")
        staff.add_argument("--no-staff", action="store_true")
        parser.add_argument("--password", help="the password, or - to read it from standard input")
        parser.add_argument("--email", default="")

    def handle(self, username, staff, no_staff, password, email, **options):
        if password == "-":
            password = input() if not self.stdin_is_tty() else getpass.getpass()
        staff_flag = staff if (staff or no_staff) else None
        user, created = user_save(username=username, staff=staff_flag, password=password, email=email)
        self.stdout.write(f"{'created' if created else 'updated'} user {username} (staff: {user.is_staff})")

    @staticmethod
    def stdin_is_tty() -> bool:
        import sys

        return sys.stdin.isatty()
