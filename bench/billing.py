"""Billing costs per request: reserve + settle, and the rate-limit decision.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/billing.py \
        [--iterations 2000] [--threads 1,8]

Measures, in this process against the configured database (migrated first):
  - reserve+settle: `reservation_create` then `reservation_settle` (two transactions,
    the ledger entry and the usage record included), as the pipeline calls them; once
    with durable charges (the default) and once with BILLING_SYNCHRONOUS_CHARGES off;
  - billing per request: the same plus `price_worst_case`, `price_actual` and
    `credits_available_micros`, i.e. everything billing adds to one OCR request;
  - release: `reservation_create` then `reservation_release` (a failed request);
  - rate limit: `ratelimit_acquire` + `ticket.release()` on Redis (when REDIS_URL is
    set) and on the database fallback;
  - baselines of the machine: one `SELECT 1` round trip, and one single-row UPDATE in
    autocommit (its commit waits for the WAL fsync, as a settlement's does).
With more than one thread, every thread uses the same key and tenant (the contended
case: they serialize on the same rows), and "reserve+settle, own tenant" gives each
thread a tenant and key of its own. Prints median and p99 in milliseconds, and "db cpu
ms": what the PostgreSQL server processes spent per operation (Linux /proc).
A throwaway tenant is created; its rows stay (the ledger is append-only).
"""

from __future__ import annotations

import argparse
import itertools
import os
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(
    name: str, step: Callable[[int], None], *, iterations: int, threads: int
) -> tuple[str, int, float, float, float, float]:
    """Run `step(i)` `iterations` times per thread (thread n passes i from n * 1,000,000);
    (name, threads, median, p99, ops/s, database CPU ms per operation)."""
    from django.db import connections

    from bench.gateway import database_cpu_since, database_cpu_ticks

    samples: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    # The threads' database sessions end with them, taking their CPU figures along:
    # read them while every thread has finished but still holds its connection.
    finished = threading.Barrier(threads + 1)
    measured = threading.Event()

    def worker(offset: int) -> None:
        local = []
        try:
            barrier.wait()
            for i in range(iterations):
                started = time.perf_counter()
                step(offset + i)
                local.append((time.perf_counter() - started) * 1000)
        finally:
            finished.wait()
            measured.wait()
            connections.close_all()
        with lock:
            samples.extend(local)

    for i in range(min(50, iterations)):  # warm connections, caches and statements
        step(10_000_000 + i)
    database_before = database_cpu_ticks()
    began = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n * 1_000_000,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    finished.wait()
    elapsed = time.perf_counter() - began
    database_ms = 1000 * database_cpu_since(database_before) / (threads * iterations)
    measured.set()
    for thread in pool:
        thread.join()
    return (
        name,
        threads,
        statistics.median(samples),
        percentile(samples, 0.99),
        len(samples) / elapsed,
        database_ms,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--threads", default="1,8")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from accounts.services import organization_create
    from billing.pricing import Price, price_actual, price_worst_case
    from billing.ratelimit import ratelimit_acquire
    from billing.reservations import reservation_create, reservation_release, reservation_settle
    from billing.selectors import credits_available_micros
    from billing.services import credits_add
    from keys.services import api_key_create
    from ocr.models import ProviderModel

    run = secrets.token_hex(4)
    ids = itertools.count()  # next() on a count is atomic under the GIL
    org = organization_create(slug=f"bench-billing-{run}")
    credits_add(organization=org, amount_micros=10**12, idempotency_key=f"bench:{run}")
    key = api_key_create(organization=org, name="bench", limit_micros=10**12)[0]
    key = type(key).objects.select_related("organization").get(pk=key.pk)
    model = ProviderModel.objects.select_related("provider").get(name="local/rapidocr")
    usage = {"dialect": "bench", "model": model.name, "provider": "local", "pages": 1}
    fixed_price = Price(1_000, 55, 1_055)

    def reserve_settle(i: int) -> None:
        reservation = reservation_create(
            api_key=key, amount_micros=1_055, request_id=f"req_b{run}s{next(ids)}"
        )
        reservation_settle(reservation=reservation, price=fixed_price, usage=usage)

    most_threads = max(int(t) for t in args.threads.split(","))
    own_keys = []
    for number in range(most_threads):
        own = organization_create(slug=f"bench-billing-{run}-{number}")
        credits_add(organization=own, amount_micros=10**12, idempotency_key=f"bench:{run}:{number}")
        own_key = api_key_create(organization=own, name="bench", limit_micros=10**12)[0]
        own_keys.append(type(own_key).objects.select_related("organization").get(pk=own_key.pk))

    def reserve_settle_own_tenant(i: int) -> None:
        reservation = reservation_create(
            api_key=own_keys[i // 1_000_000 % most_threads],
            amount_micros=1_055,
            request_id=f"req_b{run}o{next(ids)}",
        )
        reservation_settle(reservation=reservation, price=fixed_price, usage=usage)

    def billing_per_request(i: int) -> None:
        worst = price_worst_case(model=model, pages=1, organization=org)
        reservation = reservation_create(
            api_key=key, amount_micros=worst.total_micros, request_id=f"req_b{run}f{next(ids)}"
        )
        actual = price_actual(
            model=model,
            pages=1,
            input_tokens=0,
            output_tokens=0,
            organization=org,
        )
        reservation_settle(reservation=reservation, price=actual, usage=usage)
        credits_available_micros(organization=org)

    def reserve_release(i: int) -> None:
        reservation = reservation_create(
            api_key=key, amount_micros=1_055, request_id=f"req_b{run}r{next(ids)}"
        )
        reservation_release(reservation=reservation, usage={**usage, "error_code": "bench"})

    limiter_key = api_key_create(organization=org, rate_limit_rpm=1_000_000, max_in_flight=1000)[0]
    limiter_key = type(limiter_key).objects.select_related("organization").get(pk=limiter_key.pk)

    from django.utils import timezone

    from billing.models import CreditAccount

    def round_trip(i: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    def durable_update(i: int) -> None:
        CreditAccount.objects.filter(organization=org).update(updated_at=timezone.now())

    def rate_limit(i: int) -> None:
        ratelimit_acquire(api_key=limiter_key).release()

    redis_url = settings.REDIS_URL
    settings.BILLING_SYNCHRONOUS_CHARGES = True
    print(f"database: {connection.vendor}, redis: {'yes' if redis_url else 'no'}")
    print(f"iterations per thread: {args.iterations}")
    rows = [
        measure("baseline: SELECT 1", round_trip, iterations=args.iterations, threads=1),
        measure("baseline: durable UPDATE", durable_update, iterations=args.iterations, threads=1),
    ]
    for threads in [int(t) for t in args.threads.split(",")]:
        rows.append(
            measure("reserve+settle", reserve_settle, iterations=args.iterations, threads=threads)
        )
        settings.BILLING_SYNCHRONOUS_CHARGES = False
        rows.append(
            measure(
                "reserve+settle (async)",
                reserve_settle,
                iterations=args.iterations,
                threads=threads,
            )
        )
        if threads > 1:
            rows.append(
                measure(
                    "reserve+settle, own tenant (async)",
                    reserve_settle_own_tenant,
                    iterations=args.iterations,
                    threads=threads,
                )
            )
        settings.BILLING_SYNCHRONOUS_CHARGES = True
        rows.append(
            measure(
                "billing per request",
                billing_per_request,
                iterations=args.iterations,
                threads=threads,
            )
        )
        rows.append(
            measure("reserve+release", reserve_release, iterations=args.iterations, threads=threads)
        )
        if redis_url:
            rows.append(
                measure(
                    "rate limit (redis)", rate_limit, iterations=args.iterations, threads=threads
                )
            )
        settings.REDIS_URL = ""
        rows.append(
            measure(
                "rate limit (database)", rate_limit, iterations=args.iterations, threads=threads
            )
        )
        settings.REDIS_URL = redis_url
    print(
        f"{'operation':<36}{'threads':>8}{'median ms':>12}{'p99 ms':>10}{'ops/s':>10}"
        f"{'db cpu ms':>11}"
    )
    for name, threads, median, p99, rate, database_ms in rows:
        print(f"{name:<36}{threads:>8}{median:>12.3f}{p99:>10.3f}{rate:>10.0f}{database_ms:>11.3f}")


if __name__ == "__main__":
    main()
