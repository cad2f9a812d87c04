from cohort.core.commands import Command as BaseCommand
from cohort.structure.services import customer_create


class Command(BaseCommand):
    help = "Create a customer (an organisation); prints its uuid."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--native-name", default="")
        parser.add_argument("--abbreviation", default="")

    def handle(self, name, native_name, abbreviation, **options):
        customer = customer_create(name=name, native_name=native_name, abbreviation=abbreviation)
        self.stdout.write(customer.uuid.hex)
