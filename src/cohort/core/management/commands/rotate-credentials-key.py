from django.core.management.base import CommandError

from cohort.core.commands import Command as BaseCommand
from cohort.core.encryption import KEY_SETTING, CredentialsKeyError, Sealed, encrypted_fields, generate_key, reencrypt


class Command(BaseCommand):
    help = (
        f"Re-encrypt every stored cloud credential with the first key of {KEY_SETTING}, so that the other "
        "keys can be dropped. To rotate: `cohort rotate-credentials-key --generate` prints a new key NEW; "
        f"set {KEY_SETTING}=NEW,OLD on every process and restart them; run this command; then set "
        f"{KEY_SETTING}=NEW and restart again. Safe to run again, and while the web and workers run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--generate", action="store_true", help="print a new random key and change nothing")

    def handle(self, generate, **options):
        if generate:
            self.stdout.write(generate_key())
            return
        rotated, current, failed = 0, 0, []
        for field in encrypted_fields():
            model, column = field.model, field.attname
            for pk, sealed in model._default_manager.values_list("pk", column).iterator():
                if sealed is None:
                    continue
                try:
                    token = reencrypt(sealed.token, sealed.what)
                except CredentialsKeyError:
                    failed.append(f"{sealed.what} of row {pk}")
                    continue
                if token is None:
                    current += 1
                    continue
                # Only if the row still holds the token just read: a value written meanwhile was
                # encrypted with the first key already, and is kept.
                model._default_manager.filter(pk=pk, **{column: sealed}).update(**{column: Sealed(token)})
                rotated += 1
        self.stdout.write(f"{rotated} re-encrypted with the first key, {current} already were.")
        if failed:
            raise CommandError(
                f"No key in {KEY_SETTING} decrypts {', '.join(failed)}: add the key that encrypted "
                "them (comma-separated, after the first) and run this again."
            )
