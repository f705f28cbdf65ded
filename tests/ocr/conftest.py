"""Engine fixtures: one worker pool for the session, and the dialect tests' fixtures.
The scoring helpers and hand-made documents live in tests/ocr/documents.py."""

from __future__ import annotations

import pytest

from tests.ocr.documents import (  # noqa: F401 - the tests import them from here
    cer,
    image_bytes,
    make_pdf,
    normalize_words,
    png_header_only,
    sroie_reference,
    word_f1,
)


@pytest.fixture(scope="session", autouse=True)
def _ocr_pool_shutdown():
    """One worker pool for the whole session, stopped cleanly at the end."""
    yield
    from ocr.engine.pool import pool_shutdown

    pool_shutdown()


# The dialect tests' fixtures, for this folder only: their `client` is an authenticated
# one, which must not replace pytest-django's plain `client` in the rest of the suite (a
# module's `pytest_plugins` registers them for every test collected after it). Last in
# this file.
from tests.ocr.dialect_fixtures import (  # noqa: E402, F401
    broke_client,
    client,
    file_server,
    funded,
    limited_client,
    local_provider,
    management_client,
    secret,
)
