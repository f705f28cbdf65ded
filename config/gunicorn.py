"""gunicorn settings. Threads per worker so slow upstream calls do not block a worker."""

import os
from pathlib import Path

import environ

# gunicorn reads its variables (PORT, WEB_CONCURRENCY, GUNICORN_*) before Django's
# settings load .env: read it here too, so those in .env apply (the environment wins).
environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread with a per-read timeout on client sockets, so clients that stall mid-request
# cannot hold every thread (config/gunicorn_worker.py).
worker_class = "config.gunicorn_worker.TimedThreadWorker"
# A request waiting on a slow upstream holds its thread: with 8 threads x 2 workers a
# 200 ms upstream caps the host at 16 / 0.2 s = 80 requests/s whatever the CPU. 32 threads
# per worker leave room for uneven connection spread (docs/providers.md, bench/gateway.py).
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "180"))
graceful_timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
# gunicorn 25+ opens a control socket for `gunicornc` at one path per user
# (~/.gunicorn/gunicorn.ctl): a second server on the host (another port, a test run)
# took it over, and the first to stop deleted it under the other. Nothing here uses it.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "0") != "1"


def post_worker_init(worker):
    """Freeze what the loaded application holds out of the garbage collector's reach,
    start this worker's reservation sweeper, then its OCR pool, in the background."""
    if os.environ.get("GUNICORN_GC_FREEZE", "1") == "1":
        _freeze_loaded_application()
    _start_reservation_sweeper()
    if os.environ.get("OCR_WARM_ON_START", "1") != "1":
        return
    _warm_ocr_pool(worker)


def _freeze_loaded_application():
    """Import every view (through the URLconf), then move every object alive now into
    the collector's permanent generation (gc.freeze). A full collection otherwise walks
    the whole loaded Django application each time, holding the GIL for tens of
    milliseconds while every thread of the worker waits: the tail of the latency under
    load (docs/providers.md, bench/gateway.py)."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view
    gc.collect()
    gc.freeze()


def _start_reservation_sweeper():
    """Holds left by a worker that died mid-request are released without cron
    (billing/sweeper.py; RESERVATION_SWEEP_INTERVAL_S=0 turns it off)."""
    from billing.sweeper import sweeper_start

    sweeper_start()


def _warm_ocr_pool(worker):
    """The first OCR request does not pay for spawning the engine process and loading its
    models (several seconds)."""
    import threading

    def warm() -> None:
        try:
            from ocr.engine.pool import pool_get
            from ocr.engine.worker import peak_rss_mib

            pool_get().submit(peak_rss_mib).result(timeout=120)
        except Exception:  # noqa: BLE001 - warming is best effort; requests still work
            worker.log.warning("OCR pool warm-up failed", exc_info=True)

    threading.Thread(target=warm, name="ocr-warm", daemon=True).start()
