"""`python manage.py purge_files`: delete files uploaded with POST /v1/files whose
`expiry` has passed, with their bytes in storage.

Expired files are already invisible and are deleted when their tenant next touches
them; run this from cron so a tenant that never comes back does not keep them stored.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ocr.files import files_purge_expired


class Command(BaseCommand):
    help = "Delete expired uploaded files (POST /v1/files) and their stored bytes."

    def handle(self, *args, **options):
        count = files_purge_expired()
        self.stdout.write(f"Deleted {count} expired file(s).")
