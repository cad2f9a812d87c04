from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cohort.structure.management.commands._lookup import find
from cohort.structure.models import Customer, Project
from cohort.structure.services import role_grant, role_revoke


class Command(BaseCommand):
    help = (
        "Grant (or with --revoke, take away) a role: `cohort role alice owner --customer ACME`, "
        "`cohort role bob manager|admin|member --project web`."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=["owner", "manager", "admin", "member"])
        parser.add_argument("--customer")
        parser.add_argument("--project")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, username, role, customer, project, revoke, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}")
        if role == "owner":
            if not customer:
                raise CommandError("owner is a customer role: give --customer")
            target = {"customer": find(Customer, customer)}
        else:
            if not project:
                raise CommandError(f"{role} is a project role: give --project")
            target = {"project": find(Project, project)}
        if revoke:
            role_revoke(user=user, role=role, **target)
            self.stdout.write(f"revoked {role} from {username}")
        else:
            role_grant(user=user, role=role, **target)
            self.stdout.write(f"granted {role} to {username}")
