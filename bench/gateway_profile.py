"""Where one gateway request's time goes: `POST /v1/ocr` in-process under cProfile.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/gateway_profile.py \
        [--requests 300] [--top 25]

The same request as bench/gateway.py's gateway rows (DocsRouter, a small PNG, the model
`bench-0ms` on a fake OpenAI-compatible upstream answering in 0 ms in its own process,
billing on), sent straight to Django's WSGI handler in this process: no gunicorn and no
sockets on our side, so what is measured is the application's own work per request.
Prints the wall time per request, the share of each part of the flow (the cumulative
time of the function that does it, so parts never double count one another), and the
functions with the most time of their own. A throwaway tenant is deleted at the end.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import SECRET_ENV, UPSTREAM_KEY, setup_database, teardown_database  # noqa: E402

# (label, module file suffix, function name): each part's entry point on the request path.
PARTS = [
    ("key authentication (cached, or one query)", "keys/authentication.py", "authenticate"),
    ("rate limit: take a slot", "billing/ratelimit.py", "ratelimit_acquire"),
    ("rate limit: release the slot", "billing/ratelimit.py", "release"),
    ("parse the dialect's body", "ocr/dialects/docsrouter.py", "parse_body"),
    ("intake (decode, sniff, open)", "ocr/pipeline.py", "<intake>"),
    ("routing and prices", "ocr/routing.py", "route_candidates"),
    ("reservation (one statement)", "billing/reservations.py", "reservation_create"),
    ("upstream call (request, send, read, map)", "ocr/routing.py", "route_call"),
    ("settlement (one statement)", "billing/reservations.py", "reservation_settle"),
    ("render the dialect's answer", "ocr/dialects/docsrouter.py", "render"),
]


def _environ(body: bytes, secret: str) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/ocr",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _call(app, body: bytes, secret: str) -> int:
    status: list[str] = []
    chunks = app(_environ(body, secret), lambda s, h, exc_info=None: status.append(s))
    for _ in chunks:
        pass
    if hasattr(chunks, "close"):
        chunks.close()
    return int(status[0].split()[0])


def _cumulative(stats: pstats.Stats, suffix: str, name: str) -> float:
    total = 0.0
    for (filename, _, function), (_, _, _, cumtime, _) in stats.stats.items():
        if function == name and filename.endswith(suffix):
            total += cumtime
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ[SECRET_ENV] = UPSTREAM_KEY
    os.environ.setdefault("OCR_WARM_ON_START", "0")
    fakes_proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "gateway.py"), "--serve-fakes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    fakes = json.loads(fakes_proc.stdout.readline())
    orgs, secrets = setup_database({"0ms": fakes["0ms"]})
    try:
        from django.core.wsgi import get_wsgi_application

        from tests.fakes.documents import png_bytes

        app = get_wsgi_application()
        body = json.dumps(
            {"base64": base64.b64encode(png_bytes()).decode(), "model": "bench-0ms"}
        ).encode()
        for _ in range(30):  # warm: connections, prepared statements, caches
            status = _call(app, body, secrets[0])
            if status != 200:
                raise SystemExit(f"the gateway answered {status}, not 200")
        began = time.perf_counter()
        for _ in range(args.requests):
            _call(app, body, secrets[0])
        plain = (time.perf_counter() - began) / args.requests
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            _call(app, body, secrets[0])
        profile.disable()
        stats = pstats.Stats(profile)
        whole = _cumulative(stats, "django/core/handlers/wsgi.py", "__call__")
        print(
            f"gateway profile: {args.requests} requests of POST /v1/ocr (0 ms upstream), "
            f"{1000 * plain:.2f} ms a request without the profiler, "
            f"{1000 * whole / args.requests:.2f} ms under it"
        )
        print(f"{'part':<44} {'ms/req':>7} {'share':>6}")
        accounted = 0.0
        for label, suffix, name in PARTS:
            if name == "<intake>":
                spent = _cumulative(stats, "ocr/intake/sources.py", "source_load") + _cumulative(
                    stats, "ocr/intake/document.py", "document_open"
                )
            else:
                spent = _cumulative(stats, suffix, name)
            accounted += spent
            print(f"{label:<44} {1000 * spent / args.requests:>7.3f} {100 * spent / whole:>5.0f}%")
        rest = whole - accounted
        print(
            f"{'Django, DRF, middleware, response (rest)':<44} "
            f"{1000 * rest / args.requests:>7.3f} {100 * rest / whole:>5.0f}%"
        )
        print(f"\nfunctions with the most time of their own (of {args.requests} requests):")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue().split("\n", 6)[-1].rstrip())
    finally:
        fakes_proc.stdin.close()
        fakes_proc.wait(timeout=30)
        teardown_database(orgs)


if __name__ == "__main__":
    main()
