"""gunicorn settings. Threads per worker so slow upstream calls do not block a worker."""

import os

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
# A request waiting on a slow upstream holds its thread: with 8 threads x 2 workers a
# 200 ms upstream caps the host at 16 / 0.2 s = 80 requests/s whatever the CPU. 32 threads
# per worker leave room for uneven connection spread (docs/providers.md, bench/gateway.py).
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "180"))
graceful_timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
