from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from cohort.core.commands import Command as BaseCommand
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
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--customer", help="for owner")
        where.add_argument("--project", help="for manager, admin and member")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, username, role, customer, project, revoke, **options):
        if role == "owner" and not customer:
            self.usage_error("argument --project: owner is a customer role: give --customer")
        if role != "owner" and not project:
            self.usage_error(f"argument --customer: {role} is a project role: give --project")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}")
        target = {"customer": find(Customer, customer)} if customer else {"project": find(Project, project)}
        if revoke:
            role_revoke(user=user, role=role, **target)
            self.stdout.write(f"revoked {role} from {username}")
        else:
            role_grant(user=user, role=role, **target)
            self.stdout.write(f"granted {role} to {username}")
