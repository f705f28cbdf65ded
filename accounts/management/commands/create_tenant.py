from django.core.management.base import BaseCommand, CommandError

from accounts.services import tenant_create
from config.api import ApiError


class Command(BaseCommand):
    help = "Create a tenant (organization) with its owner. Prints the organization's public id."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--password", default=None)

    def handle(self, *args, slug, owner_email, password, **options):
        try:
            org = tenant_create(slug=slug, owner_email=owner_email, password=password)
        except ApiError as error:
            raise CommandError(error.message) from error
        self.stdout.write(org.public_id)
