import math

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.ratelimit_db import ratelimit_purge
from billing.reservations import reservation_sweep

# A year: far past any request; beyond timedelta's range the value was a traceback.
MAX_OLDER_THAN_S = 365 * 24 * 3600


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
        older_than = options["older_than"]
        # Negative put the cutoff in the future: every hold was released, those of the
        # requests running at that moment included.
        if not (math.isfinite(older_than) and 0 <= older_than <= MAX_OLDER_THAN_S):
            raise CommandError(
                f"--older-than must be a number of seconds from 0 to {MAX_OLDER_THAN_S:,}"
            )
        released = reservation_sweep(older_than_s=older_than)
        purged = ratelimit_purge()
        self.stdout.write(f"released {released} reservations, purged {purged} rate-limit rows")
