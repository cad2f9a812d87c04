from cohort.core.commands import Command as BaseCommand
from cohort.structure.management.commands._lookup import find
from cohort.structure.models import Customer
from cohort.structure.services import project_create


class Command(BaseCommand):
    help = "Create a project of a customer (given by uuid or name); prints its uuid."

    def add_arguments(self, parser):
        parser.add_argument("customer")
        parser.add_argument("name")
        parser.add_argument("--description", default="")

    def handle(self, customer, name, description, **options):
        project = project_create(customer=find(Customer, customer), name=name, description=description)
        self.stdout.write(project.uuid.hex)
