from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import organization_get_by_slug
from billing.money import usd_exact_to_micros
from config.api import ApiError
from keys.services import api_key_create


class Command(BaseCommand):
    help = "Create a key for a tenant and print its secret alone (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--kind", choices=["api", "management"], default="api")
        parser.add_argument("--name", default="")
        parser.add_argument("--limit-usd", default=None)
        parser.add_argument("--rpm", type=int, default=None)

    def handle(self, *args, slug, kind, name, limit_usd, rpm, **options):
        try:
            org = organization_get_by_slug(slug=slug)
            limit = None
            if limit_usd is not None:
                try:
                    limit = usd_exact_to_micros(Decimal(limit_usd))
                except (InvalidOperation, ValueError) as error:
                    raise CommandError(f"Invalid --limit-usd: {limit_usd} ({error})") from error
            _, secret = api_key_create(
                organization=org, kind=kind, name=name, limit_micros=limit, rate_limit_rpm=rpm
            )
        except ApiError as error:
            raise CommandError(error.message) from error
        self.stdout.write(secret)
