from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from cohort.core.authentication import issue_token
from cohort.core.commands import Command as BaseCommand


class Command(BaseCommand):
    help = "Print a new API token for USERNAME."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}; create one with `cohort user {username}`.")
        self.stdout.write(issue_token(user))
