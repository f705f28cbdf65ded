"""config/gunicorn.py, read as gunicorn reads it."""

from __future__ import annotations

import runpy
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "config" / "gunicorn.py"


def test_no_control_socket_is_shared_with_other_servers_on_the_host(monkeypatch):
    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    assert runpy.run_path(str(CONFIG))["control_socket_disable"] is True

    monkeypatch.setenv("GUNICORN_CONTROL_SOCKET", "1")
    assert runpy.run_path(str(CONFIG))["control_socket_disable"] is False
