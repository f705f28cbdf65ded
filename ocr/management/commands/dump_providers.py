"""`python manage.py dump_providers`: print the configured providers as JSON.

The output is the `load_providers` format (DESIGN.md §7), so it can be edited and loaded
back. It names secret variables, never their values.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from ocr.providers.config import provider_config_dump


class Command(BaseCommand):
    help = "Print the OCR providers, models and prices in the load_providers JSON format."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(provider_config_dump(), indent=2))
