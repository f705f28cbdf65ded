"""A request's time for upstream calls, and the stop signal of a multi-page call.

`UpstreamBudget` starts when the router starts calling providers and lasts
`OCR_UPSTREAM_BUDGET_S` seconds: every try of every provider (retries and failover
included) fits in it, each try's timeout cut to what is left, and none starts once it is
spent. Without it a hung upstream held the client for its timeout times the tries, per
provider (3.5 minutes at the default 60 s timeout, before failover).

`pages()` gives one provider's page pool the same deadline with a stop signal of its own:
the first page that fails for good stops the others (no queued page starts, no retry of
an in-flight page), since the request will fail or fail over and redo every page anyway.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

clock = time.monotonic  # the transport's deadlines are on this clock too


class UpstreamBudget:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = clock() + seconds
        self._stop = threading.Event()

    @classmethod
    def from_settings(cls) -> UpstreamBudget:
        return cls(float(getattr(settings, "OCR_UPSTREAM_BUDGET_S", 120.0)))

    def remaining(self) -> float:
        return max(0.0, self.deadline - clock())

    def spent(self) -> bool:
        return self.remaining() <= 0

    def pages(self) -> UpstreamBudget:
        """The same deadline, with a stop signal for one call's pages only (failover to
        another provider is not stopped by it)."""
        child = UpstreamBudget(0)
        child.seconds, child.deadline = self.seconds, self.deadline
        return child

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds` (a backoff); False, at once, when they would outlast the budget,
        and as soon as the call is stopped."""
        if seconds >= self.remaining():
            return False
        return not self._stop.wait(seconds)
