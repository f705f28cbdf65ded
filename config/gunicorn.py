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


def post_worker_init(worker):
    """Start this worker's OCR pool in the background, so the first OCR request does not
    pay for spawning the engine process and loading its models (several seconds)."""
    if os.environ.get("OCR_WARM_ON_START", "1") != "1":
        return
    import threading

    def warm() -> None:
        try:
            from ocr.engine.pool import pool_get
            from ocr.engine.worker import peak_rss_mib

            pool_get().submit(peak_rss_mib).result(timeout=120)
        except Exception:  # noqa: BLE001 - warming is best effort; requests still work
            worker.log.warning("OCR pool warm-up failed", exc_info=True)

    threading.Thread(target=warm, name="ocr-warm", daemon=True).start()
