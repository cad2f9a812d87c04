from django.core.management.base import BaseCommand

from cohort.structure.management.commands._lookup import find, pairs
from cohort.structure.models import Customer, ServiceSettings
from cohort.structure.services import cloud_save


class Command(BaseCommand):
    help = (
        "Register (or update) an OpenStack cloud as service settings; prints its uuid. Example: "
        "cohort cloud prod --auth-url https://keystone.example.com/v3 --credential username=cohort "
        "--credential password=... --credential user_domain_name=Default"
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--auth-url", required=True)
        parser.add_argument("--auth-type", default="password", choices=ServiceSettings.AuthType.values)
        parser.add_argument("--credential", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--region", default="")
        parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
        parser.add_argument("--shared", action="store_true")
        parser.add_argument("--customer")

    def handle(self, name, auth_url, auth_type, credential, option, region, insecure, shared, customer, **opts):
        settings = cloud_save(
            name=name,
            values={
                "auth_url": auth_url,
                "auth_type": auth_type,
                "credentials": pairs(credential),
                "options": pairs(option),
                "region": region,
                "verify_tls": not insecure,
                "shared": shared,
                "customer": find(Customer, customer) if customer else None,
            },
        )
        self.stdout.write(settings.uuid.hex)
