import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or update a user. --password - reads the password from standard input."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--staff", action="store_true", help="staff see and manage everything")
        parser.add_argument("--no-staff", action="store_true")
        parser.add_argument("--password", help="the password, or - to read it from standard input")
        parser.add_argument("--email", default="")

    def handle(self, username, staff, no_staff, password, email, **options):
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        if staff or no_staff:
            user.is_staff = staff
        if password == "-":
            password = input() if not self.stdin_is_tty() else getpass.getpass()
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        self.stdout.write(f"{'created' if created else 'updated'} user {username} (staff: {user.is_staff})")

    @staticmethod
    def stdin_is_tty() -> bool:
        import sys

        return sys.stdin.isatty()
