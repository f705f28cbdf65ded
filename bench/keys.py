"""Key verification cost per request, on the path the server really runs.

    DATABASE_URL=postgres://… [REDIS_URL=redis://…] .venv/bin/python bench/keys.py

Creates a throwaway tenant with `--keys` keys in the configured (migrated) database, then
times, per call, the median and tail of:
  - refusing a key with a bad checksum (no database),
  - `api_key_authenticate` + `api_key_touch` for a key used in the last minute (the
    steady state: one indexed SELECT),
  - the same through `ApiKeyAuthentication.authenticate` on a real request object,
  - a whole `GET /api/v1/key` through Django's test client, for scale,
  - floors to compare with: `SELECT 1`, and a Redis GET when REDIS_URL is set (what a
    shared key cache would cost instead of the query).
The tenant and its keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from rest_framework.request import Request  # noqa: E402

from accounts.ids import random_base62  # noqa: E402
from accounts.models import Organization  # noqa: E402
from config.api import ApiError  # noqa: E402
from keys import crypto  # noqa: E402
from keys.authentication import ApiKeyAuthentication  # noqa: E402
from keys.models import ApiKey  # noqa: E402
from keys.selectors import api_key_authenticate  # noqa: E402
from keys.services import api_key_create, api_key_touch  # noqa: E402


def timed(fn, iterations: int, warmup: int = 200) -> tuple[list[float], float]:
    """Wall-clock µs per call, and this process's CPU µs per call (mean).

    Wall time includes waiting for the database and for a CPU on a busy host; CPU time
    is what the verification itself burns in the app process, and moves much less with
    the host's load.
    """
    for _ in range(warmup):
        fn()
    samples = []
    cpu_start = time.process_time_ns()
    for _ in range(iterations):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    cpu = (time.process_time_ns() - cpu_start) / 1000 / iterations
    return samples, cpu


def report(name: str, measured: tuple[list[float], float]) -> None:
    samples, cpu = measured
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"{name:<44} median {statistics.median(ordered):7.0f} µs  "
        f"p95 {p95:7.0f} µs  p99 {p99:7.0f} µs  app CPU {cpu:6.0f} µs  (n={len(ordered)})"
    )


def fill(org: Organization, count: int) -> None:
    """Other keys in the table, so the lookup meets a realistic index, not a tiny one."""
    batch = []
    for _ in range(count):
        generated = crypto.generate("api")
        batch.append(
            ApiKey(
                organization=org,
                lookup_prefix=generated.lookup_prefix,
                secret_hash=generated.secret_hash,
                label=generated.label,
                scopes=["ocr"],
            )
        )
    ApiKey.objects.bulk_create(batch, batch_size=1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--keys", type=int, default=10_000, help="extra keys in the table")
    args = parser.parse_args()

    vendor = connection.vendor
    print(f"database: {vendor} {connection.settings_dict['NAME']}")
    print(f"redis:    {settings.REDIS_URL or 'not configured'}")
    # Timings of Python-heavy steps scale with CPU contention; say how busy the host was.
    print(f"host:     {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    org = Organization.objects.create(slug=f"bench-keys-{random_base62(8).lower()}", name="bench")
    try:
        fill(org, args.keys)
        key, secret = api_key_create(organization=org, kind="management", name="bench")
        print(f"keys in table: {ApiKey.objects.count()}")
        print()
        bad = secret[:-1] + ("A" if secret[-1] != "A" else "B")

        def refuse_bad_checksum():
            try:
                api_key_authenticate(secret=bad)
            except ApiError:
                return
            raise AssertionError("a bad checksum was accepted")

        def authenticate_and_touch():
            api_key_touch(key=api_key_authenticate(secret=secret))

        factory = RequestFactory()
        authenticator = ApiKeyAuthentication()

        def drf_authenticate():
            request = Request(factory.get("/api/v1/key", HTTP_AUTHORIZATION=f"Bearer {secret}"))
            authenticator.authenticate(request)

        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

        def whole_request():
            response = client.get("/api/v1/key")
            assert response.status_code == 200, response.content

        def same_select_raw():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT * FROM keys_apikey k JOIN accounts_organization o"
                    " ON o.id = k.organization_id WHERE k.lookup_prefix = %s",
                    [key.lookup_prefix],
                )
                cursor.fetchone()

        def select_one():
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()

        n = args.iterations
        report("bad checksum refused (no database)", timed(refuse_bad_checksum, n))
        report("api_key_authenticate + api_key_touch", timed(authenticate_and_touch, n))
        report("ApiKeyAuthentication.authenticate", timed(drf_authenticate, n))
        try:
            whole_request()
        except Exception as error:  # noqa: BLE001 - the other figures are still worth printing
            print(f"whole GET /api/v1/key: skipped, the request failed: {error!r}")
        else:
            report("whole GET /api/v1/key (test client)", timed(whole_request, max(n // 5, 200)))
        report("floor: the same SELECT in raw SQL", timed(same_select_raw, n))
        report("floor: SELECT 1", timed(select_one, n))
        if settings.REDIS_URL:
            import redis

            r = redis.Redis.from_url(settings.REDIS_URL)
            r.set("ocrgw:bench:keys", "x", ex=60)
            report(
                "floor: Redis GET (a shared cache instead)",
                timed(lambda: r.get("ocrgw:bench:keys"), n),
            )
        authenticate_and_touch()  # last_used_at fresh: the next call is the steady state
        queries = []
        with connection.execute_wrapper(
            lambda execute, sql, *a: queries.append(sql) or execute(sql, *a)
        ):
            authenticate_and_touch()
        print()
        print(f"queries per verified request (steady state): {len(queries)}")
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
    finally:
        org.delete()


if __name__ == "__main__":
    main()
