import argparse

from django.core.management.base import CommandError

from cohort.cloud.base import CloudAccess, CloudError
from cohort.cloud.openstack import CREDENTIAL_KEYS
from cohort.core.commands import Command as BaseCommand
from cohort.core.commands import key_value
from cohort.structure.management.commands._lookup import find
from cohort.structure.models import Customer, ServiceSettings
from cohort.structure.services import cloud_save


def on_off(text: str) -> bool:
    """argparse type of a switch: on or off."""
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return text == "on"


class Command(BaseCommand):
    help = (
        "Register (or update) an OpenStack cloud as service settings; prints its uuid. Example: "
        "cohort cloud prod --auth-url https://keystone.example.com/v3 --credential username=cohort "
        "--credential password=... --credential user_domain_name=Default. It first logs in to Keystone "
        "(--project: on that project) and finds Nova in the catalog, and says what is wrong if it cannot. "
        "`cohort cloud NAME --auto-heal on|off` alone switches a registered cloud's auto-heal."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--auth-url", help="Keystone's URL (required unless only --auto-heal is given)")
        parser.add_argument(
            "--auto-heal",
            type=on_off,
            metavar="on|off",
            help="reconciliation heals this cloud's degraded and violated groups by itself (off by default)",
        )
        parser.add_argument("--auth-type", default="password", choices=ServiceSettings.AuthType.values)
        parser.add_argument("--credential", action="append", default=[], type=key_value, metavar="KEY=VALUE")
        parser.add_argument("--option", action="append", default=[], type=key_value, metavar="KEY=VALUE")
        parser.add_argument("--region", default="")
        parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
        parser.add_argument("--shared", action="store_true")
        parser.add_argument("--customer")
        parser.add_argument("--project", default="", help="the project (id or name) the check logs in to")
        parser.add_argument("--no-check", action="store_true", help="register without logging in to Keystone")

    def handle(self, name, auth_url, auth_type, credential, option, region, insecure, shared, customer, **opts):
        auto_heal = opts["auto_heal"]
        if auth_url is None:
            if auto_heal is None:
                self.usage_error("the following arguments are required: --auth-url")
            cloud = ServiceSettings.objects.filter(name=name).first()
            if cloud is None:
                raise CommandError(f"No cloud named {name!r}: register it with --auth-url first.")
            cloud = cloud_save(name=name, values={"auto_heal": auto_heal})
            self.stderr.write(f"Auto-heal is {'on' if cloud.auto_heal else 'off'} for cloud {name}.")
            self.stdout.write(cloud.uuid.hex)
            return
        credentials, options = self.pairs(credential, "--credential"), self.pairs(option, "--option")
        unknown = sorted(set(credentials) - CREDENTIAL_KEYS[auth_type])
        if unknown:
            self.usage_error(
                f"argument --credential: --auth-type {auth_type} takes no {', '.join(unknown)} "
                f"(it takes {', '.join(sorted(CREDENTIAL_KEYS[auth_type]))})"
            )
        if opts["no_check"] and opts["project"]:
            self.usage_error("argument --project: names the project the check logs in to; --no-check skips the check")
        if not opts["no_check"]:
            access = CloudAccess(
                auth_url=auth_url,
                project_id="",
                auth_type=auth_type,
                credentials=credentials,
                region=region,
                verify_tls=not insecure,
                options=options,
            )
            self.stderr.write(check(access, opts["project"]))
        settings = cloud_save(
            name=name,
            values={
                "auth_url": auth_url,
                "auth_type": auth_type,
                "credentials": credentials,
                "options": options,
                "region": region,
                "verify_tls": not insecure,
                "shared": shared,
                "customer": find(Customer, customer) if customer else None,
                **({"auto_heal": auto_heal} if auto_heal is not None else {}),
            },
        )
        self.stdout.write(settings.uuid.hex)


def check(access: CloudAccess, project: str) -> str:
    """Log in as the cloud's credentials would (`cohort.cloud.openstack.check_cloud`); a `CommandError`
    saying what is wrong, with `--no-check` as the way around."""
    from cohort.cloud.openstack import check_cloud

    try:
        return check_cloud(access, project)
    except CloudError as error:
        raise CommandError(f"{error.message} Not registered (--no-check registers it unchecked).") from None
