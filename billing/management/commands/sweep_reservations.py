from django.conf import settings
from django.core.management.base import BaseCommand

from billing.reservations import reservation_sweep


class Command(BaseCommand):
    help = "Release reservations left active by crashed workers (older than a timeout)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=settings.RESERVATION_TIMEOUT_S,
            help="Seconds (default: RESERVATION_TIMEOUT_S)",
        )

    def handle(self, *args, **options):
        released = reservation_sweep(older_than_s=options["older_than"])
        self.stdout.write(f"released {released}")
