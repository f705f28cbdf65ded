"""Gateway A/B: two gunicorns side by side, alternating short load runs, medians.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/gateway_ab.py \
        --a "GUNICORN_GC_FREEZE=0" --b "GUNICORN_GC_FREEZE=1" \
        [--b-root /path/to/other/checkout] [--upstream 200ms] [--concurrency 32] \
        [--duration 4] [--runs 6] [--tenants 1]

This machine's speed drifts by tens of percent within an hour, so two configurations
measured one after the other (bench/gateway.py twice) differ by more than most changes
do. Here both gunicorns (2 workers each, config/gunicorn.py, the environment variables
given for A and for B added; B optionally from another checkout with the same database)
run at once against the same fake upstream and tenant, idle but for the run in progress,
and the load runs alternate A, B, B, A, A, B, … so that drift falls on both alike.
Prints each run and the medians: requests/s, client p50/p99, gunicorn and PostgreSQL CPU
per request.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench import gateway  # noqa: E402


def _assignments(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="", help="NAME=VALUE,… for gunicorn A")
    parser.add_argument("--b", default="", help="NAME=VALUE,… for gunicorn B")
    parser.add_argument("--b-root", default=str(ROOT), help="checkout gunicorn B runs from")
    parser.add_argument("--upstream", default="200ms", choices=["0ms", "200ms"])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=6, help="load runs per side")
    parser.add_argument("--tenants", type=int, default=1)
    parser.add_argument("--ports", default="8771,8772")
    args = parser.parse_args()

    fakes_process = subprocess.Popen(
        [sys.executable, gateway.__file__, "--serve-fakes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    fakes = json.loads(fakes_process.stdout.readline())
    orgs, secrets = gateway.setup_database(fakes, tenants=args.tenants)
    from tests.fakes.documents import png_bytes

    sides = {}
    ports = [int(port) for port in args.ports.split(",")]
    for (name, extra, root), port in zip(
        [("A", args.a, str(ROOT)), ("B", args.b, args.b_root)], ports, strict=True
    ):
        env = {
            **os.environ,
            "PORT": str(port),
            "WEB_CONCURRENCY": "2",
            gateway.SECRET_ENV: gateway.UPSTREAM_KEY,
            "LOG_LEVEL": "ERROR",
            "OCR_WARM_ON_START": "0",
            **_assignments(extra),
        }
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sides[name] = (process, port, extra)
    try:
        for _, port, _ in sides.values():
            gateway.wait_ready(f"http://127.0.0.1:{port}/healthz")
        body = json.dumps(
            {"base64": base64.b64encode(png_bytes()).decode(), "model": f"bench-{args.upstream}"}
        ).encode()
        results: dict[str, list[dict]] = {"A": [], "B": []}
        for run in range(args.runs):
            for name in ("A", "B") if run % 2 == 0 else ("B", "A"):
                process, port, _ = sides[name]
                cpu_before = gateway.cpu_seconds(process.pid)
                database_before = gateway.database_cpu_ticks()
                outcome = gateway.load(
                    url=f"http://127.0.0.1:{port}/v1/ocr",
                    body=body,
                    headers={"Content-Type": "application/json"},
                    secrets=secrets,
                    concurrency=args.concurrency,
                    duration=args.duration,
                    warmup=1.0,
                )
                served = max(1.0, outcome["n"] * (args.duration + 1.0) / args.duration)
                outcome["cpu"] = 1000 * (gateway.cpu_seconds(process.pid) - cpu_before) / served
                outcome["db"] = 1000 * gateway.database_cpu_since(database_before) / served
                results[name].append(outcome)
                print(
                    f"{name}  {outcome['rps']:7.1f} req/s  p50 {outcome['p50']:6.1f}  "
                    f"p99 {outcome['p99']:6.1f} ms  cpu {outcome['cpu']:.2f}  "
                    f"db {outcome['db']:.2f} ms/req  errors {outcome['errors']}",
                    flush=True,
                )
        print(f"{args.upstream} upstream, c={args.concurrency}, {args.runs} runs per side:")
        for name, (_, _, extra) in sides.items():
            done = results[name]

            def median(field: str, done=done) -> float:
                return statistics.median(outcome[field] for outcome in done)

            rates = [outcome["rps"] for outcome in done]
            print(
                f"{name} [{extra or 'defaults'}]: median {median('rps'):.1f} req/s "
                f"({min(rates):.1f}–{max(rates):.1f}), p50 {median('p50'):.1f} ms, "
                f"p99 {median('p99'):.1f} ms, cpu {median('cpu'):.2f} ms/req, "
                f"db {median('db'):.2f} ms/req"
            )
    finally:
        for process, _, _ in sides.values():
            process.terminate()
            process.wait(timeout=30)
        fakes_process.stdin.close()
        fakes_process.wait(timeout=30)
        gateway.teardown_database(orgs)


if __name__ == "__main__":
    main()
