"""Run by the rate-limit tests in separate processes: `python ratelimit_burst.py KEY_ID N
START`. Waits until the Unix time START, then asks for N tickets as fast as it can and
prints how many were granted and refused. DATABASE_URL/REDIS_URL come from the caller."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from billing.ratelimit import ratelimit_acquire  # noqa: E402
from config.api import ApiError  # noqa: E402
from keys.models import ApiKey  # noqa: E402


def main() -> None:
    key_id, count, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    key = ApiKey.objects.select_related("organization").get(pk=key_id)
    granted = refused = 0
    time.sleep(max(0.0, start - time.time()))
    for _ in range(count):
        try:
            ratelimit_acquire(api_key=key).release()
            granted += 1
        except ApiError:
            refused += 1
    print(granted, refused)


if __name__ == "__main__":
    main()
