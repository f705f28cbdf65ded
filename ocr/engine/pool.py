"""The OCR worker pool: one per web process, created on first use, rebuilt after a failure.

Pages run in spawned processes so a page that crashes the engine, exhausts memory or
hangs takes down a worker, not the web process. A page that overruns its time limit
gets its pool's processes killed (a running onnxruntime call cannot be interrupted any
other way) and the next call builds a fresh pool. Other requests whose pages were queued
or running in the killed pool are not at fault: their unfinished pages run once more on
the fresh pool. A worker that crashed is different (the crashing page is not known), so
every request with pages in that pool gets `ocr_extraction_error`; one that died while
idle is found by the next caller's first submission, which then runs on a fresh pool.

A page's time limit runs from when it starts, not from when it was queued: the pool
runs pages in submission order, so a page has started once fewer than OCR_WORKERS
unfinished pages (of any request) were submitted before it. A burst of requests
therefore queues instead of timing out the pages at the back of the queue (and killing
the page at its front, which was not at fault). A page still queued after
OCR_QUEUE_TIMEOUT_S is withdrawn and its request answered 503 `engine_busy`. A request
has at most OCR_WORKERS + 1 pages in the pool at a time, so concurrent requests take
turns page by page: one tenant's 1,000-page PDF does not hold up everyone else's receipt.
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
BUSY_ERROR = "engine_busy"
# How often a waiting caller looks again at its page (started yet? queued too long?).
_POLL_S = 0.25
# A worker is replaced after this many pages, so slow leaks in native code stay bounded.
MAX_TASKS_PER_WORKER = 500

_lock = threading.Lock()
_submit_lock = threading.Lock()
_queue_lock = threading.Lock()
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
            # Unfinished futures in submission order (each started one carries when).
            _pool.ocr_queue = []
            _pool.ocr_workers = max(1, settings.OCR_WORKERS)
        return _pool


def _queued(pool: ProcessPoolExecutor, fn: Callable[[Any], Any], item: Any) -> Future:
    """Submit one page, keeping the pool's submission order and start times."""
    with _submit_lock:  # the queue's order is the executor's
        future = pool.submit(fn, item)
        with _queue_lock:
            queue = pool.ocr_queue
            queue.append(future)
            if len(queue) <= pool.ocr_workers:
                future.ocr_started = time.monotonic()
    # Runs at once if the page is done already; never under our locks (the executor's
    # thread runs it when the page completes, holding locks of its own).
    future.add_done_callback(lambda done: _finished(pool, done))
    return future


def _finished(pool: ProcessPoolExecutor, future: Future) -> None:
    """A page is done: the first page queued behind the running ones starts now."""
    with _queue_lock:
        queue = pool.ocr_queue
        if future not in queue:
            return
        queue.remove(future)
        workers = pool.ocr_workers
        if len(queue) >= workers and not hasattr(queue[workers - 1], "ocr_started"):
            queue[workers - 1].ocr_started = time.monotonic()


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


class _BrokenBeforeUse(Exception):
    """The pool was found broken before any page of this caller went into it: a worker
    died while idle (killed, out of memory) and no caller had noticed yet."""


def pool_map(
    fn: Callable[[Any], Any], items: Sequence[Any], *, timeout_s: float | None = None
) -> list[Any]:
    """Run fn over items in the pool, in order, each item within its own time limit.

    The limit runs from the moment the item starts (see the module's docstring). Items
    left unfinished when another caller's overrun killed the pool are run once more on a
    fresh pool, as are all of them when the pool was broken before the first went in.
    """
    if not items:
        return []
    timeout_s = float(settings.OCR_PAGE_TIMEOUT_S if timeout_s is None else timeout_s)
    results: list[Any] = []
    try:
        _pool_run(fn, items, timeout_s=timeout_s, results=results, retry_allowed=True)
    except (_KilledForAnother, _BrokenBeforeUse):
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

    # A request keeps at most one page more than there are workers in the pool (the
    # workers never wait for its next page), so requests at the same time take turns
    # page by page instead of a long document holding the pool for all of its pages.
    window = pool.ocr_workers + 1
    queue_timeout = float(settings.OCR_QUEUE_TIMEOUT_S)
    futures: list[tuple[Future, float]] = []

    def submit_next() -> None:
        try:
            future = _queued(pool, fn, items[len(futures)])
        except (BrokenProcessPool, RuntimeError) as exc:
            if retry_allowed and not futures:
                # Nothing of ours ran in it: the next call's fresh pool runs it all.
                pool_discard(pool)
                raise _BrokenBeforeUse from exc
            raise stopped("The OCR engine is restarting; try again.") from exc
        futures.append((future, time.monotonic() + queue_timeout))

    try:
        while len(futures) < min(window, len(items)):
            submit_next()
        for position in range(len(items)):
            future, queued_until = futures[position]
            try:
                results.append(_result(future, timeout_s=timeout_s, queued_until=queued_until))
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
            if len(futures) < len(items):
                submit_next()
    finally:
        for future, _ in futures:
            future.cancel()


def _result(future: Future, *, timeout_s: float, queued_until: float) -> Any:
    """The page's result once it has run; FutureTimeout when it ran longer than
    `timeout_s`; 503 `engine_busy` when it had not started by `queued_until`."""
    while True:
        now = time.monotonic()
        started = getattr(future, "ocr_started", None)
        if started is None:
            if now < queued_until:
                wait = min(_POLL_S, queued_until - now)
            elif future.cancel():
                raise ApiError(
                    503,
                    BUSY_ERROR,
                    "The OCR engine is busy with other documents; try again shortly.",
                    headers={"Retry-After": "30"},
                )
            else:  # handed to a worker already: it starts as soon as one is free
                wait = _POLL_S
        else:
            remaining = timeout_s - (now - started)
            if remaining <= 0:
                raise FutureTimeout
            wait = min(_POLL_S, remaining)
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            continue
