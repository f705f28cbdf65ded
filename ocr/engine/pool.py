"""The OCR worker pool: one per web process, created on first use, rebuilt after a failure.

Pages run in spawned processes so a page that crashes the engine, exhausts memory or
hangs takes down a worker, not the web process. A page that overruns its time limit
gets its pool's processes killed (a running onnxruntime call cannot be interrupted any
other way) and the next call builds a fresh pool. Other requests whose pages were queued
or running in the killed pool are not at fault: their unfinished pages run once more on
the fresh pool. A worker that crashed is different (the crashing page is not known), so
every request with pages in that pool gets `ocr_extraction_error`.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from django.conf import settings

from config.api import ApiError
from ocr.engine.images import PageDecodeError

EXTRACTION_ERROR = "ocr_extraction_error"
# A worker is replaced after this many pages, so slow leaks in native code stay bounded.
MAX_TASKS_PER_WORKER = 500

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def pool_get() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            from ocr.engine.worker import worker_init

            # Spawned workers inherit this; fewer glibc arenas keep a worker's heap from
            # growing with its thread count (~150 MiB in our measurements).
            os.environ.setdefault("MALLOC_ARENA_MAX", "2")

            _pool = ProcessPoolExecutor(
                max_workers=max(1, settings.OCR_WORKERS),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=worker_init,
                initargs=(max(1, settings.OCR_THREADS), float(settings.OCR_PAGE_TIMEOUT_S)),
                max_tasks_per_child=MAX_TASKS_PER_WORKER,
            )
        return _pool


def pool_discard(pool: ProcessPoolExecutor, *, overran: bool = False) -> None:
    """Kill `pool`'s workers and forget it, unless another thread already replaced it.

    `overran`: because one caller's page ran over its time limit, which the other callers
    with pages in this pool may retry.
    """
    global _pool
    if overran:
        pool.ocr_killed_for_overrun = True
    with _lock:
        if _pool is pool:
            _pool = None
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def pool_shutdown() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


class _KilledForAnother(Exception):
    """The pool was killed because another caller's page overran its time limit."""


def pool_map(
    fn: Callable[[Any], Any], items: Sequence[Any], *, timeout_s: float | None = None
) -> list[Any]:
    """Run fn over items in the pool, in order, each item within its own time limit.

    The limit runs from the moment the item could start: submission for the first
    OCR_WORKERS items, the previous item's completion for the rest. Items left unfinished
    when another caller's overrun killed the pool are run once more on a fresh pool.
    """
    if not items:
        return []
    timeout_s = float(settings.OCR_PAGE_TIMEOUT_S if timeout_s is None else timeout_s)
    results: list[Any] = []
    try:
        _pool_run(fn, items, timeout_s=timeout_s, results=results, retry_allowed=True)
    except _KilledForAnother:
        _pool_run(
            fn, items[len(results) :], timeout_s=timeout_s, results=results, retry_allowed=False
        )
    return results


def _pool_run(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    timeout_s: float,
    results: list[Any],
    retry_allowed: bool,
) -> None:
    pool = pool_get()

    def stopped(message: str) -> Exception:
        if retry_allowed and getattr(pool, "ocr_killed_for_overrun", False):
            return _KilledForAnother()
        pool_discard(pool)
        return ApiError(502, EXTRACTION_ERROR, message)

    try:
        futures: list[Future] = [pool.submit(fn, item) for item in items]
    except (BrokenProcessPool, RuntimeError) as exc:
        raise stopped("The OCR engine is restarting; try again.") from exc
    workers = max(1, settings.OCR_WORKERS)
    submitted = time.monotonic()
    finished: list[float] = []
    try:
        for position, future in enumerate(futures):
            # Item i can start once item i - workers is done: that is when its clock starts.
            clock = submitted if position < workers else finished[position - workers]
            try:
                remaining = timeout_s - (time.monotonic() - clock)
                results.append(future.result(timeout=max(0.0, remaining)))
            except FutureTimeout as exc:
                pool_discard(pool, overran=True)
                raise ApiError(
                    502,
                    EXTRACTION_ERROR,
                    f"Page {len(results) + 1} took longer than {timeout_s:g} s to read.",
                ) from exc
            except (BrokenProcessPool, CancelledError) as exc:
                raise stopped("The OCR worker stopped while reading a page.") from exc
            except PageDecodeError as exc:
                raise ApiError(
                    400,
                    "invalid_document",
                    "A page of the document is damaged and cannot be decoded.",
                ) from exc
            except ApiError:
                raise
            except Exception as exc:
                raise ApiError(
                    502, EXTRACTION_ERROR, f"The OCR engine failed on a page: {exc}"[:300]
                ) from exc
            finished.append(time.monotonic())
    finally:
        for future in futures:
            future.cancel()
