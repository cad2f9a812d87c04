import os
import sys

from cohort.core.commands import Command as BaseCommand
from cohort.core.commands import refuse_unreadable_credentials
from cohort.metrics.processes import prepare as prepare_metrics


class Command(BaseCommand):
    help = "Run the Celery beat scheduler: periodic reconciliation of every tenant. Run exactly one."

    def add_arguments(self, parser):
        parser.add_argument("celery_args", nargs="*")

    def handle(self, celery_args, **options):
        refuse_unreadable_credentials()  # rather than start and fail every cloud call
        prepare_metrics("beat")
        argv = [sys.executable, "-m", "celery", "--app", "cohort", "beat", "--loglevel", "INFO", *celery_args]
        os.execv(sys.executable, argv)
