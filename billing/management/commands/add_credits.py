import secrets
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from billing.models import LedgerEntry
from billing.money import micros_to_usd_str, usd_exact_to_micros
from billing.services import credits_add

# One adjustment's ceiling, as for a key's limit: far above any real top-up, far below the
# balance column's (9.2e12 USD, past which the amount was a traceback, not an answer).
MAX_USD = 1_000_000_000


class Command(BaseCommand):
    help = "Add (or with a negative amount, remove) credits: add_credits SLUG USD [--note]."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("usd", help="Amount in USD, e.g. 10 or 2.50 (negative debits)")
        parser.add_argument("--note", default="")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["slug"]).first()
        if organization is None:
            raise CommandError(f"no organization '{options['slug']}'")
        try:
            usd = Decimal(options["usd"])
        except InvalidOperation as error:
            raise CommandError(f"invalid amount {options['usd']!r}") from error
        if not usd.is_finite():
            raise CommandError(f"invalid amount {options['usd']!r}")
        if abs(usd) > MAX_USD:
            raise CommandError(f"the amount must be at most {MAX_USD:,} USD either way")
        # Money is whole micro-dollars: 0.0000015 was rounded to +2 µ$ and -0.0000035 to
        # -4 µ$ without a word; the API and load_providers refuse such amounts. (After the
        # ceiling, so the quantize stays within Decimal's precision.)
        try:
            amount = usd_exact_to_micros(usd)
        except ValueError:
            raise CommandError(
                f"the amount {options['usd']!r} is finer than a micro-dollar "
                "(at most 6 decimal places); nothing was added"
            ) from None
        if amount == 0:
            raise CommandError("the amount must not be zero")
        try:
            entry = credits_add(
                organization=organization,
                amount_micros=amount,
                kind=LedgerEntry.Kind.ADJUSTMENT,
                idempotency_key=f"cli:{secrets.token_hex(12)}",
                note=options["note"] or "add_credits command",
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{micros_to_usd_str(entry.balance_after_micros)}")
