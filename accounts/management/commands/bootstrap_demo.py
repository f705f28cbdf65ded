import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Organization
from accounts.services import organization_create
from billing.money import usd_to_micros
from billing.services import credits_add
from keys.services import api_key_create


class Command(BaseCommand):
    help = "On an empty database: a superuser, a demo tenant with $5 and one sk-ar- key."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.exists() or Organization.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        # All or nothing: a run cut short (a crash, Ctrl-C) used to leave the superuser,
        # whose password was never shown, and every later run then skipped the demo.
        with transaction.atomic():
            admin = User.objects.create_superuser("admin", "admin@example.com", password)
            org = organization_create(slug="demo", name="Demo tenant", owner=admin)
            credits_add(
                organization=org,
                amount_micros=usd_to_micros(5),
                kind="adjustment",
                idempotency_key=f"demo-credits:{org.public_id}",
                note="Demo credits",
            )
            _, secret = api_key_create(organization=org, name="demo")
        self.stdout.write(
            "\n".join(
                [
                    "Demo data created (shown once):",
                    "  admin user:     admin",
                    f"  admin password: {password}",
                    "  tenant:         demo ($5.00 of credits)",
                    f"  API key:        {secret}",
                    "",
                ]
            )
        )
