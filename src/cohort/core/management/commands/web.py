import os
import sys

from cohort.core.commands import Command as BaseCommand
from cohort.core.commands import host_port, positive_int, refuse_unreadable_credentials
from cohort.metrics.processes import prepare as prepare_metrics

# gunicorn's default access line, with the response's request id at the end.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'


class Command(BaseCommand):
    help = "Serve the API with gunicorn (production). Extra gunicorn options go after `--`."

    def add_arguments(self, parser):
        parser.add_argument("--bind", type=host_port, default=os.environ.get("COHORT_BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=positive_int, default=os.environ.get("COHORT_WEB_WORKERS", "2"))
        parser.add_argument("gunicorn_args", nargs="*")

    def handle(self, bind, workers, gunicorn_args, **options):
        refuse_unreadable_credentials()  # rather than start and fail every cloud call
        prepare_metrics("web")
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "cohort.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "--access-logformat",
            ACCESS_LOG_FORMAT,
            "--config",
            "python:cohort.gunicorn_config",
            *gunicorn_args,
        ]
        os.execv(sys.executable, argv)
