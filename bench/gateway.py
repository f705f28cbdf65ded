"""Gateway overhead: requests/s and added latency through gunicorn, against the upstream.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/gateway.py \
        [--duration 5] [--concurrency 1,8,32] [--workers 2] [--threads N] [--port 8765]

Starts, on 127.0.0.1:
  - a fake OpenAI-compatible upstream in its own process (tests/fakes/openai.py), twice:
    answering in 0 ms and in 200 ms;
  - gunicorn with config/gunicorn.py (2 workers), the two fakes configured as providers
    of the models `bench-0ms` and `bench-200ms`, with token prices;
and measures, at each concurrency, for a small PNG:
  - direct: the chat completion our provider would send, straight to the fake;
  - gateway: `POST /v1/ocr` (DocsRouter) through the whole stack with billing on
    (key auth, rate limit, intake, route, reserve, upstream call, settle, render);
  - bare: a Django view with no auth, database or upstream (BENCH_BARE_VIEW=1): the
    ceiling of Django + gunicorn on this machine;
  - proxy: a Django view that makes only the upstream call a gateway request makes (the
    same provider client and transport, to the 0 ms fake) and nothing else: the ceiling
    of any gateway in front of that upstream on these cores (ocr/bench_views.py).
Prints one table. The load generator is this process (one thread per concurrent client,
keep-alive connections, the standard library's http.client), so it shares the machine's
cores with what it measures; the comparison that matters is direct vs gateway under the
same load generator. "db cpu ms" is what the PostgreSQL server processes spent per
gateway request.
A throwaway tenant and the bench providers are deleted at the end.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

UPSTREAM_KEY = "sk-bench-upstream-0123456789"
SECRET_ENV = "BENCH_UPSTREAM_KEY"


# --- the fake upstreams, in their own process -----------------------------------------
def serve_fakes() -> None:
    from tests.fakes.openai import FakeOpenAI

    fast = FakeOpenAI(api_key=UPSTREAM_KEY, latency_s=0.0).start()
    slow = FakeOpenAI(api_key=UPSTREAM_KEY, latency_s=0.2).start()
    for fake in (fast, slow):
        fake.record = False
    print(json.dumps({"0ms": fast.base_url, "200ms": slow.base_url}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    fast.stop()
    slow.stop()


# --- load generation -------------------------------------------------------------------
def load(
    *,
    url: str,
    body: bytes,
    headers: dict,
    concurrency: int,
    duration: float,
    warmup: float,
    secrets: list[str] | None = None,
) -> dict:
    import http.client
    from urllib.parse import urlsplit

    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    start_at = time.monotonic() + warmup
    stop_at = start_at + duration
    target = urlsplit(url)

    def client_loop(number: int) -> None:
        # http.client rather than httpx: the load generator shares the CPUs with what it
        # measures, and the standard library's client costs a third of httpx's CPU.
        mine: list[float] = []
        failed = 0
        mine_headers = dict(headers)
        if secrets:  # client n uses key n mod len(secrets)
            mine_headers["Authorization"] = f"Bearer {secrets[number % len(secrets)]}"
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30.0)
        while True:
            began = time.monotonic()
            if began >= stop_at:
                break
            try:
                connection.request("POST", target.path, body=body, headers=mine_headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()  # reconnects on the next request
            ended = time.monotonic()
            if began >= start_at and ended <= stop_at:
                if ok:
                    mine.append(ended - began)
                else:
                    failed += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors.append(failed)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    count = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(count - 1, int(p * count))] * 1000 if count else float("nan")

    return {
        "rps": count / duration,
        "p50": statistics.median(latencies) * 1000 if count else float("nan"),
        "p99": pct(0.99),
        "errors": sum(errors),
        "n": count,
    }


# --- setup -----------------------------------------------------------------------------
def setup_database(fakes: dict[str, str], *, tenants: int = 1):
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.ids import random_base62
    from accounts.services import tenant_create
    from billing.services import credits_add
    from keys.services import api_key_create
    from ocr.models import Provider, ProviderModel

    orgs, secrets = [], []
    run = random_base62(6).lower()
    for number in range(tenants):
        slug = f"bench-gw-{run}-{number}"
        org = tenant_create(slug=slug, owner_email=f"{slug}@bench.invalid", password=None)
        credits_add(organization=org, amount_micros=10**12, idempotency_key=f"{slug}-fund")
        _, secret = api_key_create(
            organization=org, name="bench", rate_limit_rpm=1_000_000, max_in_flight=10_000
        )
        orgs.append(org)
        secrets.append(secret)
    for latency, base_url in fakes.items():
        provider, _ = Provider.objects.update_or_create(
            slug=f"bench-{latency}",
            defaults={
                "kind": "openai_compatible",
                "base_url": base_url,
                "secret_env": SECRET_ENV,
                "timeout_s": 30,
                "priority": 1,
                "enabled": True,
            },
        )
        ProviderModel.objects.update_or_create(
            provider=provider,
            name=f"bench-{latency}",
            defaults={
                "upstream_model": "gpt-4o-mini",
                "input_per_mtok_micros": 150_000,
                "output_per_mtok_micros": 600_000,
                "enabled": True,
            },
        )
    return orgs, secrets


def teardown_database(orgs) -> None:
    from billing.models import LedgerEntry, UsageRecord
    from ocr.models import Provider

    for org in orgs:
        # A throwaway tenant: its append-only ledger goes with it.
        LedgerEntry.objects.filter(organization=org).delete()
        UsageRecord.objects.filter(organization=org).delete()
        org.delete()
    Provider.objects.filter(slug__in=["bench-0ms", "bench-200ms"]).delete()


def cpu_seconds(master_pid: int) -> float:
    """User + system CPU seconds used so far by gunicorn's workers (Linux /proc)."""
    try:
        with open(f"/proc/{master_pid}/task/{master_pid}/children") as handle:
            pids = [int(pid) for pid in handle.read().split()]
    except OSError:
        return float("nan")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def database_cpu_ticks() -> dict[int, int]:
    """{pid: user + system CPU ticks so far} of every PostgreSQL server process on this
    host (Linux /proc; empty when none is visible): what the queries cost the database."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                head, _, tail = handle.read().rpartition(")")
        except OSError:
            continue
        if head.endswith("(postgres"):
            fields = tail.split()
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
    return ticks


def database_cpu_since(before: dict[int, int]) -> float:
    """CPU seconds the PostgreSQL processes used since `before` (a backend that exited
    in between takes its share with it: an undercount, never a negative)."""
    after = database_cpu_ticks()
    used = sum(max(0, ticks - before.get(pid, 0)) for pid, ticks in after.items())
    return used / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer on {url}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-fakes", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="GUNICORN_THREADS")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--upstreams", default="0ms,200ms")
    parser.add_argument(
        "--tenants", type=int, default=1, help="spread the clients over this many tenants' keys"
    )
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--gunicorn-log", default="", help="file for gunicorn's own output")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run gunicorn, the fakes and the load generator at this niceness (negative "
        "needs root): keeps a shared machine's other work from deciding the figures",
    )
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)  # inherited by gunicorn and the fakes' process
    if args.serve_fakes:
        serve_fakes()
        return

    fakes_proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-fakes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    fakes = json.loads(fakes_proc.stdout.readline())
    orgs, secrets = setup_database(fakes, tenants=args.tenants)
    from django.conf import settings
    from django.db import connection

    from ocr.providers.openai_compatible import OCR_INSTRUCTION
    from tests.fakes.documents import png_bytes

    env = {
        **os.environ,
        "PORT": str(args.port),
        "WEB_CONCURRENCY": str(args.workers),
        "BENCH_BARE_VIEW": "1",
        "BENCH_PROXY_UPSTREAM": fakes["0ms"],
        "BENCH_PROXY_SECRET_ENV": SECRET_ENV,
        SECRET_ENV: UPSTREAM_KEY,
        "LOG_LEVEL": "ERROR",
        # The bench never runs the local engine: do not spend CPU warming its pool.
        "OCR_WARM_ON_START": "0",
    }
    if args.threads:
        env["GUNICORN_THREADS"] = str(args.threads)
    log = open(args.gunicorn_log, "w") if args.gunicorn_log else subprocess.DEVNULL  # noqa: SIM115
    gunicorn = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_ready(base + "/healthz")
        image = png_bytes()
        data_url = "data:image/png;base64," + base64.b64encode(image).decode()
        direct_body = json.dumps(
            {
                "model": "gpt-4o-mini",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": OCR_INSTRUCTION},
                            {"type": "image_url", "image_url": {"url": data_url}},
                        ],
                    }
                ],
                "temperature": 0,
            }
        ).encode()
        json_headers = {"Content-Type": "application/json"}
        levels = [int(c) for c in args.concurrency.split(",")]
        threads = env.get("GUNICORN_THREADS") or __import__("config.gunicorn").gunicorn.threads
        print(
            f"gateway bench: {args.workers} gunicorn workers (gthread, threads={threads}), "
            f"niceness {os.nice(0)}, load average {os.getloadavg()[0]:.1f}, "
            f"{args.tenants} tenant(s), "
            f"database {connection.vendor}, cache {'redis' if settings.REDIS_URL else 'file'}, "
            f"{args.duration:.0f} s per run after {args.warmup:.0f} s warm-up, {os.cpu_count()} CPUs"
        )
        header = (
            f"{'upstream':>8} {'c':>3} {'target':>8} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'err':>4} {'added p50':>9} {'added p99':>9} {'of direct':>9} {'cpu ms/req':>9} "
            f"{'db cpu ms':>9}"
        )
        print(header)
        print("-" * len(header))
        run = dict(duration=args.duration, warmup=args.warmup)
        target_line = ""
        zero_ms: dict[int, dict] = {}  # the 0 ms gateway runs, by concurrency
        shares: list[str] = []
        for latency in args.upstreams.split(","):
            gateway_body = json.dumps(
                {"base64": base64.b64encode(image).decode(), "model": f"bench-{latency}"}
            ).encode()
            for c in levels:
                direct = load(
                    url=fakes[latency] + "/chat/completions",
                    body=direct_body,
                    headers={**json_headers, "Authorization": f"Bearer {UPSTREAM_KEY}"},
                    concurrency=c,
                    **run,
                )
                cpu_before = cpu_seconds(gunicorn.pid)
                db_before = database_cpu_ticks()
                gateway = load(
                    url=base + "/v1/ocr",
                    body=gateway_body,
                    headers=json_headers,
                    secrets=secrets,
                    concurrency=c,
                    **run,
                )
                served = gateway["n"] * (args.duration + args.warmup) / args.duration
                gateway["cpu_ms"] = 1000 * (cpu_seconds(gunicorn.pid) - cpu_before) / served
                gateway["db_cpu_ms"] = 1000 * database_cpu_since(db_before) / served
                if latency == "0ms":
                    zero_ms[c] = gateway
                inside = _recorded_latencies(orgs, model=f"bench-{latency}")
                print(_row(latency, c, "direct", direct))
                print(_row(latency, c, "gateway", gateway, direct))
                print(
                    f"{'':>22} pipeline p50 {inside[0]:.0f} ms, of which upstream p50 "
                    f"{inside[1]:.0f} ms (request log)"
                )
                sys.stdout.flush()
                if latency == "200ms" and c == 32:
                    share = 100 * gateway["rps"] / direct["rps"]
                    verdict = "met" if share >= 90 else "NOT met"
                    target_line = (
                        f"target (c=32, 200 ms: >= 90% of direct): {share:.0f}%, {verdict}"
                    )
        if not args.skip_bare:
            proxy_body = json.dumps({"base64": base64.b64encode(image).decode()}).encode()
            for c in levels:
                bare = load(
                    url=base + "/bench/bare",
                    body=b'{"ping": 1}',
                    headers=json_headers,
                    concurrency=c,
                    **run,
                )
                cpu_before = cpu_seconds(gunicorn.pid)
                proxy = load(
                    url=base + "/bench/proxy",
                    body=proxy_body,
                    headers=json_headers,
                    concurrency=c,
                    **run,
                )
                served = proxy["n"] * (args.duration + args.warmup) / args.duration
                proxy["cpu_ms"] = 1000 * (cpu_seconds(gunicorn.pid) - cpu_before) / served
                proxy["db_cpu_ms"] = 0.0
                print(_row("-", c, "bare", bare))
                print(_row("0ms", c, "proxy", proxy))
                gateway = zero_ms.get(c)
                if gateway:
                    shares.append(
                        f"c={c}: gateway {100 * gateway['rps'] / bare['rps']:.0f}% of bare, "
                        f"proxy {100 * proxy['rps'] / bare['rps']:.0f}% of bare, "
                        f"gateway {100 * gateway['rps'] / proxy['rps']:.0f}% of proxy"
                    )
                sys.stdout.flush()
        for line in shares:
            print(line)
        if target_line:
            print(target_line)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        fakes_proc.stdin.close()
        fakes_proc.wait(timeout=30)
        teardown_database(orgs)


def _recorded_latencies(orgs, *, model: str) -> tuple[float, float]:
    """Median pipeline and upstream latency of the last run, from the request log."""
    from billing.models import UsageRecord

    done = UsageRecord.objects.filter(organization__in=orgs, model=model)
    rows = list(done.values_list("latency_ms", "upstream_latency_ms"))
    done.update(model=f"{model}-done")
    if not rows:
        return float("nan"), float("nan")
    return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)


def _row(latency: str, c: int, target: str, m: dict, direct: dict | None = None) -> str:
    row = (
        f"{latency:>8} {c:>3} {target:>8} {m['rps']:>8.1f} {m['p50']:>8.1f} {m['p99']:>8.1f} "
        f"{m['errors']:>4}"
    )
    if direct:
        row += (
            f" {m['p50'] - direct['p50']:>9.1f} {m['p99'] - direct['p99']:>9.1f}"
            f" {100 * m['rps'] / direct['rps']:>8.0f}%"
        )
    if "cpu_ms" in m:
        row += f" {m['cpu_ms']:>9.1f} {m['db_cpu_ms']:>9.2f}"
    return row


if __name__ == "__main__":
    main()
