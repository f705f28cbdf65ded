"""`python manage.py load_providers FILE`: create or update providers from a JSON file.

The format is DESIGN.md §7 (see docs/providers.md). `-` reads standard input. Prints one
line per provider and model saying what changed; running it twice changes nothing.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from ocr.providers.config import ProviderConfigError, provider_config_load


class Command(BaseCommand):
    help = "Create or update OCR providers, models and prices from a JSON file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the JSON file, or - for standard input")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not valid JSON: it is not UTF-8 text") from exc
        try:
            # Decimals, not floats: prices must survive the trip exactly.
            data = json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        try:
            report = provider_config_load(data=data)
        except ProviderConfigError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        for line in report:
            self.stdout.write(line)
