"""An upstream's Retry-After as an HTTP date is GMT, whatever the host's zone, also when
written with `-0000` (which Python reads as "no zone")."""

from __future__ import annotations

import os
import time
from email.utils import formatdate

import pytest

from ocr.providers.base import _retry_after_s


@pytest.fixture
def host_in_new_york():
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("zone", ["GMT", "+0000", "-0000"])
def test_a_date_ten_seconds_ahead_is_ten_seconds_whatever_the_hosts_zone(host_in_new_york, zone):
    date = formatdate(time.time() + 10, usegmt=True).replace("GMT", zone)

    assert 8 <= _retry_after_s(date) <= 10
