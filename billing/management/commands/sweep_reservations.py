from django.conf import settings
from django.core.management.base import BaseCommand

from billing.ratelimit_db import ratelimit_purge
from billing.reservations import reservation_sweep


class Command(BaseCommand):
    help = (
        "Release reservations left active by crashed workers (older than a timeout), and "
        "delete rate-limit rows that no longer count. Run it every few minutes (cron)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=settings.RESERVATION_TIMEOUT_S,
            help="Seconds (default: RESERVATION_TIMEOUT_S)",
        )

    def handle(self, *args, **options):
        released = reservation_sweep(older_than_s=options["older_than"])
        purged = ratelimit_purge()
        self.stdout.write(f"released {released} reservations, purged {purged} rate-limit rows")
